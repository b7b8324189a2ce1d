/**
 * The shape of a signed statement as it arrives from a peer, checked before anything else looks
 * at it. Only JSON types and sizes are checked here; the values (type, version, scale, period,
 * amounts, totals...) are checked by verifyStatement, which can name each failed rule.
 *
 * Objects are strict: every property is covered by the signature, so a property this version
 * does not know would be signed data that nobody checks. Nothing is transformed or defaulted,
 * so the parsed value canonicalizes to exactly what the issuer signed.
 */
import { z } from 'zod';
import { AppError } from '../core/errors.ts';

export const MAX_LINES = 1_000_000;
const MAX_IRI_LENGTH = 2048;
/** Short values: type names, periods, currencies, dates, digests, amounts (a total of a million lines fits in 40 digits). */
const MAX_SHORT_LENGTH = 100;
/** A 64-byte signature is about 88 base58 characters. */
const MAX_PROOF_VALUE_LENGTH = 200;

const iri = z.string().min(1).max(MAX_IRI_LENGTH);
const short = z.string().max(MAX_SHORT_LENGTH);
// z.int() admits only safe integers: a sequence of 2^53 + 1 would not survive JCS.
const count = z.int();
// Small enough that a million of them still add up exactly in a double (2^31 * 10^6 < 2^53).
const lineFlattrCount = z.int().max(2 ** 31);

const lineSchema = z.strictObject({
  n: count,
  creator: iri,
  account: iri.optional(),
  flattrCount: lineFlattrCount,
  flattrSetDigest: short,
  amount: short,
});

export const signedStatementSchema = z.strictObject({
  type: short,
  version: count,
  id: iri,
  issuer: iri,
  counterparty: iri,
  sequence: count,
  previous: z.strictObject({ id: iri, digest: short }).nullable(),
  period: short,
  currency: short,
  scale: count,
  lines: z.array(lineSchema).max(MAX_LINES),
  summary: z.strictObject({ lineCount: count, flattrCount: count, total: short }),
  issuedAt: short,
  proof: z.strictObject({
    type: short,
    cryptosuite: short,
    verificationMethod: iri,
    proofPurpose: short,
    created: short,
    proofValue: z.string().max(MAX_PROOF_VALUE_LENGTH),
  }),
});

/** A statement whose shape is right but whose content and proof are not verified yet. */
export type ParsedSignedStatement = z.infer<typeof signedStatementSchema>;

/** Checks the shape of a received statement (already JSON-parsed); throws `invalid_request` naming the first problems. */
export function parseSignedStatement(json: unknown): ParsedSignedStatement {
  const parsed = signedStatementSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.slice(0, 10).map((issue) => ({ path: formatPath(issue.path), message: issue.message }));
  throw new AppError('invalid_request', `not a settlement statement: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, {
    issues,
    issueCount: parsed.error.issues.length,
  });
}

function formatPath(path: readonly PropertyKey[]): string {
  return `$${path.map((key) => (typeof key === 'number' ? `[${key}]` : `.${String(key)}`)).join('')}`;
}
