/**
 * Subscriptions (issue 6): after flattring a thing, a member can ask the instance to flattr it
 * again in each of the next 3, 6 or 12 months. The months are fixed when subscribing (the
 * periods after the current one); a paused subscription skips the months it is paused in and
 * still ends with its last month. The flattrs themselves are made by runner.ts.
 */
import { randomUUID } from 'node:crypto';
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { addMonths, periodOf } from '../core/period.ts';
import { isUniqueViolation, UUID_PATTERN } from '../db/errors.ts';
import type { SubscriptionState } from '../db/schema.ts';
import { findThingById, type ThingView, thingView } from '../things/service.ts';

export const SUBSCRIPTION_MONTHS = [3, 6, 12] as const;

export interface SubscriptionRunView {
  period: string;
  outcome: 'flattred' | 'stopped' | 'skipped';
  flattr_id: string | null;
  detail: string | null;
}

export interface SubscriptionView {
  id: string;
  thing: ThingView;
  months: number;
  first_period: string;
  last_period: string;
  state: SubscriptionState;
  stop_reason: string | null;
  created_at: string;
  runs: SubscriptionRunView[];
}

export interface SubscriptionNoticeView {
  id: string;
  subscription_id: string;
  period: string;
  code: string;
  message: string;
  created_at: string;
}

function checkMonths(input: unknown): number {
  if (typeof input !== 'number' || !(SUBSCRIPTION_MONTHS as readonly number[]).includes(input)) {
    throw new AppError('invalid_request', `months must be one of ${SUBSCRIPTION_MONTHS.join(', ')}`, { field: 'months' });
  }
  return input;
}

export async function createSubscription(ctx: Context, caller: Caller, input: { thing_id: unknown; months: unknown }): Promise<SubscriptionView> {
  const months = checkMonths(input.months);
  if (typeof input.thing_id !== 'string' || !UUID_PATTERN.test(input.thing_id)) {
    throw new AppError('invalid_request', 'thing_id must be a thing id', { field: 'thing_id' });
  }
  const thing = await findThingById(ctx, input.thing_id);
  if (!thing) throw new AppError('not_found', 'no such thing', { field: 'thing_id' });
  const flattred = await ctx.db
    .selectFrom('flattrs')
    .select('id')
    .where('member_id', '=', caller.id)
    .where('thing_id', '=', thing.id)
    .where('withdrawn_at', 'is', null)
    .limit(1)
    .executeTakeFirst();
  if (!flattred) throw new AppError('not_flattred', 'flattr this thing first: a subscription flattrs again what you have flattred');
  const now = ctx.clock.now();
  const current = periodOf(now);
  const id = randomUUID();
  const row = {
    id,
    member_id: caller.id,
    thing_id: thing.id,
    months,
    first_period: addMonths(current, 1),
    last_period: addMonths(current, months),
    state: 'active' as const,
    stop_reason: null,
    created_at: now,
    updated_at: now,
  };
  try {
    await ctx.db.insertInto('subscriptions').values(row).execute();
  } catch (error) {
    if (isUniqueViolation(error)) throw new AppError('subscription_exists', 'you already have a subscription to this thing: pause, resume or cancel it');
    throw error;
  }
  return {
    id,
    thing: thingView(ctx, thing),
    months,
    first_period: row.first_period,
    last_period: row.last_period,
    state: 'active',
    stop_reason: null,
    created_at: now.toISOString(),
    runs: [],
  };
}

export async function listSubscriptions(ctx: Context, caller: Caller): Promise<{ items: SubscriptionView[]; notices: SubscriptionNoticeView[] }> {
  const rows = await ctx.db.selectFrom('subscriptions').selectAll().where('member_id', '=', caller.id).orderBy('created_at', 'desc').orderBy('id').execute();
  const ids = rows.map((r) => r.id);
  const runs = ids.length === 0 ? [] : await ctx.db.selectFrom('subscription_runs').selectAll().where('subscription_id', 'in', ids).orderBy('period').execute();
  const notices = await ctx.db.selectFrom('subscription_notices').selectAll().where('member_id', '=', caller.id).orderBy('id', 'desc').limit(50).execute();
  const things = new Map<string, ThingView>();
  for (const r of rows) {
    if (things.has(r.thing_id)) continue;
    const thing = await findThingById(ctx, r.thing_id);
    if (thing) things.set(r.thing_id, thingView(ctx, thing));
  }
  return {
    items: rows
      .filter((r) => things.has(r.thing_id))
      .map((r) => ({
        id: r.id,
        thing: things.get(r.thing_id) as ThingView,
        months: r.months,
        first_period: r.first_period,
        last_period: r.last_period,
        state: r.state,
        stop_reason: r.stop_reason,
        created_at: r.created_at.toISOString(),
        runs: runs
          .filter((run) => run.subscription_id === r.id)
          .map((run) => ({ period: run.period, outcome: run.outcome, flattr_id: run.flattr_id, detail: run.detail })),
      })),
    notices: notices.map((n) => ({
      id: String(n.id),
      subscription_id: n.subscription_id,
      period: n.period,
      code: n.code,
      message: n.message,
      created_at: n.created_at.toISOString(),
    })),
  };
}

async function subscriptionOf(ctx: Context, caller: Caller, id: string) {
  if (!UUID_PATTERN.test(id)) throw new AppError('not_found', 'no such subscription');
  const row = await ctx.db.selectFrom('subscriptions').selectAll().where('id', '=', id.toLowerCase()).where('member_id', '=', caller.id).executeTakeFirst();
  if (!row) throw new AppError('not_found', 'no such subscription');
  return row;
}

async function view(ctx: Context, caller: Caller, id: string): Promise<SubscriptionView> {
  const found = (await listSubscriptions(ctx, caller)).items.find((s) => s.id === id);
  if (!found) throw new AppError('not_found', 'no such subscription');
  return found;
}

/** Moves a live subscription from one state to another; the same move twice is a no-op. */
async function move(ctx: Context, caller: Caller, id: string, from: SubscriptionState, to: SubscriptionState): Promise<SubscriptionView> {
  const row = await subscriptionOf(ctx, caller, id);
  if (row.state !== to) {
    const moved = await ctx.db
      .updateTable('subscriptions')
      .set({ state: to, updated_at: ctx.clock.now() })
      .where('id', '=', row.id)
      .where('state', '=', from)
      .executeTakeFirst();
    if (Number(moved.numUpdatedRows) === 0) {
      const now = await subscriptionOf(ctx, caller, id);
      if (now.state !== to)
        throw new AppError('subscription_ended', `this subscription is ${now.state}${now.stop_reason ? ` (${now.stop_reason})` : ''}: subscribe again instead`);
    }
  }
  return view(ctx, caller, row.id);
}

export function pauseSubscription(ctx: Context, caller: Caller, id: string): Promise<SubscriptionView> {
  return move(ctx, caller, id, 'active', 'paused');
}

export function resumeSubscription(ctx: Context, caller: Caller, id: string): Promise<SubscriptionView> {
  return move(ctx, caller, id, 'paused', 'active');
}

/** Cancels a live subscription; cancelling one that has already ended changes nothing. */
export async function cancelSubscription(ctx: Context, caller: Caller, id: string): Promise<void> {
  const row = await subscriptionOf(ctx, caller, id);
  await ctx.db
    .updateTable('subscriptions')
    .set({ state: 'cancelled', updated_at: ctx.clock.now() })
    .where('id', '=', row.id)
    .where('state', 'in', ['active', 'paused'])
    .execute();
}
