/**
 * Runs the monthly close: one at a time (a session advisory lock), in period order, staged and
 * resumable, with the ledger self-check before it starts and before it is marked done.
 */
import { sql } from 'kysely';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { amountTooLarge, formatAmount } from '../core/money.ts';
import { addMonths, type Period, periodEnd, periodOf, periodsBetween } from '../core/period.ts';
import { isBalanceOverflow } from '../db/errors.ts';
import type { CloseStage } from '../db/schema.ts';
import { getSetting, initSetting } from '../db/settings.ts';
import type { Executor } from '../ledger/accounts.ts';
import { assertLedgerBalanced } from '../ledger/check.ts';
import { charityMemberId } from '../members/service.ts';
import { wakeWebhooks } from '../webhooks/delivery.ts';
import { enqueuePeriodClosed } from '../webhooks/events.ts';
import { acquireCloseRunnerLock, markPeriodClosing, releaseCloseRunnerLock } from './locks.ts';
import { bookStage, type CloseParams, chargeStage, closeAccounts, splitStage } from './stages.ts';

export interface CloseSummary {
  members_charged: number;
  flattrs: number;
  charged: string;
  fees: string;
  paid: string;
  to_charity: string;
  held: string;
  released: string;
  expired: string;
  owed_to_peers: string;
  /** Shares for fediverse accounts no Farthing instance claims (yet), kept for six closes. */
  unclaimed: string;
  /** Held unclaimed shares paid to members here who claimed their accounts. */
  unclaimed_released: string;
}

export interface CloseResult {
  period: Period;
  summary: CloseSummary;
  /** false when the period had been closed before and this call changed nothing. */
  closed_now: boolean;
}

export interface CloseOptions {
  /** Called as each stage commits (progress bars; crash tests). */
  onStage?: (period: Period, stage: CloseStage) => void | Promise<void>;
}

/** The first period of this instance: nothing can have happened before it. */
export async function firstPeriod(ctx: Context): Promise<Period> {
  return (await getSetting<Period>(ctx.db, 'first_period')) ?? initSetting(ctx.db, 'first_period', periodOf(ctx.clock.now()));
}

/**
 * Closes `period` and, first, any earlier period not yet closed (balances carry from one close
 * to the next, so they must run in order). Refused with `period_open` before the period ends.
 */
export async function closePeriod(ctx: Context, period: Period, options: CloseOptions = {}): Promise<CloseResult> {
  const now = ctx.clock.now();
  if (now < periodEnd(period)) {
    throw new AppError('period_open', `${period} has not ended yet: it can be closed from ${periodEnd(period).toISOString()}`);
  }
  const first = await firstPeriod(ctx);
  if (period < first) {
    return { period, summary: emptySummary(), closed_now: false };
  }
  const closed = await ctx.db.connection().execute(async (conn) => {
    await acquireCloseRunnerLock(conn);
    try {
      let result: CloseResult | undefined;
      for (const p of periodsBetween(first, period)) {
        result = await closeOne(ctx, conn, p, options);
      }
      return result as CloseResult;
    } finally {
      await releaseCloseRunnerLock(conn);
    }
  });
  // What follows every close (the statements to peers, notices of unclaimed money) is wired by
  // the composition root (ctx.afterClose). The close is done whatever happens there: a failure is
  // logged, and each hook is idempotent (it runs again at the next close or start).
  const periods = periodsBetween(first, period);
  for (const hook of ctx.afterClose) {
    try {
      await hook.run(ctx, periods);
    } catch (error) {
      ctx.log.error({ err: error, period }, hook.failure);
    }
  }
  return closed;
}

async function closeOne(ctx: Context, conn: Executor, period: Period, options: CloseOptions): Promise<CloseResult> {
  let row = await conn.selectFrom('closes').selectAll().where('period', '=', period).executeTakeFirst();
  if (row?.stage === 'done') return { period, summary: row.summary as CloseSummary, closed_now: false };
  const timer = stageTimer(ctx, period);
  if (!row) {
    // Earlier closes were checked when they ran; check the whole ledger and this period.
    await assertLedgerBalanced(conn, { period });
    timer('check before');
    const charity = await charityMemberId({ db: conn as Context['db'] });
    row = await conn.transaction().execute(async (trx) => {
      // Waits for flattrs and withdrawals of the period in flight; later ones see it closing.
      await markPeriodClosing(trx, period);
      return trx
        .insertInto('closes')
        .values({
          period,
          stage: 'charging',
          fee_ppm: ctx.config.feePpm,
          idle_budget: ctx.config.idleBudget,
          charity_member_id: charity,
          started_at: ctx.clock.now(),
          finished_at: null,
          summary: null,
        })
        .returningAll()
        .executeTakeFirstOrThrow();
    });
    ctx.log.info({ period }, 'close started');
  } else {
    ctx.log.warn({ period, stage: row.stage }, 'close resumed');
  }
  // The parameters were frozen when the close began, so a resumed close runs with the same ones.
  const params: CloseParams = {
    period,
    currency: ctx.config.currency,
    feePpm: row.fee_ppm,
    idleBudget: row.idle_budget,
    charityMemberId: row.charity_member_id,
    now: ctx.clock.now(),
  };
  let stage = row.stage;
  try {
    return await runStages(ctx, conn, params, stage, options, timer);
  } catch (error) {
    // The failed stage rolled back; the close stays at it. The admin sees which and why (the
    // periods page, GET /api/v1/admin/periods/{period}); running the close again resumes there.
    const failure = isBalanceOverflow(error) ? amountTooLarge(`the ${stage} of ${period}'s close`) : error;
    const current = await conn.selectFrom('closes').select('stage').where('period', '=', period).executeTakeFirst();
    stage = current?.stage ?? stage;
    await conn
      .updateTable('closes')
      .set({ error: String((failure as Error).message).slice(0, 2000), failed_at: ctx.clock.now() })
      .where('period', '=', period)
      .where('stage', '<>', 'done')
      .execute();
    ctx.log.error({ err: error, period, stage }, 'close failed');
    throw failure;
  }
}

async function runStages(
  ctx: Context,
  conn: Executor,
  params: CloseParams,
  from: CloseStage,
  options: CloseOptions,
  timer: (step: string) => void,
): Promise<CloseResult> {
  const period = params.period;
  let stage = from;
  if (stage === 'charging') {
    await conn.transaction().execute(async (trx) => chargeStage(trx, params, await closeAccounts(trx, params)));
    timer('charging');
    stage = 'splitting';
    await options.onStage?.(period, stage);
  }
  if (stage === 'splitting') {
    await conn.transaction().execute((trx) => splitStage(trx, params));
    timer('splitting');
    stage = 'booking';
    await options.onStage?.(period, stage);
  }
  const summary = await conn.transaction().execute(async (trx) => {
    await bookStage(trx, params, await closeAccounts(trx, params));
    timer('booking');
    const summary = await summarise(trx, period);
    timer('summary');
    // Nothing is booked unless the whole ledger still checks out.
    await assertLedgerBalancedAfterBooking(trx, period);
    timer('check after');
    // period.closed webhook events, committed with the booking (an outbox; src/webhooks).
    await enqueuePeriodClosed(trx, period, ctx.clock.now());
    await trx
      .updateTable('closes')
      .set({ stage: 'done', finished_at: ctx.clock.now(), summary: JSON.stringify(summary), error: null, failed_at: null })
      .where('period', '=', period)
      .execute();
    return summary;
  });
  await options.onStage?.(period, 'done');
  wakeWebhooks(ctx);
  ctx.log.info({ period, summary }, 'close done');
  return { period, summary, closed_now: true };
}

/** Logs how long each step of a close took, for operators and for the benchmark. */
function stageTimer(ctx: Context, period: Period): (step: string) => void {
  let last = performance.now();
  return (step) => {
    const now = performance.now();
    ctx.log.info({ period, step, ms: Math.round(now - last) }, 'close step');
    last = now;
  };
}

async function assertLedgerBalancedAfterBooking(trx: Executor, period: Period): Promise<void> {
  // The clearing check reads only closes marked done; mark this one first inside the transaction.
  await trx.updateTable('closes').set({ stage: 'done' }).where('period', '=', period).execute();
  await assertLedgerBalanced(trx, { period });
}

/** Reads the booking stage's per-creator totals (close_totals), so it must run in its transaction. */
async function summarise(db: Executor, period: Period): Promise<CloseSummary> {
  const { rows } = await sql<Record<string, bigint>>`
    SELECT
      (SELECT count(*) FROM close_charges WHERE period = ${period} AND charged > 0) AS members_charged,
      (SELECT COALESCE(sum(flattrs), 0)::bigint FROM close_totals) AS flattrs,
      (SELECT COALESCE(sum(charged), 0)::bigint FROM close_charges WHERE period = ${period}) AS charged,
      (SELECT COALESCE(sum(fee), 0)::bigint FROM close_totals) AS fees,
      (SELECT COALESCE(sum(net), 0)::bigint FROM close_totals WHERE disposition = 'paid') AS paid,
      (SELECT COALESCE(sum(amount), 0)::bigint FROM transfers
        WHERE period = ${period} AND kind IN ('charity', 'hold_expire', 'unclaimed_expire') AND idempotency_key LIKE 'close:%') AS to_charity,
      (SELECT COALESCE(sum(amount), 0)::bigint FROM transfers
        WHERE period = ${period} AND kind IN ('owed_to_peer', 'unclaimed_claim') AND idempotency_key LIKE 'close:%') AS owed_to_peers,
      (SELECT COALESCE(sum(amount), 0)::bigint FROM unclaimed WHERE period = ${period}) AS unclaimed,
      (SELECT COALESCE(sum(amount), 0)::bigint FROM holds WHERE period = ${period}) AS held,
      (SELECT COALESCE(sum(amount), 0)::bigint FROM transfers
        WHERE period = ${period} AND kind = 'hold_release' AND idempotency_key LIKE 'close:%') AS released,
      (SELECT COALESCE(sum(amount), 0)::bigint FROM transfers
        WHERE period = ${period} AND kind = 'hold_expire' AND idempotency_key LIKE 'close:%') AS expired,
      (SELECT COALESCE(sum(amount), 0)::bigint FROM transfers
        WHERE period = ${period} AND kind = 'unclaimed_release' AND idempotency_key LIKE 'close:%') AS unclaimed_released
  `.execute(db);
  const r = rows[0] as Record<string, bigint>;
  return {
    members_charged: Number(r.members_charged),
    flattrs: Number(r.flattrs),
    charged: formatAmount(r.charged as bigint),
    fees: formatAmount(r.fees as bigint),
    paid: formatAmount(r.paid as bigint),
    to_charity: formatAmount(r.to_charity as bigint),
    held: formatAmount(r.held as bigint),
    released: formatAmount(r.released as bigint),
    expired: formatAmount(r.expired as bigint),
    owed_to_peers: formatAmount(r.owed_to_peers as bigint),
    unclaimed: formatAmount(r.unclaimed as bigint),
    unclaimed_released: formatAmount(r.unclaimed_released as bigint),
  };
}

function emptySummary(): CloseSummary {
  const zero = formatAmount(0n);
  return {
    members_charged: 0,
    flattrs: 0,
    charged: zero,
    fees: zero,
    paid: zero,
    to_charity: zero,
    held: zero,
    released: zero,
    expired: zero,
    owed_to_peers: zero,
    unclaimed: zero,
    unclaimed_released: zero,
  };
}

export async function getClose(ctx: Context, period: Period) {
  return ctx.db.selectFrom('closes').selectAll().where('period', '=', period).executeTakeFirst();
}

export interface PeriodStatus {
  period: Period;
  /** open: flattrs still count; ended: not closed yet; closing: a close began (or failed) and has not finished; closed. */
  state: 'open' | 'ended' | 'closing' | 'closed';
  stage: CloseStage | null;
  started_at: string | null;
  finished_at: string | null;
  summary: CloseSummary | null;
  /** The stage a close stopped at and why; running the close again resumes there. */
  error: { stage: CloseStage; message: string; at: string } | null;
}

/** Where a period's close stands (GET /api/v1/admin/periods/{period}, the periods page). */
export async function periodStatus(ctx: Context, period: Period): Promise<PeriodStatus> {
  const row = await ctx.db
    .selectFrom('closes')
    .select(['stage', 'started_at', 'finished_at', 'summary', 'error', 'failed_at'])
    .where('period', '=', period)
    .executeTakeFirst();
  const ended = ctx.clock.now() >= periodEnd(period);
  return {
    period,
    state: row?.stage === 'done' ? 'closed' : row ? 'closing' : ended ? 'ended' : 'open',
    stage: row?.stage ?? null,
    started_at: row?.started_at.toISOString() ?? null,
    finished_at: row?.finished_at?.toISOString() ?? null,
    summary: row?.stage === 'done' ? (row.summary as CloseSummary) : null,
    error: row?.error && row.stage !== 'done' ? { stage: row.stage, message: row.error, at: (row.failed_at ?? row.started_at).toISOString() } : null,
  };
}

/** The most recent period that has ended, and when the automatic close should run it. */
export function lastEndedPeriod(now: Date): Period {
  return addMonths(periodOf(now), -1);
}
