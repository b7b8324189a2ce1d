/**
 * What a period of this instance is now (open, ended, closing, closed), for its page and for the
 * ActivityPub object every Like names as its `context` (src/activitypub/objects.ts).
 */
import type { Context } from '../context.ts';
import { isPeriod, type Period, periodEnd, periodOf, periodStart } from '../core/period.ts';
import { firstPeriod } from './run.ts';

export interface PeriodFacts {
  period: Period;
  start: Date;
  end: Date;
  /** open: flattrs still count; closing: being closed; closed: split and booked. */
  state: 'open' | 'ended' | 'closing' | 'closed';
  closedAt: Date | null;
}

/** A period of this instance from its first to the current one; undefined otherwise. */
export async function periodFacts(ctx: Context, value: string): Promise<PeriodFacts | undefined> {
  if (!isPeriod(value)) return undefined;
  const now = ctx.clock.now();
  if (value > periodOf(now) || value < (await firstPeriod(ctx))) return undefined;
  const close = await ctx.db.selectFrom('closes').select(['stage', 'finished_at']).where('period', '=', value).executeTakeFirst();
  const state = close ? (close.stage === 'done' ? 'closed' : 'closing') : value < periodOf(now) ? 'ended' : 'open';
  return { period: value, start: periodStart(value), end: periodEnd(value), state, closedAt: close?.finished_at ?? null };
}

export function periodDescription(ctx: Context, facts: PeriodFacts): string {
  const host = new URL(ctx.config.origin).host;
  const how = 'Each member’s monthly budget is split equally among everything they flattred in it.';
  const when = {
    open: 'It is the current month: flattrs made now count in it.',
    ended: 'It has ended and waits for its close.',
    closing: 'It is being closed.',
    closed: `It was closed${facts.closedAt ? ` on ${facts.closedAt.toISOString().slice(0, 10)}` : ''}: its flattrs are paid and final.`,
  }[facts.state];
  return `The month ${facts.period} on ${host}. ${how} ${when}`;
}
