/**
 * Makes the subscribed flattrs of the current period. Each one is an ordinary flattr made with
 * createFlattr for the member, so it is checked, counted, split and federated like a click.
 *
 * Idempotent and crash-safe: a subscription's month is settled by its row in subscription_runs
 * (UNIQUE subscription and period). A process that dies after the flattr but before the row finds
 * `flattr_once` on the next run, which counts as done. When the member cannot pay (`no_means`),
 * or the thing cannot be flattred any more, the subscription stops, with a notice the member sees
 * in GET /api/v1/subscriptions and a `subscription.stopped` webhook event, in one transaction.
 */
import type { Caller, Context } from '../context.ts';
import { AppError, isAppError } from '../core/errors.ts';
import { type Period, periodOf } from '../core/period.ts';
import { createFlattr } from '../flattrs/service.ts';
import { scopesForRole } from '../oauth/scopes.ts';
import { wakeWebhooks } from '../webhooks/delivery.ts';
import { enqueueEvent } from '../webhooks/events.ts';

/** Refusals after which flattring again next month would fail the same way. */
const STOPPING = new Set(['no_means', 'not_found', 'flattr_owner', 'peer_blocked']);
/** Refusals that may pass by next month: this month is skipped with a notice. */
const SKIPPING = new Set(['peer_limit']);

export interface SubscriptionRunSummary {
  period: Period;
  flattred: number;
  stopped: number;
  skipped: number;
  finished: number;
  /** Left for the next run (an unexpected error, logged). */
  failed: number;
}

/**
 * Runs the subscriptions due in `period`, which must be the current period (the flattrs are made
 * now). Safe to call any number of times and from several processes at once.
 */
export async function runSubscriptions(ctx: Context, period: Period = periodOf(ctx.clock.now())): Promise<SubscriptionRunSummary> {
  const current = periodOf(ctx.clock.now());
  if (period !== current) throw new AppError('invalid_request', `subscriptions run in the current period (${current}), not ${period}`);
  const summary: SubscriptionRunSummary = { period, flattred: 0, stopped: 0, skipped: 0, finished: 0, failed: 0 };
  const finished = await ctx.db
    .updateTable('subscriptions')
    .set({ state: 'finished', updated_at: ctx.clock.now() })
    .where('state', 'in', ['active', 'paused'])
    .where('last_period', '<', period)
    .executeTakeFirst();
  summary.finished = Number(finished.numUpdatedRows);

  const due = await ctx.db
    .selectFrom('subscriptions as s')
    .innerJoin('members as m', 'm.id', 's.member_id')
    .select(['s.id', 's.member_id', 's.thing_id', 'm.username', 'm.role'])
    .where('s.state', '=', 'active')
    .where('s.first_period', '<=', period)
    .where('s.last_period', '>=', period)
    .where(({ not, exists, selectFrom }) =>
      not(exists(selectFrom('subscription_runs as r').select('r.period').whereRef('r.subscription_id', '=', 's.id').where('r.period', '=', period))),
    )
    .orderBy('s.created_at')
    .orderBy('s.id')
    .execute();

  let notified = false;
  for (const sub of due) {
    const caller: Caller = { id: sub.member_id, username: sub.username, role: sub.role, scopes: scopesForRole(sub.role) };
    try {
      const flattr = await createFlattr(ctx, caller, { thing_id: sub.thing_id });
      await recordRun(ctx, sub.id, period, 'flattred', flattr.id, null);
      summary.flattred++;
    } catch (error) {
      if (!isAppError(error)) {
        ctx.log.error({ err: error, subscription: sub.id, period }, 'subscribed flattr failed; it will be tried again');
        summary.failed++;
        continue;
      }
      if (error.code === 'flattr_once') {
        await recordRun(ctx, sub.id, period, 'flattred', (error.details?.existing_id as string | undefined) ?? null, 'already flattred this month');
        summary.flattred++;
      } else if (STOPPING.has(error.code) || SKIPPING.has(error.code)) {
        const stop = STOPPING.has(error.code);
        if (await settleRefusal(ctx, sub, period, stop, error)) {
          notified = true;
          if (stop) summary.stopped++;
          else summary.skipped++;
        }
      } else {
        ctx.log.warn({ code: error.code, subscription: sub.id, period }, `subscribed flattr refused: ${error.message}; it will be tried again`);
        summary.failed++;
      }
    }
  }
  if (notified) wakeWebhooks(ctx);
  if (summary.flattred + summary.stopped + summary.skipped + summary.finished > 0) ctx.log.info(summary, 'subscriptions run');
  return summary;
}

async function recordRun(
  ctx: Context,
  subscriptionId: string,
  period: Period,
  outcome: 'flattred',
  flattrId: string | null,
  detail: string | null,
): Promise<void> {
  await ctx.db
    .insertInto('subscription_runs')
    .values({ subscription_id: subscriptionId, period, outcome, flattr_id: flattrId, detail, created_at: ctx.clock.now() })
    .onConflict((oc) => oc.columns(['subscription_id', 'period']).doNothing())
    .execute();
}

/**
 * The run row, the subscription's new state (stopped) and the notice and webhook event, in one
 * transaction; answers false when another process had settled this month already.
 */
async function settleRefusal(
  ctx: Context,
  sub: { id: string; member_id: bigint; thing_id: string },
  period: Period,
  stop: boolean,
  error: AppError,
): Promise<boolean> {
  const now = ctx.clock.now();
  const message = stop ? `Your subscription stopped in ${period}: ${error.message}` : `Your subscribed flattr of ${period} was skipped: ${error.message}`;
  return ctx.db.transaction().execute(async (trx) => {
    const inserted = await trx
      .insertInto('subscription_runs')
      .values({ subscription_id: sub.id, period, outcome: stop ? 'stopped' : 'skipped', flattr_id: null, detail: error.code, created_at: now })
      .onConflict((oc) => oc.columns(['subscription_id', 'period']).doNothing())
      .executeTakeFirst();
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) return false;
    if (stop) {
      await trx
        .updateTable('subscriptions')
        .set({ state: 'stopped', stop_reason: error.code, updated_at: now })
        .where('id', '=', sub.id)
        .where('state', 'in', ['active', 'paused'])
        .execute();
    }
    await trx
      .insertInto('subscription_notices')
      .values({ subscription_id: sub.id, member_id: sub.member_id, period, code: error.code, message, created_at: now })
      .onConflict((oc) => oc.columns(['subscription_id', 'period', 'code']).doNothing())
      .execute();
    if (stop) {
      await enqueueEvent(
        trx,
        sub.member_id,
        'subscription.stopped',
        { subscription_id: sub.id, thing_id: sub.thing_id, period, reason: error.code, message },
        { now, key: `subscription.stopped:${sub.id}` },
      );
    }
    return true;
  });
}
