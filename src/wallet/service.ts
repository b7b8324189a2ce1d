/**
 * Money entering and leaving the instance: deposits (recorded by an admin once per reference, or
 * matched from the bank's statement by src/banking/), payout requests that reserve the amount at
 * once, and payouts marked as sent (by the admin, or by the bank's statement). A payout never
 * takes the budget a member committed by flattring in a month not charged yet
 * (budget_committed); no movement takes a balance past the ledger's maximum (amount_too_large,
 * enforced where transfers are recorded).
 */
import { randomUUID } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import { z } from 'zod';
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { PositiveAmountMicros, rule } from '../core/input.ts';
import { formatAmount } from '../core/money.ts';
import { periodOf } from '../core/period.ts';
import { UUID_PATTERN } from '../db/errors.ts';
import type { DB } from '../db/schema.ts';
import { balanceOf, EXTERNAL, type Executor, ensureSystemAccount, lockAccount, lockBalance, walletAccountId } from '../ledger/accounts.ts';
import { recordTransfer } from '../ledger/transfers.ts';
import { requireMember } from '../members/service.ts';
import { enqueueEvent } from '../webhooks/events.ts';

function checkReference(input: string): string {
  if (input.trim().length === 0 || input.length > 200) {
    throw new AppError('invalid_request', 'reference must be a non-empty string of at most 200 characters', { field: 'reference' });
  }
  return input.trim();
}

/** A deposit's or a paid payout's reference: non-empty, at most 200 characters, trimmed. */
export const Reference = rule(z.string(), checkReference);

/** POST /api/v1/admin/deposits, the admin's deposit form and `farthing deposit`. */
export const DepositInput = z.object({ username: z.string(), amount: PositiveAmountMicros, reference: Reference });
export type DepositInput = z.output<typeof DepositInput>;

/** POST /api/v1/me/payouts and the payouts page's form. */
export const PayoutInput = z.object({ amount: PositiveAmountMicros });

/** POST /api/v1/admin/payouts/{id}/paid and the admin's payouts page. */
export const PayoutPaidInput = z.object({ reference: Reference });

export interface DepositView {
  id: string;
  username: string;
  amount: string;
  reference: string;
  /** true when this reference had been recorded before and nothing new was booked. */
  replayed: boolean;
}

export async function recordDeposit(ctx: Context, input: DepositInput): Promise<DepositView> {
  const { amount, reference } = input;
  const member = await requireMember(ctx, input.username);
  return ctx.db.transaction().execute((trx) => bookDeposit(ctx, trx, { memberId: member.id, username: member.username, amount, reference }));
}

/**
 * Books a deposit inside the caller's transaction: `external → wallet`, once per idempotency key
 * (`deposit:<reference>` unless given). Every way money comes in (an admin's deposit, a bank
 * transfer matched from the statement) goes through here.
 */
export async function bookDeposit(
  ctx: Context,
  trx: Transaction<DB>,
  input: { memberId: bigint; username: string; amount: bigint; reference: string; idempotencyKey?: string },
): Promise<DepositView> {
  const { amount, reference } = input;
  const now = ctx.clock.now();
  const external = await ensureSystemAccount(trx, EXTERNAL, ctx.config.currency, now);
  const wallet = await walletAccountId(trx, input.memberId);
  const transfer = await recordTransfer(trx, {
    debitAccountId: external,
    creditAccountId: wallet,
    amount,
    currency: ctx.config.currency,
    kind: 'deposit',
    period: periodOf(now),
    reference,
    idempotencyKey: input.idempotencyKey ?? `deposit:${reference}`,
    now,
  });
  if (!transfer.created) {
    const earlier = await trx.selectFrom('transfers').selectAll().where('id', '=', transfer.id).executeTakeFirstOrThrow();
    if (earlier.credit_account_id !== wallet || earlier.amount !== amount) {
      throw new AppError('reference_conflict', `the reference "${reference}" was already used for another deposit`, { field: 'reference' });
    }
  }
  return { id: transfer.id.toString(), username: input.username, amount: formatAmount(amount), reference, replayed: !transfer.created };
}

export interface PayoutView {
  id: string;
  amount: string;
  state: 'requested' | 'exported' | 'paid';
  requested_at: string;
  paid_at: string | null;
  reference: string | null;
}

function payoutView(row: {
  id: string;
  amount: bigint;
  state: 'requested' | 'exported' | 'paid';
  requested_at: Date;
  paid_at: Date | null;
  reference: string | null;
}): PayoutView {
  return {
    id: row.id,
    amount: formatAmount(row.amount),
    state: row.state,
    requested_at: row.requested_at.toISOString(),
    paid_at: row.paid_at?.toISOString() ?? null,
    reference: row.reference,
  };
}

/** Moves the amount from the wallet to the payouts account at once, under the wallet's lock. */
export async function requestPayout(ctx: Context, caller: Caller, amount: bigint): Promise<PayoutView> {
  if (amount < ctx.config.minPayout) {
    throw new AppError('invalid_amount', `payouts start at ${formatAmount(ctx.config.minPayout)}`, {
      field: 'amount',
      minimum: formatAmount(ctx.config.minPayout),
    });
  }
  const now = ctx.clock.now();
  const id = randomUUID();
  return ctx.db.transaction().execute(async (trx) => {
    const wallet = await walletAccountId(trx, caller.id);
    await lockAccount(trx, wallet);
    // The balance row too, which a flattr's click locks FOR SHARE while it commits the month's
    // budget (flattrs/service.ts): a click in flight finishes first, and its flattr is counted
    // in what is committed below.
    await lockBalance(trx, wallet);
    const available = await balanceOf(trx, wallet);
    if (available < amount) {
      throw new AppError('insufficient_funds', `your wallet holds ${formatAmount(available)}`, { available: formatAmount(available) });
    }
    // Flattrs are promises: the budget of a month with a flattr stays in the wallet until that
    // month's close charges it (product rule 5), so every flattr made is paid.
    const committed = await committedBudget(trx, caller.id);
    if (available - committed.amount < amount) {
      const free = available - committed.amount > 0n ? available - committed.amount : 0n;
      throw new AppError(
        'budget_committed',
        `${formatAmount(committed.amount)} of your wallet is the budget you committed by flattring in ${committed.periods.join(' and ')}; until ${committed.periods.length > 1 ? 'those months close' : 'that month closes'} a payout can take at most ${formatAmount(free)}`,
        {
          available: formatAmount(free),
          committed: formatAmount(committed.amount),
          periods: committed.periods,
        },
      );
    }
    const payouts = await ensureSystemAccount(trx, 'payouts', ctx.config.currency, now);
    await trx
      .insertInto('payouts')
      .values({ id, member_id: caller.id, amount, state: 'requested', requested_at: now, paid_at: null, reference: null })
      .execute();
    await recordTransfer(trx, {
      debitAccountId: wallet,
      creditAccountId: payouts,
      amount,
      currency: ctx.config.currency,
      kind: 'payout_reserve',
      period: periodOf(now),
      reference: id,
      idempotencyKey: `payout:${id}:reserve`,
      now,
    });
    return payoutView({ id, amount, state: 'requested', requested_at: now, paid_at: null, reference: null });
  });
}

/**
 * The budgets a member has committed and the close has not charged yet: for each month with a
 * flattr of theirs (not withdrawn) whose close has not charged budgets, the budget that applies
 * to that month.
 */
export async function committedBudget(db: Executor, memberId: bigint): Promise<{ amount: bigint; periods: string[] }> {
  const { rows } = await sql<{ period: string; amount: bigint }>`
    SELECT p.period, b.amount FROM (
      SELECT DISTINCT f.period FROM flattrs f
      WHERE f.member_id = ${memberId} AND f.withdrawn_at IS NULL
        AND NOT EXISTS (SELECT 1 FROM closes c WHERE c.period = f.period AND c.stage <> 'charging')
    ) p
    CROSS JOIN LATERAL (
      SELECT amount FROM budgets WHERE member_id = ${memberId} AND period <= p.period ORDER BY period DESC LIMIT 1
    ) b
    ORDER BY p.period`.execute(db);
  return { amount: rows.reduce((sum, r) => sum + BigInt(r.amount), 0n), periods: rows.map((r) => r.period) };
}

/**
 * The admin says the money has been sent: it leaves the instance. Same reference twice is a no-op.
 * `reference` is a parsed Reference (PayoutPaidInput).
 */
export async function markPayoutPaid(ctx: Context, id: string, reference: string): Promise<PayoutView> {
  if (!UUID_PATTERN.test(id)) throw new AppError('not_found', 'no such payout');
  return ctx.db.transaction().execute(async (trx) => {
    const payout = await trx.selectFrom('payouts').selectAll().where('id', '=', id.toLowerCase()).forUpdate().executeTakeFirst();
    if (!payout) throw new AppError('not_found', 'no such payout');
    if (payout.state === 'paid') {
      if (payout.reference === reference) return payoutView(payout);
      throw new AppError('already_paid', `this payout was recorded as paid with reference "${payout.reference}"`);
    }
    return bookPayoutSent(ctx, trx, payout, reference);
  });
}

/**
 * Books a requested or exported payout as sent, inside the caller's transaction (which holds the
 * payout's row lock): `payouts → external`, once per payout. By the admin's hand, or when the
 * bank's statement shows the debit.
 */
export async function bookPayoutSent(ctx: Context, trx: Transaction<DB>, payout: { id: string; amount: bigint }, reference: string): Promise<PayoutView> {
  const now = ctx.clock.now();
  const payouts = await ensureSystemAccount(trx, 'payouts', ctx.config.currency, now);
  const external = await ensureSystemAccount(trx, EXTERNAL, ctx.config.currency, now);
  await recordTransfer(trx, {
    debitAccountId: payouts,
    creditAccountId: external,
    amount: payout.amount,
    currency: ctx.config.currency,
    kind: 'payout_sent',
    period: periodOf(now),
    reference,
    idempotencyKey: `payout:${payout.id}:sent`,
    now,
  });
  const paid = await trx
    .updateTable('payouts')
    .set({ state: 'paid', paid_at: now, reference })
    .where('id', '=', payout.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  // payout.paid for the member's webhooks, committed with the payment (src/webhooks).
  await enqueueEvent(trx, paid.member_id, 'payout.paid', payoutView(paid), { now, key: `payout.paid:${paid.id}` });
  return payoutView(paid);
}

export async function listPayouts(ctx: Context, filter: { memberId?: bigint; state?: 'requested' | 'exported' | 'paid' }) {
  let query = ctx.db.selectFrom('payouts').innerJoin('members', 'members.id', 'payouts.member_id').selectAll('payouts').select('members.username');
  if (filter.memberId !== undefined) query = query.where('payouts.member_id', '=', filter.memberId);
  if (filter.state) query = query.where('payouts.state', '=', filter.state);
  const rows = await query.orderBy('payouts.requested_at', 'desc').limit(500).execute();
  return rows.map((r) => ({ ...payoutView(r), username: r.username }));
}
