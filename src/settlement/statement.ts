/**
 * A settlement statement: what one instance owes another for one period, line by line per
 * creator, signed by the issuing instance actor's Ed25519 key (eddsa-jcs-2022). Building and
 * signing are pure: the caller brings the period's shares (from the close) and the key; storing
 * and delivering statements is the exchange's job.
 *
 * Amounts are integer strings of micro-units (scale 6), never JSON numbers: JCS reads numbers as
 * doubles, which cannot carry every amount exactly.
 */
import type { Period } from '../core/period.ts';
import { compareLines, flattrSetDigest } from './digest.ts';
import { CRYPTOSUITE, createProof, PROOF_TYPE } from './eddsa-jcs-2022.ts';
import { contentReasons, proofOptionReasons, type StatementReason } from './statement-check.ts';

export const STATEMENT_TYPE = 'FlattrStatement';
export const STATEMENT_VERSION = 1;
/** Amounts are in units of 10^-SCALE of the currency's major unit: micro-units. */
export const STATEMENT_SCALE = 6;
export const PROOF_PURPOSE = 'assertionMethod';

export type StatementLine = {
  /** 1..lineCount, in the order of the lines. */
  readonly n: number;
  /** The creator's actor IRI, on the counterparty instance. */
  readonly creator: string;
  /**
   * Only on a line of held shares that the creator claimed: the fediverse account (elsewhere) the
   * flattrs went to, whose shares were held as unclaimed until the creator linked it. Its Likes
   * reached that account, not the counterparty, so the counterparty checks the link instead.
   */
  readonly account?: string;
  readonly flattrCount: number;
  /** flattrSetDigest() of the ids of this line's flattrs. */
  readonly flattrSetDigest: string;
  /** Micro-units as a non-negative integer string. */
  readonly amount: string;
};

export type StatementReference = { readonly id: string; readonly digest: string };

export type StatementSummary = { readonly lineCount: number; readonly flattrCount: number; readonly total: string };

/** The unsigned document: everything the proof covers. */
export type Statement = {
  readonly type: typeof STATEMENT_TYPE;
  readonly version: typeof STATEMENT_VERSION;
  readonly id: string;
  readonly issuer: string;
  readonly counterparty: string;
  readonly sequence: number;
  /** The statement before this one between the same issuer and counterparty; null for sequence 1. */
  readonly previous: StatementReference | null;
  readonly period: Period;
  readonly currency: string;
  readonly scale: typeof STATEMENT_SCALE;
  readonly lines: readonly StatementLine[];
  readonly summary: StatementSummary;
  readonly issuedAt: string;
};

export type StatementProof = {
  readonly type: typeof PROOF_TYPE;
  readonly cryptosuite: typeof CRYPTOSUITE;
  /** The IRI of the issuer's key, e.g. `https://a.example/actor#main-key`. */
  readonly verificationMethod: string;
  readonly proofPurpose: typeof PROOF_PURPOSE;
  readonly created: string;
  /** "z" + base58btc of the 64-byte Ed25519 signature. */
  readonly proofValue: string;
};

export type SignedStatement = Statement & { readonly proof: StatementProof };

/** What one creator is owed for the period, as the close computed it. */
export type CreatorShares = {
  readonly creator: string;
  /** Held shares of this account, claimed by the creator (see StatementLine.account). */
  readonly account?: string;
  /** The ids (URLs) of the flattrs the shares come from, as sent to the counterparty. */
  readonly flattrIds: readonly string[];
  readonly amountMicros: bigint;
};

export type StatementInput = {
  /** The statement's own IRI on the issuer's origin; the exchange is idempotent on it. */
  readonly id: string;
  readonly issuer: string;
  readonly counterparty: string;
  readonly sequence: number;
  /** referenceTo(the previous signed statement), or null for sequence 1. */
  readonly previous: StatementReference | null;
  readonly period: Period;
  readonly currency: string;
  readonly issuedAt: Date;
  /** In any order; one entry per creator (and claimed account). May be empty: a statement is issued every period. */
  readonly creators: readonly CreatorShares[];
};

export class StatementError extends Error {
  readonly reasons: readonly StatementReason[];

  constructor(what: string, reasons: readonly StatementReason[]) {
    super(
      `${what}: ${reasons
        .slice(0, 5)
        .map((r) => r.message)
        .join('; ')}${reasons.length > 5 ? `; and ${reasons.length - 5} more` : ''}`,
    );
    this.name = 'StatementError';
    this.reasons = reasons;
  }
}

/**
 * Builds the unsigned statement: one line per creator (and per account it claimed), sorted by
 * compareLines and numbered from 1, and a summary that is the exact bigint sum of the lines.
 * Throws StatementError if the result would not pass verifyStatement's content checks, so a
 * statement this instance issues is never one its peer must refuse.
 */
export function buildStatement(input: StatementInput): Statement {
  const sorted = [...input.creators].sort(compareLines);
  sorted.forEach((shares, index) => {
    const name = shares.account === undefined ? shares.creator : `${shares.creator} (claimed ${shares.account})`;
    if (index > 0 && compareLines(sorted[index - 1] as CreatorShares, shares) === 0) {
      throw new StatementError('cannot build the statement', [{ code: 'duplicate_creator', message: `${name} is given twice` }]);
    }
    if (shares.flattrIds.length === 0) {
      throw new StatementError('cannot build the statement', [{ code: 'flattr_count_invalid', message: `${name} has no flattrs` }]);
    }
  });

  let flattrCount = 0;
  let total = 0n;
  const lines = sorted.map((shares, index): StatementLine => {
    flattrCount += shares.flattrIds.length;
    total += shares.amountMicros;
    return {
      n: index + 1,
      creator: shares.creator,
      ...(shares.account === undefined ? {} : { account: shares.account }),
      flattrCount: shares.flattrIds.length,
      flattrSetDigest: flattrSetDigest(shares.flattrIds),
      amount: shares.amountMicros.toString(),
    };
  });

  const statement: Statement = {
    type: STATEMENT_TYPE,
    version: STATEMENT_VERSION,
    id: input.id,
    issuer: input.issuer,
    counterparty: input.counterparty,
    sequence: input.sequence,
    previous: input.previous === null ? null : { id: input.previous.id, digest: input.previous.digest },
    period: input.period,
    currency: input.currency,
    scale: STATEMENT_SCALE,
    lines,
    summary: { lineCount: lines.length, flattrCount, total: total.toString() },
    issuedAt: input.issuedAt.toISOString(),
  };
  const reasons = contentReasons(statement);
  if (reasons.length > 0) throw new StatementError('cannot build the statement', reasons);
  return statement;
}

export type StatementSigner = {
  /** The issuer instance actor's Ed25519 private key. */
  readonly privateKey: CryptoKey;
  /** The IRI of the matching public key, on the issuer's origin. */
  readonly verificationMethod: string;
};

/** Signs a statement with an eddsa-jcs-2022 Data Integrity proof (proofPurpose assertionMethod). */
export async function signStatement(statement: Statement, signer: StatementSigner, created: Date): Promise<SignedStatement> {
  if ('proof' in statement) throw new TypeError('the statement is already signed');
  const options = {
    type: PROOF_TYPE,
    cryptosuite: CRYPTOSUITE,
    verificationMethod: signer.verificationMethod,
    proofPurpose: PROOF_PURPOSE,
    created: created.toISOString(),
  } as const;
  const reasons = [...contentReasons(statement), ...proofOptionReasons(statement, options)];
  if (reasons.length > 0) throw new StatementError('refusing to sign the statement', reasons);
  const proof = await createProof(statement, options, signer.privateKey);
  return { ...statement, proof: { ...options, proofValue: proof.proofValue } };
}
