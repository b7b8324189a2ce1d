import t from 'tap';
import { clockStartingAt, ManualClock } from '../../src/core/clock.ts';
import { addMonths, isPeriod, type Period, parsePeriod, periodEnd, periodOf, periodStart, periodsBetween } from '../../src/core/period.ts';

t.test('periods are calendar months in UTC', async (t) => {
  t.equal(periodOf(new Date('2026-11-30T23:59:59.999Z')), '2026-11');
  t.equal(periodOf(new Date('2026-12-01T00:00:00Z')), '2026-12');
  t.equal(periodOf(new Date('2026-12-01T00:30:00+01:00')), '2026-11', 'UTC, not local time');
  const p = '2026-12' as Period;
  t.equal(periodStart(p).toISOString(), '2026-12-01T00:00:00.000Z');
  t.equal(periodEnd(p).toISOString(), '2027-01-01T00:00:00.000Z');
  t.equal(addMonths(p, 1), '2027-01');
  t.equal(addMonths(p, -12), '2025-12');
  t.equal(addMonths('2026-01' as Period, -1), '2025-12');
  t.same(periodsBetween('2026-11' as Period, '2027-02' as Period), ['2026-11', '2026-12', '2027-01', '2027-02']);
  t.ok(isPeriod('2026-01'));
  for (const bad of ['2026-13', '2026-00', '26-01', '2026-1', '2026-01-01', 202601]) {
    t.notOk(isPeriod(bad), `${bad} is not a period`);
    t.throws(() => parsePeriod(bad));
  }
});

t.test('the clock can start elsewhere and keeps running', async (t) => {
  const real = new ManualClock('2030-01-01T00:00:00Z');
  const clock = clockStartingAt(new Date('2026-11-15T12:00:00Z'), real);
  t.equal(clock.now().toISOString(), '2026-11-15T12:00:00.000Z');
  real.advance(90_000);
  t.equal(clock.now().toISOString(), '2026-11-15T12:01:30.000Z');
});
