/**
 * Temporal values for Fedify. Its vocabulary and queue types name the standard Temporal
 * (TypeScript's lib `esnext.temporal`); Node 24 has no Temporal yet, so the values are made by
 * @js-temporal/polyfill, which implements the standard but whose own declarations lag it
 * (`Instant#until`'s options, `Duration#round`'s): hence the one cast each, here only.
 */
import { Temporal as Polyfill } from '@js-temporal/polyfill';

export function instant(date: Date): Temporal.Instant {
  return Polyfill.Instant.fromEpochMilliseconds(date.getTime()) as unknown as Temporal.Instant;
}

export function duration(fields: Polyfill.DurationLike): Temporal.Duration {
  return Polyfill.Duration.from(fields) as unknown as Temporal.Duration;
}
