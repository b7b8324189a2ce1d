/**
 * Netting and paying, per peer and period. Once this instance's statement to the peer (what we
 * owe: payable) and the peer's statement to us (what it owes: receivable) are both accepted, the
 * net is payable - receivable: positive, we pay it; negative, the peer does; zero, settled.
 *
 * What is not paid carries into the next period: a payment covers every accepted period with
 * that peer still unpaid, so its amount is the sum of their nets (`due`), and that sum decides
 * who pays — only one side can, so the two never pay parts of the same set at once. Each covered
 * settlement records the latest covered period (`paid_with`); the creditor's confirmation
 * settles them together. Both sides compute the same sums from the same accepted statements,
 * and the paid message names the periods it covers, so the creditor checks the amount against
 * its own settlements. A set whose nets add up to zero is settled at once, on each side as soon
 * as it sees the set accepted.
 *
 * The ledger (both instances): the close credited peer:<origin> with what we owe; accepting the
 * peer's statement debited it for what our creators received from it; so its balance is the net
 * still open, across periods. The debtor's payment moves the amount from peer:<origin> to the
 * 'settlement' account (money leaving); the creditor's confirmation moves it from 'settlement' to
 * peer:<origin> (money arriving). Each step is told to the peer. Our creators' credits from the
 * peer's statements wait in pending accounts until their period is settled (pending.ts).
 */
import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { rule } from '../core/input.ts';
import { settlementMessageIri } from '../core/iris.ts';
import { formatAmount } from '../core/money.ts';
import type { SettlementsTable } from '../db/schema.ts';
import { type Executor, ensureAccount, ensureSystemAccount, peerCode } from '../ledger/accounts.ts';
import { recordTransfer } from '../ledger/transfers.ts';
import { instanceActorIri, queueMessage, wakeSettlementRelay } from './channel.ts';
import { clearCredits } from './pending.ts';

type SettlementRow = Pick<Selectable<SettlementsTable>, 'id' | 'peer_origin' | 'period' | 'payable' | 'receivable' | 'state' | 'reference' | 'paid_with'>;
const COLUMNS = ['id', 'peer_origin', 'period', 'payable', 'receivable', 'state', 'reference', 'paid_with'] as const;

/** payable - receivable: what we owe the peer for that period (negative: what it owes us). */
function netOf(row: Pick<SettlementRow, 'payable' | 'receivable'>): bigint | null {
  return row.payable !== null && row.receivable !== null ? row.payable - row.receivable : null;
}

export async function ensureSettlement(db: Executor, peer: string, period: string): Promise<void> {
  await db
    .insertInto('settlements')
    .values({ id: randomUUID(), peer_origin: peer, period, payable: null, receivable: null, state: 'open', reference: null, paid_at: null, settled_at: null })
    .onConflict((oc) => oc.columns(['peer_origin', 'period']).doNothing())
    .execute();
}

/** Recomputes payable, receivable and the state from the current statements of both directions. */
export async function refreshSettlement(db: Executor, peer: string, period: string): Promise<void> {
  await ensureSettlement(db, peer, period);
  const current = await db
    .selectFrom('statements')
    .select(['direction', 'state', 'total'])
    .where('peer_origin', '=', peer)
    .where('period', '=', period)
    .where('state', '<>', 'superseded')
    .execute();
  const out = current.filter((s) => s.direction === 'out');
  const inn = current.filter((s) => s.direction === 'in');
  const accepted = (list: typeof current) => (list.length > 0 && list.every((s) => s.state === 'accepted') ? list.reduce((n, s) => n + s.total, 0n) : null);
  const payable = accepted(out);
  const receivable = accepted(inn);
  const disputed = current.some((s) => s.state === 'disputed');
  const row = await db.selectFrom('settlements').select(['state']).where('peer_origin', '=', peer).where('period', '=', period).executeTakeFirstOrThrow();
  if (row.state === 'paid' || row.state === 'settled') return;
  const state = disputed ? 'disputed' : payable !== null && receivable !== null ? 'accepted' : 'open';
  await db.updateTable('settlements').set({ payable, receivable, state }).where('peer_origin', '=', peer).where('period', '=', period).execute();
  if (state !== 'accepted') return;
  // Nothing to pay, all accepted unpaid periods with the peer taken together: settled at once.
  const covered = await unpaid(db, peer);
  if (sumOfNets(covered) === 0n) {
    await db
      .updateTable('settlements')
      .set({ state: 'settled', paid_with: latestOf(covered) })
      .where(
        'id',
        'in',
        covered.map((r) => r.id),
      )
      .execute();
  }
}

/** What the next payment with the peer covers: every accepted settlement not paid yet, oldest first. */
async function unpaid(db: Executor, peer: string): Promise<SettlementRow[]> {
  return db.selectFrom('settlements').select(COLUMNS).where('peer_origin', '=', peer).where('state', '=', 'accepted').orderBy('period').forUpdate().execute();
}

function latestOf(rows: readonly SettlementRow[]): string {
  return rows.reduce((latest, r) => (r.period > latest ? r.period : latest), '');
}

function sumOfNets(rows: readonly SettlementRow[]): bigint {
  return rows.reduce((sum, row) => sum + (netOf(row) ?? 0n), 0n);
}

/** who pays an amount of payable - receivable */
function debtorOf(net: bigint | null): 'us' | 'peer' | null {
  return net === null || net === 0n ? null : net > 0n ? 'us' : 'peer';
}

/**
 * The API's view of a settlement. `due` is what a payment recorded on it moves and `covers` the
 * periods that payment covers: for an accepted one, every accepted unpaid period with the peer
 * (its own net plus what carried); for a paid or settled one, the payment it was part of.
 */
export function settlementView(row: SettlementRow, due: { amount: bigint; covers: string[] } | null = null) {
  const net = netOf(row);
  return {
    id: row.id,
    peer: row.peer_origin,
    period: row.period,
    payable: row.payable === null ? null : formatAmount(row.payable),
    receivable: row.receivable === null ? null : formatAmount(row.receivable),
    net: net === null ? null : formatAmount(net < 0n ? -net : net),
    /** Who pays the net: 'us' (this instance), 'peer', or null while open or even. */
    debtor: debtorOf(net),
    state: row.state,
    reference: row.reference,
    covers: due?.covers ?? [],
    due: due === null ? null : formatAmount(due.amount < 0n ? -due.amount : due.amount),
    due_debtor: due === null ? null : debtorOf(due.amount),
    paid_with: row.paid_with,
  };
}

export async function listSettlements(ctx: Context, filter: { peer?: string; period?: string }) {
  let query = ctx.db.selectFrom('settlements').select(COLUMNS).orderBy('period', 'desc').orderBy('peer_origin');
  if (filter.peer) query = query.where('peer_origin', '=', filter.peer);
  if (filter.period) query = query.where('period', '=', filter.period);
  const rows = await query.execute();
  if (rows.length === 0) return [];
  const related = await relatedTo(ctx.db, [...new Set(rows.map((r) => r.peer_origin))]);
  return rows.map((row) => settlementView(row, dueOf(row, related)));
}

/**
 * What carries and what was paid together, per peer and across periods a filter may hide: the
 * peers' accepted settlements and those paid by some payment, oldest first.
 */
function relatedTo(db: Executor, peers: string[]): Promise<SettlementRow[]> {
  return db
    .selectFrom('settlements')
    .select(COLUMNS)
    .where('peer_origin', 'in', peers)
    .where((eb) => eb.or([eb('state', '=', 'accepted'), eb('paid_with', 'is not', null)]))
    .orderBy('period')
    .execute();
}

/** The settlements as CSV rows, the header first (API and CLI exports). */
export async function settlementsCsv(ctx: Context, filter: { peer?: string; period?: string }): Promise<(string | null)[][]> {
  const items = await listSettlements(ctx, filter);
  return [
    ['id', 'peer', 'period', 'payable', 'receivable', 'net', 'debtor', 'state', 'reference', 'due', 'due_debtor', 'covers', 'paid_with'],
    ...items.map((i) => [
      i.id,
      i.peer,
      i.period,
      i.payable,
      i.receivable,
      i.net,
      i.debtor,
      i.state,
      i.reference,
      i.due,
      i.due_debtor,
      i.covers.join(' '),
      i.paid_with,
    ]),
  ];
}

function dueOf(row: SettlementRow, related: readonly SettlementRow[]): { amount: bigint; covers: string[] } | null {
  const samePeer = related.filter((r) => r.peer_origin === row.peer_origin);
  if (row.state === 'accepted') {
    const covered = samePeer.filter((r) => r.state === 'accepted');
    return { amount: sumOfNets(covered), covers: covered.map((r) => r.period) };
  }
  if (row.paid_with !== null) {
    const group = samePeer.filter((r) => r.paid_with === row.paid_with);
    return { amount: sumOfNets(group), covers: group.map((r) => r.period) };
  }
  return null;
}

async function getSettlement(db: Executor, id: string): Promise<SettlementRow> {
  const row = /^[0-9a-f-]{36}$/i.test(id)
    ? await db.selectFrom('settlements').select(COLUMNS).where('id', '=', id.toLowerCase()).forUpdate().executeTakeFirst()
    : undefined;
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

/** The view of one settlement after a change (its due computed as listSettlements does). */
async function viewOf(db: Executor, id: string) {
  const row = await db.selectFrom('settlements').select(COLUMNS).where('id', '=', id).executeTakeFirstOrThrow();
  return settlementView(row, dueOf(row, await relatedTo(db, [row.peer_origin])));
}

/**
 * The debtor admin records the payment, with the bank's reference, from any of the settlements
 * it covers: every accepted period with the peer still unpaid (what carried into the latest).
 */
/** POST /api/v1/admin/settlements/{id}/paid and the settlements page: the payment's reference, 1 to 200 characters. */
export const SettlementPaidInput = z.object({
  reference: rule(z.string().meta({ minLength: 1, maxLength: 200 }), (reference) => {
    if (reference.trim() === '' || reference.length > 200) {
      throw new AppError('invalid_request', "reference must be the payment's reference (1 to 200 characters)", { field: 'reference' });
    }
    return reference;
  }),
});

/** `reference` as SettlementPaidInput parsed it. */
export async function markPaid(ctx: Context, id: string, reference: string) {
  const view = await ctx.db.transaction().execute(async (trx) => {
    const row = await getSettlement(trx, id);
    if (row.state === 'paid' || row.state === 'settled') {
      if (row.reference === reference) return viewOf(trx, row.id);
      throw new AppError('already_paid', `this settlement is ${row.state} already (reference ${row.reference})`);
    }
    if (row.state !== 'accepted') throw new AppError('settlement_not_accepted', `both statements must be accepted first (the settlement is ${row.state})`);
    const covered = await unpaid(trx, row.peer_origin);
    const due = sumOfNets(covered);
    if (due <= 0n) throw new AppError('forbidden', 'the peer owes the net of the unpaid periods: it records the payment, and this instance confirms it');
    const leader = covered.find((r) => r.period === latestOf(covered)) as SettlementRow;
    const acc = await accounts(trx, ctx, row.peer_origin);
    await recordTransfer(trx, {
      debitAccountId: acc.peer,
      creditAccountId: acc.settlement,
      amount: due,
      currency: ctx.config.currency,
      kind: 'settlement_paid',
      period: leader.period,
      reference,
      idempotencyKey: `settlement:${leader.id}:paid`,
      now: ctx.clock.now(),
    });
    await trx
      .updateTable('settlements')
      .set({ state: 'paid', reference, paid_at: ctx.clock.now(), paid_with: leader.period })
      .where(
        'id',
        'in',
        covered.map((r) => r.id),
      )
      .execute();
    const periods = covered.map((r) => r.period);
    const message = {
      type: 'FlattrSettlementPaid',
      id: settlementMessageIri(ctx.config.origin, randomUUID()),
      issuer: instanceActorIri(ctx.config.origin),
      period: leader.period,
      periods,
      amount: due.toString(),
      reference,
    };
    await queueMessage(trx, ctx, row.peer_origin, message.id, JSON.stringify(message));
    return viewOf(trx, row.id);
  });
  wakeSettlementRelay(ctx);
  return view;
}

/** The creditor admin confirms the payment arrived: every settlement it covered is settled on both sides. */
export async function confirmReceived(ctx: Context, id: string) {
  const view = await ctx.db.transaction().execute(async (trx) => {
    const row = await getSettlement(trx, id);
    if (row.state === 'settled') return viewOf(trx, row.id);
    if (row.state !== 'paid' || row.paid_with === null)
      throw new AppError('settlement_not_paid', `the peer has not recorded a payment yet (the settlement is ${row.state})`);
    const group = await trx
      .selectFrom('settlements')
      .select(COLUMNS)
      .where('peer_origin', '=', row.peer_origin)
      .where('paid_with', '=', row.paid_with)
      .where('state', '=', 'paid')
      .orderBy('period')
      .forUpdate()
      .execute();
    const received = -sumOfNets(group);
    if (received <= 0n) throw new AppError('forbidden', 'this instance owes this payment: the peer confirms it');
    const leader = group.find((r) => r.period === row.paid_with) ?? row;
    const acc = await accounts(trx, ctx, row.peer_origin);
    await recordTransfer(trx, {
      debitAccountId: acc.settlement,
      creditAccountId: acc.peer,
      amount: received,
      currency: ctx.config.currency,
      kind: 'settlement_received',
      period: leader.period,
      reference: leader.reference,
      idempotencyKey: `settlement:${leader.id}:received`,
      now: ctx.clock.now(),
    });
    await trx
      .updateTable('settlements')
      .set({ state: 'settled', settled_at: ctx.clock.now() })
      .where(
        'id',
        'in',
        group.map((r) => r.id),
      )
      .execute();
    // The money arrived: our creators' credits from these periods become spendable.
    await clearCredits(trx, ctx, row.peer_origin);
    const message = {
      type: 'FlattrSettlementConfirmed',
      id: settlementMessageIri(ctx.config.origin, randomUUID()),
      issuer: instanceActorIri(ctx.config.origin),
      period: leader.period,
      periods: group.map((r) => r.period),
      amount: received.toString(),
    };
    await queueMessage(trx, ctx, row.peer_origin, message.id, JSON.stringify(message));
    return viewOf(trx, row.id);
  });
  wakeSettlementRelay(ctx);
  return view;
}

const PERIOD = /^\d{4}-(0[1-9]|1[0-2])$/;

/** The periods a paid or confirmed message covers (older peers name only `period`). */
function periodsOf(message: { period?: unknown; periods?: unknown }): { period: string; periods: string[] } {
  const period = String(message.period);
  const periods = Array.isArray(message.periods) ? message.periods.slice(0, 1000).map(String) : [period];
  if (
    !PERIOD.test(period) ||
    periods.length === 0 ||
    !periods.every((p) => PERIOD.test(p) && p <= period) ||
    !periods.includes(period) ||
    new Set(periods).size !== periods.length
  ) {
    throw new AppError('invalid_request', 'period must be a month and periods the distinct months up to it that the payment covers');
  }
  return { period, periods };
}

/** The peer says it paid us: the settlements it covers wait for our confirmation. */
export async function onPaidMessage(
  db: Executor,
  ctx: Context,
  peer: string,
  message: { period?: unknown; periods?: unknown; amount?: unknown; reference?: unknown },
): Promise<void> {
  const { period, periods } = periodsOf(message);
  const rows = await db.selectFrom('settlements').select(COLUMNS).where('peer_origin', '=', peer).where('period', 'in', periods).forUpdate().execute();
  if (rows.length > 0 && rows.every((r) => (r.state === 'paid' || r.state === 'settled') && r.paid_with === period)) return;
  const done = rows.filter((r) => r.state === 'paid' || r.state === 'settled');
  // Both sides paid the same period (their views of what was accepted differed for a moment):
  // money moved twice, which only the admins can sort out; the refusal says so.
  if (done.length > 0)
    throw new AppError(
      'already_paid',
      `${done.map((r) => `${r.period} is ${r.state} here (with ${r.paid_with})`).join('; ')}: both sides paid it; the admins must sort this out`,
    );
  const unaccepted = periods.filter((p) => rows.find((r) => r.period === p)?.state !== 'accepted');
  if (unaccepted.length > 0) throw new AppError('settlement_not_accepted', `this instance has not accepted both statements of ${unaccepted.join(', ')} yet`);
  const owed = -sumOfNets(rows);
  if (owed <= 0n) throw new AppError('forbidden', `this instance owes the net of ${periods.join(', ')} (or nothing): it records that payment itself`);
  if (String(message.amount) !== owed.toString())
    throw new AppError('invalid_amount', `the net this instance is owed for ${periods.join(', ')} is ${owed}, not ${String(message.amount)}`);
  await db
    .updateTable('settlements')
    .set({
      state: 'paid',
      reference: typeof message.reference === 'string' ? message.reference.slice(0, 200) : null,
      paid_at: ctx.clock.now(),
      paid_with: period,
    })
    .where(
      'id',
      'in',
      rows.map((r) => r.id),
    )
    .execute();
}

/** The peer confirms our payment arrived. */
export async function onConfirmedMessage(db: Executor, ctx: Context, peer: string, message: { period?: unknown; periods?: unknown }): Promise<void> {
  const { period } = periodsOf(message);
  const result = await db
    .updateTable('settlements')
    .set({ state: 'settled', settled_at: ctx.clock.now() })
    .where('peer_origin', '=', peer)
    .where('paid_with', '=', period)
    .where('state', 'in', ['paid', 'settled'])
    .executeTakeFirst();
  if (result.numUpdatedRows === 0n) throw new AppError('settlement_not_paid', 'this instance has not paid that period');
  // Our payment of the net netted what the peer owed us: those credits are spendable now.
  await clearCredits(db, ctx, peer);
}
