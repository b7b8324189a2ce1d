/**
 * A period is a calendar month in UTC, written "YYYY-MM". Periods compare correctly as strings.
 */
import { AppError } from './errors.ts';

export type Period = string & { readonly __period: unique symbol };

const PERIOD_PATTERN = /^([0-9]{4})-(0[1-9]|1[0-2])$/;

export function isPeriod(value: unknown): value is Period {
  return typeof value === 'string' && PERIOD_PATTERN.test(value);
}

export function parsePeriod(value: unknown, field = 'period'): Period {
  if (!isPeriod(value)) {
    throw new AppError('invalid_request', `${field} must be a month written YYYY-MM, got ${JSON.stringify(value ?? null)}`);
  }
  return value;
}

export function periodOf(instant: Date): Period {
  const year = instant.getUTCFullYear().toString().padStart(4, '0');
  const month = (instant.getUTCMonth() + 1).toString().padStart(2, '0');
  return `${year}-${month}` as Period;
}

export function periodStart(period: Period): Date {
  const [year, month] = split(period);
  return new Date(Date.UTC(year, month - 1, 1));
}

/** The first instant after the period: the start of the next one. */
export function periodEnd(period: Period): Date {
  return periodStart(addMonths(period, 1));
}

export function addMonths(period: Period, months: number): Period {
  const [year, month] = split(period);
  const index = year * 12 + (month - 1) + months;
  const y = Math.floor(index / 12);
  const m = index - y * 12 + 1;
  return `${y.toString().padStart(4, '0')}-${m.toString().padStart(2, '0')}` as Period;
}

/** Every period from `from` to `to`, both included, oldest first. */
export function periodsBetween(from: Period, to: Period): Period[] {
  const periods: Period[] = [];
  for (let p = from; p <= to; p = addMonths(p, 1)) periods.push(p);
  return periods;
}

function split(period: Period): [number, number] {
  return [Number(period.slice(0, 4)), Number(period.slice(5, 7))];
}
