/**
 * Netting and paying, per peer and period. Once this instance's statement to the peer (what we
 * owe: payable) and the peer's statement to us (what it owes: receivable) are both accepted, the
 * net is payable - receivable: positive, we pay it; negative, the peer does; zero, settled.
 *
 * The ledger (both instances): the close credited peer:<origin> with what we owe; accepting the
 * peer's statement debited it for what our creators received from it; so its balance is the net
 * still open, across periods (what is not settled carries over). The debtor's payment moves the
 * net from peer:<origin> to the 'settlement' account (money leaving); the creditor's confirmation
 * moves it from 'settlement' to peer:<origin> (money arriving). Each step is told to the peer.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from '../context.ts';
import type { SettlementsTable } from '../db/schema.ts';
import { AppError } from '../core/errors.ts';
import { formatAmount } from '../core/money.ts';
import { ensureAccount, ensureSystemAccount, type Executor } from '../ledger/accounts.ts';
import { recordTransfer } from '../ledger/transfers.ts';
import { peerCode } from '../close/stages.ts';
import { instanceActorIri, queueMessage, wakeSettlementRelay } from './channel.ts';

type SettlementRow = Pick<SettlementsTable, 'id' | 'peer_origin' | 'period' | 'payable' | 'receivable' | 'state' | 'reference'>;

export async function ensureSettlement(db: Executor, peer: string, period: string): Promise<void> {
  await db.insertInto('settlements').values({ id: randomUUID(), peer_origin: peer, period, payable: null, receivable: null, state: 'open', reference: null, paid_at: null, settled_at: null })
    .onConflict((oc) => oc.columns(['peer_origin', 'period']).doNothing()).execute();
}

/** Recomputes payable, receivable and the state from the current statements of both directions. */
export async function refreshSettlement(db: Executor, peer: string, period: string): Promise<void> {
  await ensureSettlement(db, peer, period);
  const current = await db.selectFrom('statements').select(['direction', 'state', 'total']).where('peer_origin', '=', peer).where('period', '=', period)
    .where('state', '<>', 'superseded').execute();
  const out = current.filter((s) => s.direction === 'out');
  const inn = current.filter((s) => s.direction === 'in');
  const accepted = (list: typeof current) => (list.length > 0 && list.every((s) => s.state === 'accepted') ? list.reduce((n, s) => n + s.total, 0n) : null);
  const payable = accepted(out);
  const receivable = accepted(inn);
  const disputed = current.some((s) => s.state === 'disputed');
  const row = await db.selectFrom('settlements').select(['state']).where('peer_origin', '=', peer).where('period', '=', period).executeTakeFirstOrThrow();
  if (row.state === 'paid' || row.state === 'settled') return;
  const state = disputed ? 'disputed' : payable !== null && receivable !== null ? (payable === receivable ? 'settled' : 'accepted') : 'open';
  await db.updateTable('settlements').set({ payable, receivable, state }).where('peer_origin', '=', peer).where('period', '=', period).execute();
}

export function settlementView(row: SettlementRow) {
  const net = row.payable !== null && row.receivable !== null ? row.payable - row.receivable : null;
  return {
    id: row.id,
    peer: row.peer_origin,
    period: row.period,
    payable: row.payable === null ? null : formatAmount(row.payable),
    receivable: row.receivable === null ? null : formatAmount(row.receivable),
    net: net === null ? null : formatAmount(net < 0n ? -net : net),
    /** Who pays the net: 'us' (this instance), 'peer', or null while open or even. */
    debtor: (net === null || net === 0n ? null : net > 0n ? 'us' : 'peer') as 'us' | 'peer' | null,
    state: row.state,
    reference: row.reference,
  };
}

export async function listSettlements(ctx: Context, filter: { peer?: string; period?: string }) {
  let query = ctx.db.selectFrom('settlements').select(['id', 'peer_origin', 'period', 'payable', 'receivable', 'state', 'reference']).orderBy('period', 'desc').orderBy('peer_origin');
  if (filter.peer) query = query.where('peer_origin', '=', filter.peer);
  if (filter.period) query = query.where('period', '=', filter.period);
  return (await query.execute()).map(settlementView);
}

async function getSettlement(db: Executor, id: string): Promise<SettlementRow> {
  const row = /^[0-9a-f-]{36}$/i.test(id) ? await db.selectFrom('settlements').select(['id', 'peer_origin', 'period', 'payable', 'receivable', 'state', 'reference']).where('id', '=', id.toLowerCase()).forUpdate().executeTakeFirst() : undefined;
  if (!row) throw new AppError('not_found', 'no such settlement');
  return row;
}

async function accounts(db: Executor, ctx: Context, peer: string) {
  const now = ctx.clock.now();
  return {
    peer: await ensureAccount(db, { code: peerCode(peer), type: 'peer', currency: ctx.config.currency, now }),
    settlement: await ensureSystemAccount(db, 'settlement', ctx.config.currency, now),
  };
}

/** The debtor admin records the payment of the net, with the bank's reference. */
export async function markPaid(ctx: Context, id: string, reference: unknown) {
  if (typeof reference !== 'string' || reference.trim() === '' || reference.length > 200) {
    throw new AppError('invalid_request', 'reference must be the payment\'s reference (1 to 200 characters)', { field: 'reference' });
  }
  const view = await ctx.db.transaction().execute(async (trx) => {
    const row = await getSettlement(trx, id);
    const v = settlementView(row);
    if (row.state === 'paid' || row.state === 'settled') {
      if (row.reference === reference) return v;
      throw new AppError('already_paid', `this settlement is ${row.state} already (reference ${row.reference})`);
    }
    if (row.state !== 'accepted') throw new AppError('settlement_not_accepted', `both statements must be accepted first (the settlement is ${row.state})`);
    if (v.debtor !== 'us') throw new AppError('forbidden', 'the peer owes this net: it records the payment, and this instance confirms it');
    const net = (row.payable as bigint) - (row.receivable as bigint);
    const acc = await accounts(trx, ctx, row.peer_origin);
    await recordTransfer(trx, { debitAccountId: acc.peer, creditAccountId: acc.settlement, amount: net, currency: ctx.config.currency, kind: 'settlement_paid', period: row.period, reference, idempotencyKey: `settlement:${row.id}:paid`, now: ctx.clock.now() });
    await trx.updateTable('settlements').set({ state: 'paid', reference, paid_at: ctx.clock.now() }).where('id', '=', row.id).execute();
    const message = { type: 'FlattrSettlementPaid', id: `${ctx.config.origin}/settlement/messages/${randomUUID()}`, issuer: instanceActorIri(ctx.config.origin), period: row.period, amount: net.toString(), reference };
    await queueMessage(trx, ctx, row.peer_origin, message.id, JSON.stringify(message));
    return { ...v, state: 'paid' as const, reference };
  });
  wakeSettlementRelay(ctx);
  return view;
}

/** The creditor admin confirms the net arrived: settled on both sides. */
export async function confirmReceived(ctx: Context, id: string) {
  const view = await ctx.db.transaction().execute(async (trx) => {
    const row = await getSettlement(trx, id);
    const v = settlementView(row);
    if (row.state === 'settled') return v;
    if (row.state !== 'paid') throw new AppError('settlement_not_paid', `the peer has not recorded a payment yet (the settlement is ${row.state})`);
    if (v.debtor !== 'peer') throw new AppError('forbidden', 'this instance owes this net: the peer confirms it');
    const net = (row.receivable as bigint) - (row.payable as bigint);
    const acc = await accounts(trx, ctx, row.peer_origin);
    await recordTransfer(trx, { debitAccountId: acc.settlement, creditAccountId: acc.peer, amount: net, currency: ctx.config.currency, kind: 'settlement_received', period: row.period, reference: row.reference, idempotencyKey: `settlement:${row.id}:received`, now: ctx.clock.now() });
    await trx.updateTable('settlements').set({ state: 'settled', settled_at: ctx.clock.now() }).where('id', '=', row.id).execute();
    const message = { type: 'FlattrSettlementConfirmed', id: `${ctx.config.origin}/settlement/messages/${randomUUID()}`, issuer: instanceActorIri(ctx.config.origin), period: row.period, amount: net.toString() };
    await queueMessage(trx, ctx, row.peer_origin, message.id, JSON.stringify(message));
    return { ...v, state: 'settled' as const };
  });
  wakeSettlementRelay(ctx);
  return view;
}

/** The peer says it paid us: the settlement waits for our confirmation. */
export async function onPaidMessage(ctx: Context, peer: string, message: { period?: unknown; amount?: unknown; reference?: unknown }): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('settlements').select(['id', 'payable', 'receivable', 'state']).where('peer_origin', '=', peer).where('period', '=', String(message.period)).forUpdate().executeTakeFirst();
    if (!row || row.payable === null || row.receivable === null) throw new AppError('settlement_not_accepted', 'this instance has not accepted both statements of that period');
    if (row.state === 'paid' || row.state === 'settled') return;
    const owed = row.receivable - row.payable;
    if (String(message.amount) !== owed.toString()) throw new AppError('invalid_amount', `the net this instance is owed is ${owed}, not ${String(message.amount)}`);
    await trx.updateTable('settlements').set({ state: 'paid', reference: typeof message.reference === 'string' ? message.reference.slice(0, 200) : null, paid_at: ctx.clock.now() }).where('id', '=', row.id).execute();
  });
}

/** The peer confirms our payment arrived. */
export async function onConfirmedMessage(ctx: Context, peer: string, message: { period?: unknown }): Promise<void> {
  const result = await ctx.db.updateTable('settlements').set({ state: 'settled', settled_at: ctx.clock.now() })
    .where('peer_origin', '=', peer).where('period', '=', String(message.period)).where('state', 'in', ['paid', 'settled']).executeTakeFirst();
  if (result.numUpdatedRows === 0n) throw new AppError('settlement_not_paid', 'this instance has not paid that period');
}
