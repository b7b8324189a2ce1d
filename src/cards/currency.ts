/**
 * Stripe counts money in the currency's smallest unit (cents for EUR, yen for JPY, fils for KWD);
 * the ledger counts micro-units. These are the only conversions between the two, exact or refused.
 * The exponents are Stripe's own (docs.stripe.com/currencies), which differ from ISO 4217 in places.
 */
import { AppError } from '../core/errors.ts';
import { formatAmount, MICROS_PER_UNIT } from '../core/money.ts';

const ZERO_DECIMAL = new Set(['BIF', 'CLP', 'DJF', 'GNF', 'JPY', 'KMF', 'KRW', 'MGA', 'PYG', 'RWF', 'UGX', 'VND', 'VUV', 'XAF', 'XOF', 'XPF']);
const THREE_DECIMAL = new Set(['BHD', 'JOD', 'KWD', 'OMR', 'TND']);

/** Micro-units in one of Stripe's smallest units of `currency`. */
export function microsPerMinor(currency: string): bigint {
  const code = currency.toUpperCase();
  if (ZERO_DECIMAL.has(code)) return MICROS_PER_UNIT;
  if (THREE_DECIMAL.has(code)) return 1_000n;
  return 10_000n;
}

/** An amount in micro-units as Stripe's integer; an amount finer than the smallest unit is `invalid_amount`. */
export function toMinor(micros: bigint, currency: string): number {
  const step = microsPerMinor(currency);
  // Stripe takes three-decimal currencies only in multiples of ten of their smallest unit.
  const granularity = THREE_DECIMAL.has(currency.toUpperCase()) ? step * 10n : step;
  if (micros % granularity !== 0n) {
    throw new AppError('invalid_amount', `a card payment in ${currency} is a whole number of ${formatAmount(granularity)}`, { field: 'amount' });
  }
  return Number(micros / step);
}

/** Stripe's integer (trusted to be a safe integer by the caller) as micro-units. */
export function fromMinor(minor: number, currency: string): bigint {
  if (!Number.isSafeInteger(minor) || minor < 0) throw new RangeError(`not an amount in the smallest unit: ${minor}`);
  return BigInt(minor) * microsPerMinor(currency);
}
