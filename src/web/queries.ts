/**
 * Reads that only pages need (counts for things, the admin's lists). Reads go straight to a
 * query; every write a page makes goes through the same service as the JSON API.
 */
import { sql } from 'kysely';
import type { Caller, Context } from '../context.ts';
import { type Period, periodOf, periodsBetween } from '../core/period.ts';
import { firstPeriod, lastEndedPeriod } from '../close/run.ts';
import type { CloseSummary } from '../close/run.ts';
import { thingView, type ThingView } from '../things/service.ts';

export interface FlattrCounts {
  month: number;
  total: number;
}

/** Flattrs of each thing in `period` and all time; withdrawn flattrs do not count. */
export async function flattrCounts(ctx: Context, thingIds: string[], period: Period): Promise<Map<string, FlattrCounts>> {
  const counts = new Map<string, FlattrCounts>(thingIds.map((id) => [id, { month: 0, total: 0 }]));
  if (thingIds.length === 0) return counts;
  const rows = await ctx.db
    .selectFrom('flattrs')
    .select(['thing_id', sql<string>`count(*) FILTER (WHERE period = ${period})`.as('month'), sql<string>`count(*)`.as('total')])
    .where('withdrawn_at', 'is', null)
    .where('thing_id', 'in', thingIds)
    .groupBy('thing_id')
    .execute();
  for (const row of rows) counts.set(row.thing_id, { month: Number(row.month), total: Number(row.total) });
  return counts;
}

export async function flattrCountsOf(ctx: Context, thingId: string): Promise<FlattrCounts> {
  const counts = await flattrCounts(ctx, [thingId], periodOf(ctx.clock.now()));
  return counts.get(thingId) ?? { month: 0, total: 0 };
}

export async function thingsOwnedBy(ctx: Context, caller: Caller): Promise<(ThingView & FlattrCounts)[]> {
  const rows = await ctx.db
    .selectFrom('things')
    .select(['id', 'url', 'title', 'owner_member_id'])
    .where('owner_member_id', '=', caller.id)
    .orderBy('created_at', 'desc')
    .limit(500)
    .execute();
  const counts = await flattrCounts(ctx, rows.map((r) => r.id), periodOf(ctx.clock.now()));
  return rows.map((r) => ({ ...thingView(ctx, { ...r, owner_username: caller.username }), ...(counts.get(r.id) as FlattrCounts) }));
}

export async function membersWithBalances(ctx: Context) {
  const period = periodOf(ctx.clock.now());
  const { rows } = await sql<{ username: string; role: string; created_at: Date; balance: bigint; budget: bigint | null }>`
    SELECT m.username, m.role, m.created_at,
      COALESCE(b.balance, 0)::bigint AS balance,
      (SELECT amount FROM budgets WHERE member_id = m.id AND period <= ${period} ORDER BY period DESC LIMIT 1) AS budget
    FROM members m
    JOIN accounts a ON a.member_id = m.id
    LEFT JOIN account_balances b ON b.account_id = a.id
    ORDER BY m.username
    LIMIT 1000`.execute(ctx.db);
  return rows;
}

export interface PeriodRow {
  period: Period;
  ended: boolean;
  stage: string | null;
  summary: CloseSummary | null;
}

/** Every period of the instance, newest first, with its close (if it began). */
export async function periodsWithCloses(ctx: Context): Promise<PeriodRow[]> {
  const now = ctx.clock.now();
  const current = periodOf(now);
  const first = await firstPeriod(ctx);
  const closes = await ctx.db.selectFrom('closes').select(['period', 'stage', 'summary']).execute();
  const byPeriod = new Map(closes.map((c) => [c.period, c]));
  const lastEnded = lastEndedPeriod(now);
  return periodsBetween(first < current ? first : current, current)
    .reverse()
    .map((period) => {
      const close = byPeriod.get(period);
      return { period, ended: period <= lastEnded, stage: close?.stage ?? null, summary: (close?.summary as CloseSummary | null) ?? null };
    });
}

/** The member's flattr of a thing in a period, if they made one (and did not withdraw it). */
export async function flattrOf(ctx: Context, caller: Caller, thingId: string, period: Period): Promise<string | undefined> {
  const row = await ctx.db
    .selectFrom('flattrs')
    .select('id')
    .where('member_id', '=', caller.id)
    .where('thing_id', '=', thingId)
    .where('period', '=', period)
    .where('withdrawn_at', 'is', null)
    .executeTakeFirst();
  return row?.id;
}
