/**
 * ISO 11649 creditor references ("RF" + two check digits + up to 21 letters and digits), the
 * structured reference SEPA transfers carry end to end. Each member gets one, permanently; a
 * reference is checked (mod 97, as IBANs are) wherever it is typed or read from a statement, so a
 * mistyped character or two swapped ones never credits someone else.
 *
 * Written by hand: ibantools checks IBANs and BICs but not creditor references, and the rule is
 * a dozen lines (the same mod 97 over letters as numbers, A = 10 … Z = 35).
 */
import { randomInt } from 'node:crypto';
import { AppError } from '../core/errors.ts';

const BODY_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
/**
 * Members' references have a body of this many digits: 10^12 of them, RF + 2 + 12 = 16 long, like
 * the standard's example. Digits only, because then mod 97 catches every single mistyped digit
 * and every swap of two neighbours (a letter counts as two digits, and with letters some typos
 * slip through).
 */
export const MEMBER_REFERENCE_BODY_LENGTH = 12;
const REFERENCE_PATTERN = /^RF[0-9]{2}[0-9A-Z]{1,21}$/;

/** The remainder mod 97 of a string of letters and digits read as a number, letters as 10 … 35. */
function mod97(text: string): number {
  let remainder = 0;
  for (const char of text) {
    const value = BODY_ALPHABET.indexOf(char);
    if (value < 0) throw new RangeError(`not a letter or digit: ${char}`);
    remainder = value < 10 ? (remainder * 10 + value) % 97 : (remainder * 100 + value) % 97;
  }
  return remainder;
}

/** The two check digits for a body: 98 - (body + "RF00") mod 97. */
export function rfCheckDigits(body: string): string {
  if (!/^[0-9A-Z]{1,21}$/.test(body)) throw new RangeError(`a creditor reference body is 1 to 21 letters and digits, got "${body}"`);
  return String(98 - mod97(`${body}RF00`)).padStart(2, '0');
}

export function makeRfReference(body: string): string {
  return `RF${rfCheckDigits(body)}${body}`;
}

/** "rf18 5390 0754 7034" → "RF18539007547034": spaces gone, upper case. */
export function electronicRf(text: string): string {
  return text.replace(/\s+/g, '').toUpperCase();
}

/** Whether `text` (electronic format) is a well-formed reference whose check digits match. */
export function isValidRfReference(text: string): boolean {
  if (!REFERENCE_PATTERN.test(text)) return false;
  return mod97(`${text.slice(4)}${text.slice(0, 4)}`) === 1;
}

/**
 * A typed reference (spaces and case as people write them) in electronic format, or
 * `invalid_reference` saying what is wrong with it.
 */
export function parseRfReference(input: unknown, field = 'reference'): string {
  if (typeof input !== 'string' || input.length > 60) {
    throw new AppError('invalid_reference', `${field} must be a creditor reference such as "RF18 5390 0754 7034"`, { field });
  }
  const reference = electronicRf(input);
  if (!REFERENCE_PATTERN.test(reference)) {
    throw new AppError('invalid_reference', `${field} must be "RF", two check digits and 1 to 21 letters or digits, got "${input.slice(0, 40)}"`, { field });
  }
  if (!isValidRfReference(reference)) {
    throw new AppError('invalid_reference', `the check digits of ${field} "${reference}" do not match: a character is mistyped or two are swapped`, { field });
  }
  return reference;
}

/** Groups of four for people: "RF18 5390 0754 7034". */
export function friendlyRf(reference: string): string {
  return reference.replace(/(.{4})(?=.)/g, '$1 ');
}

/** A new random member reference (the caller makes sure it is unused). */
export function randomMemberReference(): string {
  let body = '';
  for (let i = 0; i < MEMBER_REFERENCE_BODY_LENGTH; i++) body += String(randomInt(10));
  return makeRfReference(body);
}

/**
 * Every valid member-length reference in free text (a bank's unstructured remittance line), in
 * order, without repeats. Spaces are ignored, since people and banks write "RF18 5390 …"; a
 * candidate must still pass the check digits, so words glued together rarely look like one, and
 * only references of members count in the end.
 */
export function findRfReferences(text: string): string[] {
  const compact = electronicRf(text);
  const length = 4 + MEMBER_REFERENCE_BODY_LENGTH;
  const found: string[] = [];
  for (let at = compact.indexOf('RF'); at >= 0 && at + length <= compact.length; at = compact.indexOf('RF', at + 1)) {
    const candidate = compact.slice(at, at + length);
    if (/^RF[0-9]+$/.test(candidate) && isValidRfReference(candidate) && !found.includes(candidate)) found.push(candidate);
  }
  return found;
}
