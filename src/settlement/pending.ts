/**
 * Credits clear when the money arrives. A creator's credit from a peer's accepted statement is
 * booked into an account of its own, pending:<peer>:<member> (one row of pending_credits per
 * statement line), and is not spendable: budgets and payouts draw on the wallet only. It clears
 * into the wallet when the settlement of its period with that peer is settled (the peer's
 * payment confirmed, our payment the other way confirmed, or a set that nets to zero), or at
 * once while the peer's credit line (set by the admin, default 0) covers it: the credits cleared
 * on credit whose settlement is not settled yet never add up to more than the line.
 *
 * A credit that would take its creator's wallet past the ledger's maximum stays pending until
 * the wallet has room (the next call that finds room clears it).
 *
 * clearCredits runs after every change that can clear something (a statement accepted, a
 * settlement settled, a credit line raised) and is idempotent: each clearing is a transfer with
 * its own idempotency key, and the row's state says it happened.
 */
import { sql } from 'kysely';
import type { Context } from '../context.ts';
import { MAX_BALANCE_MICROS } from '../core/money.ts';
import { balanceOf, type Executor, ensureAccount, walletCode } from '../ledger/accounts.ts';
import { recordTransfer } from '../ledger/transfers.ts';
import { refreshSettlement } from './netting.ts';

/** The account of a member's credits from one peer, until they clear. */
export function pendingCode(peer: string, memberId: bigint): string {
  return `pending:${peer}:${memberId}`;
}

/** Books one statement line's credit as pending: from the peer's account to the member's pending account. */
export async function bookPendingCredit(
  db: Executor,
  ctx: Context,
  credit: {
    statementId: string;
    line: number;
    peer: string;
    period: string;
    memberId: bigint;
    peerAccount: bigint;
    amount: bigint;
  },
): Promise<void> {
  const now = ctx.clock.now();
  const account = await ensureAccount(db, { code: pendingCode(credit.peer, credit.memberId), type: 'pending', currency: ctx.config.currency, now });
  const transfer = await recordTransfer(db, {
    debitAccountId: credit.peerAccount,
    creditAccountId: account,
    amount: credit.amount,
    currency: ctx.config.currency,
    kind: 'statement_credit',
    period: credit.period,
    reference: credit.statementId,
    idempotencyKey: `statement:${credit.statementId}:line:${credit.line}`,
    now,
  });
  if (!transfer.created) return;
  await db
    .insertInto('pending_credits')
    .values({
      statement_id: credit.statementId,
      line: credit.line,
      peer_origin: credit.peer,
      period: credit.period,
      member_id: credit.memberId,
      account_id: account,
      amount: credit.amount,
      state: 'pending',
      cleared_by: null,
      created_at: now,
      cleared_at: null,
    })
    .execute();
}

/** Recomputes the settlement of (peer, period), then clears what that makes clear. */
export async function refreshAndClear(db: Executor, ctx: Context, peer: string, period: string): Promise<void> {
  await refreshSettlement(db, peer, period);
  await clearCredits(db, ctx, peer);
}

/** How much of the peer's credit line is in use: credits cleared on credit whose settlement is not settled yet. */
async function creditInUse(db: Executor, peer: string): Promise<bigint> {
  const { rows } = await sql<{ used: bigint }>`
    SELECT COALESCE(sum(pc.amount), 0)::bigint AS used FROM pending_credits pc
    LEFT JOIN settlements s ON s.peer_origin = pc.peer_origin AND s.period = pc.period
    WHERE pc.peer_origin = ${peer} AND pc.cleared_by = 'credit_line' AND COALESCE(s.state, 'open') <> 'settled'`.execute(db);
  return BigInt(rows[0]?.used ?? 0n);
}

/**
 * Clears the peer's pending credits that can clear: those of settled periods, then, oldest
 * first, those the credit line still covers (whole credits only; a trusted peer only).
 */
export async function clearCredits(db: Executor, ctx: Context, peer: string): Promise<number> {
  // One clearing at a time per peer, so two can never spend the same credit line.
  await sql`SELECT pg_advisory_xact_lock(hashtext(${`pending:${peer}`}))`.execute(db);
  const open = await db
    .selectFrom('pending_credits')
    .leftJoin('settlements', (join) =>
      join.onRef('settlements.peer_origin', '=', 'pending_credits.peer_origin').onRef('settlements.period', '=', 'pending_credits.period'),
    )
    .select([
      'pending_credits.id',
      'pending_credits.member_id',
      'pending_credits.account_id',
      'pending_credits.amount',
      'pending_credits.period',
      'pending_credits.statement_id',
      'settlements.state as settlement',
    ])
    .where('pending_credits.peer_origin', '=', peer)
    .where('pending_credits.state', '=', 'pending')
    .orderBy('pending_credits.period')
    .orderBy('pending_credits.id')
    .execute();
  if (open.length === 0) return 0;
  const settled = open.filter((c) => c.settlement === 'settled');
  const waiting = open.filter((c) => c.settlement !== 'settled');
  let cleared = 0;
  for (const credit of settled) {
    if (await clearOne(db, ctx, credit, 'settlement')) cleared++;
  }
  if (waiting.length > 0) {
    const row = await db.selectFrom('peers').select(['credit_line', 'trusted']).where('origin', '=', peer).executeTakeFirst();
    let room = row?.trusted ? row.credit_line - (await creditInUse(db, peer)) : 0n;
    for (const credit of waiting) {
      if (credit.amount > room) break;
      if (!(await clearOne(db, ctx, credit, 'credit_line'))) continue;
      room -= credit.amount;
      cleared++;
    }
  }
  return cleared;
}

/**
 * Moves one credit into its creator's wallet; false (it stays pending) when the wallet has no
 * room for it under the ledger's maximum: it clears at a later call, once the wallet has room.
 */
async function clearOne(
  db: Executor,
  ctx: Context,
  credit: { id: bigint; member_id: bigint; account_id: bigint; amount: bigint; period: string; statement_id: string },
  by: 'settlement' | 'credit_line',
): Promise<boolean> {
  const now = ctx.clock.now();
  const wallet = await ensureAccount(db, {
    code: walletCode(credit.member_id),
    type: 'wallet',
    memberId: credit.member_id,
    currency: ctx.config.currency,
    now,
  });
  if ((await balanceOf(db, wallet)) + credit.amount > MAX_BALANCE_MICROS) return false;
  await recordTransfer(db, {
    debitAccountId: credit.account_id,
    creditAccountId: wallet,
    amount: credit.amount,
    currency: ctx.config.currency,
    kind: 'credit_cleared',
    period: credit.period,
    reference: credit.statement_id,
    idempotencyKey: `pending:${credit.id}:clear`,
    now,
  });
  await db.updateTable('pending_credits').set({ state: 'cleared', cleared_by: by, cleared_at: now }).where('id', '=', credit.id).execute();
  return true;
}

export interface PendingCreditView {
  peer: string;
  period: string;
  amount: bigint;
}

/** A member's credits still waiting for their settlement, per peer and period, oldest first. */
export async function pendingCreditsOf(db: Executor, memberId: bigint): Promise<PendingCreditView[]> {
  const rows = await db
    .selectFrom('pending_credits')
    .select(['peer_origin', 'period', (eb) => eb.fn.sum<bigint>('amount').as('amount')])
    .where('member_id', '=', memberId)
    .where('state', '=', 'pending')
    .groupBy(['peer_origin', 'period'])
    .orderBy('period')
    .orderBy('peer_origin')
    .execute();
  return rows.map((r) => ({ peer: r.peer_origin, period: r.period, amount: BigInt(r.amount) }));
}

export function totalOf(credits: readonly PendingCreditView[]): bigint {
  return credits.reduce((sum, c) => sum + c.amount, 0n);
}
