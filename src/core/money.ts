/**
 * Money is exact: amounts are bigint micro-units (10^-6 of the currency's major unit).
 * This file is the one place where decimal strings become micro-units and back.
 */
import { AppError } from './errors.ts';

export const MICROS_PER_UNIT = 1_000_000n;
/**
 * The ledger's one maximum: no balance of any account, either way, passes 10^12 major units
 * (10^18 micro-units). bigint (int8) holds 9.22 * 10^18, so the sum of two balances, or of a
 * balance and any amount this instance accepts, still fits: the headroom that lets a transfer
 * be checked before it is written. The database holds every balance to it (the constraint
 * account_balance_within_maximum, migrations/0011_trust_money.ts); a transfer that would pass it
 * is refused with 422 amount_too_large.
 */
export const MAX_BALANCE_MICROS = 1_000_000_000_000n * MICROS_PER_UNIT;
/** No single amount is larger than the largest balance. */
export const MAX_AMOUNT_MICROS = MAX_BALANCE_MICROS;

/** The refusal of a movement that would take a balance past the maximum. */
export function amountTooLarge(what = 'this movement'): AppError {
  return new AppError(
    'amount_too_large',
    `${what} would take a balance past the ledger's maximum of ${formatAmount(MAX_BALANCE_MICROS)}; nothing was recorded`,
    { maximum: formatAmount(MAX_BALANCE_MICROS) },
  );
}

/** Refuses (422 amount_too_large) when a balance after a movement would pass the maximum either way. */
export function checkBalanceAfter(balanceAfter: bigint, what?: string): void {
  if (balanceAfter > MAX_BALANCE_MICROS || balanceAfter < -MAX_BALANCE_MICROS) throw amountTooLarge(what);
}

const AMOUNT_PATTERN = /^(0|[1-9][0-9]{0,12})(?:\.([0-9]{1,6}))?$/;

/** Parses a decimal string such as "5.00" or "0.000001" into micro-units; anything else is `invalid_amount`. */
export function parseAmount(input: unknown, field = 'amount'): bigint {
  if (typeof input !== 'string') {
    throw new AppError('invalid_amount', `${field} must be a decimal string such as "5.00", got ${describe(input)}`);
  }
  const match = AMOUNT_PATTERN.exec(input);
  if (!match) {
    throw new AppError('invalid_amount', `${field} must be a non-negative decimal with at most six decimals, got "${truncate(input)}"`);
  }
  const units = BigInt(match[1] as string);
  const fraction = BigInt((match[2] ?? '').padEnd(6, '0'));
  const micros = units * MICROS_PER_UNIT + fraction;
  if (micros > MAX_AMOUNT_MICROS) {
    throw new AppError('invalid_amount', `${field} is larger than this instance accepts`);
  }
  return micros;
}

/** Parses an amount that must be strictly positive. */
export function parsePositiveAmount(input: unknown, field = 'amount'): bigint {
  const micros = parseAmount(input, field);
  if (micros === 0n) throw new AppError('invalid_amount', `${field} must be greater than zero`);
  return micros;
}

/** Formats micro-units as a decimal string with at least two decimals: 5000000n -> "5.00", 1n -> "0.000001". */
export function formatAmount(micros: bigint): string {
  const negative = micros < 0n;
  const abs = negative ? -micros : micros;
  const units = abs / MICROS_PER_UNIT;
  let fraction = (abs % MICROS_PER_UNIT).toString().padStart(6, '0');
  while (fraction.length > 2 && fraction.endsWith('0')) fraction = fraction.slice(0, -1);
  return `${negative ? '-' : ''}${units}.${fraction}`;
}

/**
 * Splits `total` into `n` shares that differ by at most one micro-unit and add up exactly to
 * `total`: each gets floor(total / n) and the first (total mod n) shares get one more.
 * The order of the result is the order of the flattrs (earliest first).
 */
export function splitEvenly(total: bigint, n: number): bigint[] {
  if (n <= 0) throw new RangeError('cannot split among zero recipients');
  if (total < 0n) throw new RangeError('cannot split a negative amount');
  const count = BigInt(n);
  const base = total / count;
  const remainder = Number(total % count);
  return Array.from({ length: n }, (_, i) => (i < remainder ? base + 1n : base));
}

/** Fees are expressed in parts per million of a share (10% = 100_000 ppm). */
export const PPM = 1_000_000n;

/** The instance fee on one share, rounded down. */
export function feeOf(share: bigint, feePpm: bigint): bigint {
  return (share * feePpm) / PPM;
}

/** Parses a percentage such as "10" or "7.5" into parts per million. */
export function percentToPpm(percent: string): bigint {
  const match = /^([0-9]{1,3})(?:\.([0-9]{1,4}))?$/.exec(percent);
  if (!match) throw new RangeError(`not a percentage: ${percent}`);
  return BigInt(match[1] as string) * 10_000n + BigInt((match[2] ?? '').padEnd(4, '0'));
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (typeof value === 'number') return `the number ${value} (send it as a string)`;
  return typeof value;
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}
