/**
 * IBANs, BICs and account holders' names as typed by people: checked with ibantools (country,
 * length, format and the mod 97 check digits), stored in electronic format, refused with a
 * message that says which part is wrong.
 */
import { electronicFormatIBAN, friendlyFormatIBAN, isValidBIC, ValidationErrorsIBAN, validateIBAN } from 'ibantools';
import { AppError } from '../core/errors.ts';

const IBAN_PROBLEMS: Record<number, string> = {
  [ValidationErrorsIBAN.NoIBANProvided]: 'is empty',
  [ValidationErrorsIBAN.NoIBANCountry]: 'does not start with a known country code',
  [ValidationErrorsIBAN.WrongBBANLength]: 'has the wrong length for its country',
  [ValidationErrorsIBAN.WrongBBANFormat]: 'does not have the format of its country',
  [ValidationErrorsIBAN.ChecksumNotNumber]: 'has no check digits after the country code',
  [ValidationErrorsIBAN.WrongIBANChecksum]: 'has check digits that do not match: a character is mistyped or two are swapped',
  [ValidationErrorsIBAN.WrongAccountBankBranchChecksum]: 'has a bank or branch number whose national check does not match',
  [ValidationErrorsIBAN.QRIBANNotAllowed]: 'is a QR-IBAN, which only takes QR-bill payments',
};

/** Why `input` is not an IBAN, or undefined when it is one. */
export function ibanProblem(input: string): string | undefined {
  const iban = electronicFormatIBAN(input) ?? '';
  const result = validateIBAN(iban);
  if (result.valid) return undefined;
  return IBAN_PROBLEMS[result.errorCodes[0] ?? ValidationErrorsIBAN.WrongBBANFormat] ?? 'is not an IBAN';
}

/** A typed IBAN ("DE89 3704 0044 …", any case) in electronic format, or `invalid_iban`. */
export function parseIban(input: unknown, field = 'iban'): string {
  if (typeof input !== 'string' || input.length > 60)
    throw new AppError('invalid_iban', `${field} must be an IBAN such as "DE89 3704 0044 0532 0130 00"`, { field });
  const problem = ibanProblem(input);
  if (problem) throw new AppError('invalid_iban', `the IBAN "${input.trim().slice(0, 42)}" ${problem}`, { field });
  return electronicFormatIBAN(input) as string;
}

/** The IBAN written for people, in groups of four. */
export function friendlyIban(iban: string): string {
  return friendlyFormatIBAN(iban) ?? iban;
}

/** A BIC (8 or 11 characters), upper case, or undefined when not a BIC. */
export function normalizeBic(input: string): string | undefined {
  const bic = input.replace(/\s+/g, '').toUpperCase();
  return isValidBIC(bic) ? bic : undefined;
}

/**
 * An account holder's name: 1 to 70 characters (what the EPC QR code and pain.001 carry), no
 * control characters. Stored as typed; the SEPA file writes it in the SEPA character set.
 */
export function parseHolder(input: unknown, field = 'holder'): string {
  const holder = typeof input === 'string' ? input.trim().replace(/\s+/g, ' ') : '';
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (holder.length === 0 || holder.length > 70 || /[\u0000-\u001f\u007f-\u009f]/.test(holder)) {
    throw new AppError('invalid_request', `${field} must be the account holder's name, 1 to 70 characters`, { field });
  }
  return holder;
}
