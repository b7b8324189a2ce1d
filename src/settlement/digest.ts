/**
 * The digests a statement carries, all written `sha-256=:<base64 of the 32 bytes>:` (the
 * structured-field byte sequence of RFC 9530 Digest Fields, base64 with padding).
 *
 * These are synchronous (node:crypto's one-shot `hash`, OpenSSL underneath) because they are
 * computed per line and in plain data code; the asynchronous WebCrypto is used where the
 * signature is made anyway (eddsa-jcs-2022.ts).
 */
import { hash } from 'node:crypto';
import { canonicalize } from './canonical.ts';
import type { SignedStatement, StatementReference } from './statement.ts';

export const DIGEST_PATTERN = /^sha-256=:[A-Za-z0-9+/]{43}=:$/;

export function isDigest(value: unknown): value is string {
  return typeof value === 'string' && DIGEST_PATTERN.test(value);
}

/** SHA-256 of `data` (a string is hashed as its UTF-8 bytes). */
export function sha256Digest(data: string | Uint8Array): string {
  return `sha-256=:${hash('sha256', data, 'base64')}:`;
}

/**
 * The digest of one line's set of flattr ids (the ids are the flattrs' own URLs, the ids of
 * the `Like` activities the counterparty received). Exact bytes hashed:
 *
 *   the ids sorted by Unicode code point (= by their UTF-8 bytes), each as UTF-8, joined by one
 *   "\n" (0x0A), with no trailing newline; the empty set hashes zero bytes.
 *
 * Code point order rather than JavaScript's default (UTF-16 code units) so that a peer in any
 * language gets the same bytes by sorting byte strings. An id that is empty, has a newline or a
 * lone surrogate, or appears twice would make the encoding ambiguous, so it is refused.
 */
export function flattrSetDigest(flattrIds: readonly string[]): string {
  let native = true;
  for (const id of flattrIds) {
    const high = HIGH_UNITS.test(id);
    if (id.length === 0 || id.includes('\n') || (high && !id.isWellFormed())) {
      throw new RangeError(`a flattr id must be non-empty, on one line and valid Unicode, got ${JSON.stringify(id.slice(0, 80))}`);
    }
    if (high) native = false;
  }
  const ids = native ? [...flattrIds].sort() : [...flattrIds].sort(compareByCodePoint);
  for (let i = 1; i < ids.length; i++) {
    if (ids[i] === ids[i - 1]) throw new RangeError(`flattr id ${ids[i]} appears twice in one line`);
  }
  return sha256Digest(ids.join('\n'));
}

/** The digest that the next statement's `previous.digest` carries: SHA-256 of the JCS of the whole signed document, proof included. */
export function statementDigest(signed: SignedStatement): string {
  return sha256Digest(canonicalize(signed));
}

/** What the next statement in the chain points back to. */
export function referenceTo(signed: SignedStatement): StatementReference {
  return { id: signed.id, digest: statementDigest(signed) };
}

/**
 * Sorts in place by Unicode code point. Strings without a code unit at or above U+D800 compare
 * the same by code units and by code points, so the common (ASCII URL) case uses the native sort.
 */
export function sortByCodePoint(strings: string[]): string[] {
  const native = strings.every((s) => !HIGH_UNITS.test(s));
  return native ? strings.sort() : strings.sort(compareByCodePoint);
}

const HIGH_UNITS = /[\uD800-\uFFFF]/;

export function compareByCodePoint(a: string, b: string): number {
  if (!HIGH_UNITS.test(a) && !HIGH_UNITS.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

// In well-formed UTF-16, the first differing code units order like the code points once the
// surrogates (D800-DFFF, which encode code points above FFFF) are moved above E000-FFFF.
function codePointRank(unit: number): number {
  if (unit >= 0xe000) return unit - 0x800;
  if (unit >= 0xd800) return unit + 0x2000;
  return unit;
}

/**
 * The order of lines: by creator IRI (code point order), a creator's own line before the lines
 * of accounts it claimed, those by account IRI. 0 means the same line key (a duplicate).
 */
export function compareLines(a: { creator: string; account?: string }, b: { creator: string; account?: string }): number {
  const byCreator = compareByCodePoint(a.creator, b.creator);
  if (byCreator !== 0) return byCreator;
  if (a.account === undefined || b.account === undefined) return a.account === b.account ? 0 : a.account === undefined ? -1 : 1;
  return compareByCodePoint(a.account, b.account);
}
