/**
 * Reads that only pages need (counts for things, the admin's lists). Reads go straight to a
 * query; every write a page makes goes through the same service as the JSON API.
 */
import { sql } from 'kysely';
import type { CloseSummary } from '../close/run.ts';
import { firstPeriod, lastEndedPeriod } from '../close/run.ts';
import type { Caller, Context } from '../context.ts';
import { type Period, periodOf, periodsBetween } from '../core/period.ts';
import { THING_COLUMNS_SQL, type ThingRow, type ThingView, thingView } from '../things/service.ts';

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
    .select(['id', 'url', 'title', 'owner_member_id', 'verified'])
    .where('owner_member_id', '=', caller.id)
    .orderBy('created_at', 'desc')
    .limit(500)
    .execute();
  const counts = await flattrCounts(
    ctx,
    rows.map((r) => r.id),
    periodOf(ctx.clock.now()),
  );
  return rows.map((r) => ({ ...thingView(ctx, { ...r, owner_username: caller.username }), ...(counts.get(r.id) as FlattrCounts) }));
}

export interface MemberRow {
  username: string;
  role: string;
  listed: boolean;
  created_at: Date;
  balance: bigint;
  budget: bigint | null;
}

/** Members whose username contains `search` (any case), by username, one page at a time. */
export async function searchMembers(ctx: Context, options: { search: string; offset: number; limit: number }): Promise<{ rows: MemberRow[]; more: boolean }> {
  const period = periodOf(ctx.clock.now());
  const pattern = `%${options.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const { rows } = await sql<MemberRow>`
    SELECT m.username, m.role, m.listed, m.created_at,
      COALESCE(b.balance, 0)::bigint AS balance,
      (SELECT amount FROM budgets WHERE member_id = m.id AND period <= ${period} ORDER BY period DESC LIMIT 1) AS budget
    FROM members m
    JOIN accounts a ON a.member_id = m.id AND a.type = 'wallet'
    LEFT JOIN account_balances b ON b.account_id = a.id
    WHERE lower(m.username) LIKE ${pattern}
    ORDER BY lower(m.username)
    LIMIT ${options.limit + 1} OFFSET ${options.offset}`.execute(ctx.db);
  return { rows: rows.slice(0, options.limit), more: rows.length > options.limit };
}

export interface InviteRow {
  code: string;
  created_at: Date;
  made_by: string | null;
  used_by: string | null;
  used_at: Date | null;
}

/** Every invite of the instance (whoever made it), newest first, one page at a time. */
export async function allInvites(
  ctx: Context,
  options: { state: 'all' | 'used' | 'unused'; offset: number; limit: number },
): Promise<{ rows: InviteRow[]; more: boolean }> {
  let q = ctx.db
    .selectFrom('invites')
    .leftJoin('members as makers', 'makers.id', 'invites.created_by')
    .leftJoin('members as users', 'users.id', 'invites.used_by')
    .select(['invites.code', 'invites.created_at', 'makers.username as made_by', 'users.username as used_by', 'invites.used_at']);
  if (options.state === 'used') q = q.where('invites.used_by', 'is not', null);
  if (options.state === 'unused') q = q.where('invites.used_by', 'is', null);
  const rows = await q
    .orderBy('invites.created_at', 'desc')
    .orderBy('invites.code')
    .limit(options.limit + 1)
    .offset(options.offset)
    .execute();
  return { rows: rows.slice(0, options.limit), more: rows.length > options.limit };
}

export interface PopularThing {
  thing: ThingView;
  flattrs: number;
}

export interface PopularCreator {
  username: string;
  flattrs: number;
  things: number;
}

/**
 * The most flattred things of this instance, in `period` or (null) of all time. Withdrawn flattrs
 * do not count; things of members who asked not to be listed never appear. The count runs on the
 * partial indexes of 0007_web; only the top `limit` rows are joined to their things.
 */
export async function popularThings(ctx: Context, period: Period | null, limit: number): Promise<PopularThing[]> {
  const { rows } = await sql<ThingRow & { n: bigint }>`
    SELECT ${sql.raw(THING_COLUMNS_SQL)}, c.n
    FROM (
      SELECT f.thing_id, count(*) AS n FROM flattrs f
      WHERE f.withdrawn_at IS NULL ${inPeriod(period)}
      GROUP BY f.thing_id
    ) c
    JOIN things t ON t.id = c.thing_id
    JOIN members m ON m.id = t.owner_member_id AND m.listed
    LEFT JOIN remote_actors r ON r.id = t.owner_actor_id
    ORDER BY c.n DESC, lower(COALESCE(t.title, t.url)), t.id
    LIMIT ${limit}`.execute(ctx.db);
  return rows.map((r) => ({ thing: thingView(ctx, r), flattrs: Number(r.n) }));
}

/** The members whose things were flattred most, in `period` or (null) of all time; listed members only. */
export async function popularCreators(ctx: Context, period: Period | null, limit: number): Promise<PopularCreator[]> {
  const { rows } = await sql<{ username: string; n: bigint; things: bigint }>`
    SELECT m.username, count(*) AS n, count(DISTINCT f.thing_id) AS things
    FROM flattrs f
    JOIN things t ON t.id = f.thing_id
    JOIN members m ON m.id = t.owner_member_id AND m.listed
    WHERE f.withdrawn_at IS NULL ${inPeriod(period)}
    GROUP BY m.id, m.username
    ORDER BY n DESC, lower(m.username)
    LIMIT ${limit}`.execute(ctx.db);
  return rows.map((r) => ({ username: r.username, flattrs: Number(r.n), things: Number(r.things) }));
}

/**
 * The month's condition, or none for all time: two separate statements rather than
 * `$1 IS NULL OR period = $1`, whose generic prepared plan could not use the period index.
 */
function inPeriod(period: Period | null) {
  return period === null ? sql`` : sql`AND f.period = ${period}`;
}

export interface MonthCharge {
  budget: bigint;
  charged: bigint;
  flattrs: number;
}

/** What the close of `period` actually took from the member's wallet; undefined before that close. */
export async function chargeOf(ctx: Context, memberId: bigint, period: Period): Promise<MonthCharge | undefined> {
  const row = await ctx.db
    .selectFrom('close_charges')
    .select(['budget', 'charged', 'flattr_count'])
    .where('period', '=', period)
    .where('member_id', '=', memberId)
    .executeTakeFirst();
  return row && { budget: row.budget, charged: row.charged, flattrs: row.flattr_count };
}

/** Whether the member appears on the popular pages (and as discoverable to the fediverse). */
export async function isListed(ctx: Context, memberId: bigint): Promise<boolean> {
  const row = await ctx.db.selectFrom('members').select('listed').where('id', '=', memberId).executeTakeFirst();
  return row?.listed ?? true;
}

export interface PeriodRow {
  period: Period;
  ended: boolean;
  stage: string | null;
  summary: CloseSummary | null;
  /** Why the close stopped at `stage`, if it failed (running it again resumes there). */
  error: { message: string; at: Date } | null;
}

/** Every period of the instance, newest first, with its close (if it began). */
export async function periodsWithCloses(ctx: Context): Promise<PeriodRow[]> {
  const now = ctx.clock.now();
  const current = periodOf(now);
  const first = await firstPeriod(ctx);
  const closes = await ctx.db.selectFrom('closes').select(['period', 'stage', 'summary', 'error', 'failed_at', 'started_at']).execute();
  const byPeriod = new Map(closes.map((c) => [c.period, c]));
  const lastEnded = lastEndedPeriod(now);
  return periodsBetween(first < current ? first : current, current)
    .reverse()
    .map((period) => {
      const close = byPeriod.get(period);
      return {
        period,
        ended: period <= lastEnded,
        stage: close?.stage ?? null,
        summary: (close?.summary as CloseSummary | null) ?? null,
        error: close?.error && close.stage !== 'done' ? { message: close.error, at: close.failed_at ?? close.started_at } : null,
      };
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
