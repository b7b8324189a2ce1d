/**
 * Checking a statement received from a peer (after parseSignedStatement has checked its shape):
 * its content rules, its proof, and its place in the chain. Every failed rule is reported with
 * its own code, and line rules with the line number, so that a dispute can say exactly what is
 * wrong. The same content rules run before this instance builds or signs a statement.
 */
import { MAX_AMOUNT_MICROS } from '../core/money.ts';
import { addMonths, isPeriod } from '../core/period.ts';
import { compareLines, isDigest, statementDigest } from './digest.ts';
import { isXsdDateTime, type ProofFailure, verifyProof } from './eddsa-jcs-2022.ts';
import type { SignedStatement, Statement } from './statement.ts';
import type { ParsedSignedStatement } from './statement-schema.ts';

export type StatementReasonCode =
  // the document
  | 'wrong_type'
  | 'wrong_version'
  | 'scale_not_6'
  | 'id_invalid'
  | 'issuer_invalid'
  | 'counterparty_invalid'
  | 'counterparty_is_issuer'
  | 'id_not_on_issuer'
  | 'sequence_invalid'
  | 'previous_missing'
  | 'previous_unexpected'
  | 'previous_invalid'
  | 'period_malformed'
  | 'currency_malformed'
  | 'issued_at_invalid'
  // its lines
  | 'line_numbering'
  | 'lines_not_sorted'
  | 'duplicate_creator'
  | 'creator_invalid'
  | 'account_invalid'
  | 'flattr_count_invalid'
  | 'flattr_set_digest_malformed'
  | 'amount_not_integer'
  | 'amount_too_large'
  // its summary
  | 'summary_line_count'
  | 'summary_flattr_count'
  | 'summary_total'
  // its proof
  | ProofFailure
  | 'wrong_proof_purpose'
  | 'verification_method_invalid'
  | 'verification_method_not_on_issuer'
  | 'verification_method_unexpected'
  // its place in the chain
  | 'chain_previous_unknown'
  | 'chain_sequence'
  | 'chain_previous_id'
  | 'chain_previous_digest'
  | 'chain_issuer'
  | 'chain_counterparty'
  | 'chain_currency'
  | 'chain_period_before_previous'
  | 'chain_period_gap'
  // a statement with more reasons than are worth listing
  | 'more_reasons';

export type StatementReason = {
  readonly code: StatementReasonCode;
  readonly message: string;
  /** The line (its position, 1-based) the reason is about. */
  readonly line?: number;
};

export type StatementCheck<T = undefined> =
  | (T extends undefined ? { readonly ok: true } : { readonly ok: true; readonly statement: T })
  | { readonly ok: false; readonly reasons: readonly StatementReason[] };

/** A statement of a million bad lines needs no million reasons to be refused. */
const MAX_REASONS = 1000;
const INTEGER_STRING = /^(0|[1-9][0-9]*)$/;
const CURRENCY = /^[A-Z]{3}$/;

export type VerifyOptions = {
  /** The issuer actor's Ed25519 public key, as the exchange resolved it from verificationMethod. */
  readonly publicKey: CryptoKey;
  /** When the caller knows which key must have signed, e.g. the one the issuer's actor lists. */
  readonly expectedVerificationMethod?: string;
};

/**
 * Verifies a parsed statement: content rules, proof options, and the Ed25519 proof. On success
 * answers the statement typed as a SignedStatement; the chain is checked separately (checkChain).
 */
export async function verifyStatement(signed: ParsedSignedStatement, options: VerifyOptions): Promise<StatementCheck<SignedStatement>> {
  const reasons = contentReasons(signed);
  reasons.push(...proofOptionReasons(signed, signed.proof));
  if (options.expectedVerificationMethod !== undefined && signed.proof.verificationMethod !== options.expectedVerificationMethod) {
    reasons.push({
      code: 'verification_method_unexpected',
      message: `signed by ${signed.proof.verificationMethod}, expected ${options.expectedVerificationMethod}`,
    });
  }
  const proof = await verifyProof(signed, options.publicKey);
  if (!proof.verified) reasons.push({ code: proof.failure, message: proof.message });
  // Every rule that the precise type states (literal type, version, scale, a well-formed period) has just held.
  return reasons.length === 0 ? { ok: true, statement: signed as unknown as SignedStatement } : { ok: false, reasons };
}

/**
 * The chain rules between a verified statement and the previous one between the same issuer
 * and counterparty (null when the receiver knows none). A statement may repeat the previous
 * period — a corrected statement takes the next sequence number for the same period — but may
 * not go back, nor skip a period: statements are issued every period so that a gap is visible.
 */
export function checkChain(signed: SignedStatement, previous: SignedStatement | null): StatementCheck {
  const reasons: StatementReason[] = [];
  if (previous === null) {
    if (signed.sequence !== 1 || signed.previous !== null) {
      reasons.push({ code: 'chain_previous_unknown', message: `statement ${signed.sequence} follows a statement this instance does not have` });
    }
    return result(reasons);
  }
  if (signed.sequence !== previous.sequence + 1) {
    reasons.push({ code: 'chain_sequence', message: `sequence ${signed.sequence} does not follow ${previous.sequence}` });
  }
  if (signed.previous?.id !== previous.id) {
    reasons.push({ code: 'chain_previous_id', message: `previous.id is ${signed.previous?.id ?? 'null'}, expected ${previous.id}` });
  }
  const digest = statementDigest(previous);
  if (signed.previous?.digest !== digest) {
    reasons.push({ code: 'chain_previous_digest', message: `previous.digest is ${signed.previous?.digest ?? 'null'}, expected ${digest}` });
  }
  for (const field of ['issuer', 'counterparty', 'currency'] as const) {
    if (signed[field] !== previous[field]) {
      reasons.push({ code: `chain_${field}`, message: `${field} changed from ${previous[field]} to ${signed[field]}` });
    }
  }
  if (signed.period < previous.period) {
    reasons.push({ code: 'chain_period_before_previous', message: `period ${signed.period} is before the previous statement's ${previous.period}` });
  } else if (signed.period !== previous.period && signed.period !== addMonths(previous.period, 1)) {
    reasons.push({ code: 'chain_period_gap', message: `period ${signed.period} skips the periods after ${previous.period}` });
  }
  return result(reasons);
}

/** The rules on the statement itself (not its proof). An empty list means it is consistent. */
export function contentReasons(doc: Statement | ParsedSignedStatement): StatementReason[] {
  const reasons: StatementReason[] = [];
  let unlisted = 0;
  const add = (code: StatementReasonCode, message: string, line?: number): void => {
    if (line !== undefined && reasons.length >= MAX_REASONS) unlisted++;
    else reasons.push(line === undefined ? { code, message } : { code, message, line });
  };

  if (doc.type !== 'FlattrStatement') add('wrong_type', `type must be FlattrStatement, got ${JSON.stringify(doc.type)}`);
  if (doc.version !== 1) add('wrong_version', `version must be 1, got ${doc.version}`);
  if (doc.scale !== 6) add('scale_not_6', `scale must be 6 (micro-units), got ${doc.scale}`);
  const issuer = normalUrl(doc.issuer);
  if (!issuer) add('issuer_invalid', `issuer must be an http(s) IRI in normal form, got ${JSON.stringify(doc.issuer)}`);
  if (!normalUrl(doc.counterparty)) add('counterparty_invalid', `counterparty must be an http(s) IRI in normal form, got ${JSON.stringify(doc.counterparty)}`);
  if (doc.counterparty === doc.issuer) add('counterparty_is_issuer', 'an instance does not issue statements to itself');
  const id = normalUrl(doc.id);
  if (!id) add('id_invalid', `id must be an http(s) IRI in normal form, got ${JSON.stringify(doc.id)}`);
  else if (issuer && id.origin !== issuer.origin) add('id_not_on_issuer', `id ${doc.id} is not on the issuer's origin ${issuer.origin}`);
  if (!Number.isSafeInteger(doc.sequence) || doc.sequence < 1) add('sequence_invalid', `sequence must be an integer from 1, got ${doc.sequence}`);
  if (doc.sequence === 1 && doc.previous !== null) add('previous_unexpected', 'the first statement has no previous statement');
  if (doc.sequence > 1 && doc.previous === null) add('previous_missing', `statement ${doc.sequence} must name the previous statement`);
  if (doc.previous !== null && (!normalUrl(doc.previous.id) || !isDigest(doc.previous.digest))) {
    add('previous_invalid', 'previous must have an IRI id and a sha-256=:...: digest');
  }
  if (!isPeriod(doc.period)) add('period_malformed', `period must be a month written YYYY-MM, got ${JSON.stringify(doc.period)}`);
  if (!CURRENCY.test(doc.currency)) add('currency_malformed', `currency must be an ISO 4217 code, got ${JSON.stringify(doc.currency)}`);
  if (!isXsdDateTime(doc.issuedAt)) add('issued_at_invalid', `issuedAt must be a date-time, got ${JSON.stringify(doc.issuedAt)}`);

  let sorted = true;
  let flattrCount = 0;
  let total = 0n;
  let linesAreIntegers = true;
  doc.lines.forEach((line, index) => {
    const position = index + 1;
    if (line.n !== position) add('line_numbering', `line ${position} is numbered ${line.n}`, position);
    if (!normalUrl(line.creator)) add('creator_invalid', `creator must be an http(s) IRI in normal form, got ${JSON.stringify(line.creator)}`, position);
    if (line.account !== undefined && !normalUrl(line.account)) {
      add('account_invalid', `account must be an http(s) IRI in normal form, got ${JSON.stringify(line.account)}`, position);
    }
    // Strictly ascending lines are also distinct, so the usual case needs no set of line keys.
    const order = index === 0 ? -1 : compareLines(doc.lines[index - 1] as LineKey, line);
    if (order === 0) add('duplicate_creator', `${lineName(line)} has more than one line`, position);
    if (order > 0) {
      sorted = false;
      add('lines_not_sorted', 'lines must be sorted by creator IRI (code point order), then by claimed account', position);
    }
    if (!Number.isSafeInteger(line.flattrCount) || line.flattrCount < 1) {
      add('flattr_count_invalid', `flattrCount must be an integer from 1, got ${line.flattrCount}`, position);
    } else {
      flattrCount += line.flattrCount;
    }
    if (!isDigest(line.flattrSetDigest)) add('flattr_set_digest_malformed', 'flattrSetDigest must be sha-256=:<base64>:', position);
    if (!INTEGER_STRING.test(line.amount)) {
      linesAreIntegers = false;
      add('amount_not_integer', `amount must be a non-negative integer string of micro-units, got ${JSON.stringify(line.amount)}`, position);
    } else {
      const amount = BigInt(line.amount);
      if (amount > MAX_AMOUNT_MICROS) add('amount_too_large', `amount ${line.amount} is larger than any wallet can hold`, position);
      total += amount;
    }
  });

  if (!sorted) {
    const seen = new Set<string>();
    doc.lines.forEach((line, index) => {
      const key = `${line.creator} ${line.account ?? ''}`;
      const previous = doc.lines[index - 1];
      if (seen.has(key) && (previous === undefined || compareLines(previous, line) !== 0))
        add('duplicate_creator', `${lineName(line)} has more than one line`, index + 1);
      seen.add(key);
    });
  }

  if (doc.summary.lineCount !== doc.lines.length) {
    add('summary_line_count', `summary.lineCount is ${doc.summary.lineCount}, the statement has ${doc.lines.length} lines`);
  }
  if (doc.summary.flattrCount !== flattrCount) {
    add('summary_flattr_count', `summary.flattrCount is ${doc.summary.flattrCount}, the lines add up to ${flattrCount}`);
  }
  if (!INTEGER_STRING.test(doc.summary.total)) {
    add('summary_total', `summary.total must be a non-negative integer string, got ${JSON.stringify(doc.summary.total)}`);
  } else if (linesAreIntegers && BigInt(doc.summary.total) !== total) {
    add('summary_total', `summary.total is ${doc.summary.total}, the lines add up to ${total}`);
  }
  if (unlisted > 0) add('more_reasons', `and ${unlisted} more reasons about lines`);
  return reasons;
}

type LineKey = { creator: string; account?: string };

function lineName(line: LineKey): string {
  return line.account === undefined ? line.creator : `${line.creator} (claimed ${line.account})`;
}

/** The rules on the proof's options: purpose, and a key on the issuer's own origin. */
export function proofOptionReasons(doc: Statement | ParsedSignedStatement, proof: { proofPurpose: string; verificationMethod: string }): StatementReason[] {
  const reasons: StatementReason[] = [];
  if (proof.proofPurpose !== 'assertionMethod') {
    reasons.push({ code: 'wrong_proof_purpose', message: `proofPurpose must be assertionMethod, got ${JSON.stringify(proof.proofPurpose)}` });
  }
  const method = URL.parse(proof.verificationMethod);
  const issuer = normalUrl(doc.issuer);
  if (!method || (method.protocol !== 'https:' && method.protocol !== 'http:')) {
    reasons.push({
      code: 'verification_method_invalid',
      message: `verificationMethod must be an http(s) key IRI, got ${JSON.stringify(proof.verificationMethod)}`,
    });
  } else if (issuer && method.origin !== issuer.origin) {
    // A key elsewhere only *claims* to be the issuer's; only the issuer's origin can vouch for it.
    reasons.push({ code: 'verification_method_not_on_issuer', message: `key ${proof.verificationMethod} is not on the issuer's origin ${issuer.origin}` });
  }
  return reasons;
}

/**
 * IRIs are compared as strings (across the chain, in reconciliation), so they must be written
 * the way the URL parser writes them: "https://B.example" or "https://b.example" are refused in
 * favour of "https://b.example/".
 */
function normalUrl(value: string): URL | null {
  const url = URL.parse(value);
  if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:')) return null;
  return url.href === value ? url : null;
}

function result(reasons: StatementReason[]): StatementCheck {
  return reasons.length === 0 ? { ok: true } : { ok: false, reasons };
}
