/**
 * What members read about their money: the flattrs they gave, what they earned, their wallet's
 * transfers and the flattrs they received. Reads go straight to queries (no services needed).
 */
import { sql } from 'kysely';
import { budgetFor } from '../budgets/service.ts';
import type { Caller, Context } from '../context.ts';
import { formatAmount } from '../core/money.ts';
import { type Period, periodOf } from '../core/period.ts';
import { flattrIri } from '../flattrs/service.ts';
import { balanceOf, walletAccountId } from '../ledger/accounts.ts';
import { actorIri } from '../members/service.ts';
import { pendingCreditsOf, totalOf } from '../settlement/pending.ts';
import { thingView } from '../things/service.ts';

export async function me(ctx: Context, caller: Caller) {
  const period = periodOf(ctx.clock.now());
  const [balance, budget, pending] = await Promise.all([
    walletAccountId(ctx.db, caller.id).then((id) => balanceOf(ctx.db, id)),
    budgetFor(ctx.db, caller.id, period),
    pendingCreditsOf(ctx.db, caller.id),
  ]);
  return {
    username: caller.username,
    actor: actorIri(ctx, caller.username),
    currency: ctx.config.currency,
    /** Spendable: budgets and payouts draw on it. */
    balance: formatAmount(balance),
    /** Credits from other instances waiting for their settlement (src/settlement/pending.ts). */
    pending: formatAmount(totalOf(pending)),
    pending_credits: pending.map((c) => ({ peer: c.peer, period: c.period, amount: formatAmount(c.amount) })),
    budget: formatAmount(budget ?? ctx.config.minBudget),
    role: caller.role,
    period,
  };
}

const thingColumns = [
  'things.id as thing_id',
  'things.url',
  'things.title',
  'things.owner_member_id',
  'owners.username as owner_username',
  'things.verified',
] as const;

export async function myFlattrs(ctx: Context, caller: Caller, period: Period) {
  const rows = await ctx.db
    .selectFrom('flattrs')
    .innerJoin('things', 'things.id', 'flattrs.thing_id')
    // the things flattred may be local (owners) or remote (remote_actors)
    .leftJoin('members as owners', 'owners.id', 'things.owner_member_id')
    .leftJoin('remote_actors', 'remote_actors.id', 'things.owner_actor_id')
    .leftJoin('shares', 'shares.flattr_id', 'flattrs.id')
    .select([
      'flattrs.id',
      'flattrs.created_at',
      'shares.gross',
      ...thingColumns,
      'things.uri',
      'remote_actors.iri as owner_actor_iri',
      'remote_actors.handle as owner_handle',
    ])
    .where('flattrs.member_id', '=', caller.id)
    .where('flattrs.period', '=', period)
    .where('flattrs.withdrawn_at', 'is', null)
    .orderBy('flattrs.created_at')
    .orderBy('flattrs.seq')
    .execute();
  return {
    period,
    items: rows.map((r) => ({
      id: r.id,
      uri: flattrIri(ctx, r.id),
      thing: thingView(ctx, { ...r, id: r.thing_id }),
      created_at: r.created_at.toISOString(),
      /** What this flattr gave, once the period is closed. */
      amount: r.gross === null ? null : formatAmount(r.gross),
    })),
  };
}

export async function myEarnings(ctx: Context, caller: Caller, period: Period) {
  const closed = await ctx.db.selectFrom('closes').select('stage').where('period', '=', period).executeTakeFirst();
  const rows = await ctx.db
    .selectFrom('things')
    .innerJoin('members as owners', 'owners.id', 'things.owner_member_id')
    .innerJoin('flattrs', (join) => join.onRef('flattrs.thing_id', '=', 'things.id').on('flattrs.period', '=', period).on('flattrs.withdrawn_at', 'is', null))
    .leftJoin('shares', 'shares.flattr_id', 'flattrs.id')
    .select([
      ...thingColumns,
      (eb) => eb.fn.countAll<bigint>().as('flattrs'),
      sql<bigint>`COALESCE(sum(shares.net), 0)::bigint`.as('amount'),
      sql<bigint>`COALESCE(sum(shares.net) FILTER (WHERE shares.disposition = 'held'), 0)::bigint`.as('held'),
    ])
    .where('things.owner_member_id', '=', caller.id)
    .groupBy(['things.id', 'owners.username'])
    .orderBy('things.created_at')
    .execute();
  const items = rows.map((r) => ({
    thing: thingView(ctx, { ...r, id: r.thing_id }),
    flattrs: Number(r.flattrs),
    amount: formatAmount(r.amount),
    held: formatAmount(r.held),
  }));
  const total = rows.reduce((sum, r) => sum + r.amount, 0n);
  // Credits from other instances for this month: pending until their settlement, then spendable.
  const fromPeers = await ctx.db
    .selectFrom('pending_credits')
    .select(['peer_origin', 'state', (eb) => eb.fn.sum<bigint>('amount').as('amount')])
    .where('member_id', '=', caller.id)
    .where('period', '=', period)
    .groupBy(['peer_origin', 'state'])
    .orderBy('peer_origin')
    .orderBy('state', 'desc')
    .execute();
  return {
    period,
    closed: closed?.stage === 'done',
    total: formatAmount(total),
    items,
    from_peers: fromPeers.map((r) => ({
      peer: r.peer_origin,
      amount: formatAmount(BigInt(r.amount)),
      state: r.state === 'pending' ? ('pending' as const) : ('spendable' as const),
    })),
  };
}

/** The transfers of the member's wallet and of their pending accounts (credits from peers), in a month. */
export async function myLedger(ctx: Context, caller: Caller, period: Period) {
  const wallet = await walletAccountId(ctx.db, caller.id);
  const pendingAccounts = (await ctx.db.selectFrom('pending_credits').select('account_id').distinct().where('member_id', '=', caller.id).execute()).map(
    (r) => r.account_id,
  );
  const mine = [wallet, ...pendingAccounts];
  const rows = await ctx.db
    .selectFrom('transfers')
    .select(['id', 'kind', 'amount', 'reference', 'period', 'created_at', 'debit_account_id', 'credit_account_id'])
    .where((eb) => eb.or([eb('debit_account_id', 'in', mine), eb('credit_account_id', 'in', mine)]))
    .where('period', '=', period)
    .orderBy('id')
    .execute();
  return {
    period,
    items: rows.map((r) => ({
      id: r.id.toString(),
      kind: r.kind,
      /** wallet: spendable; pending: credits from a peer waiting for their settlement (their clearing shows on the wallet). */
      account: r.credit_account_id === wallet || r.debit_account_id === wallet ? ('wallet' as const) : ('pending' as const),
      direction: r.credit_account_id === wallet || (r.debit_account_id !== wallet && mine.includes(r.credit_account_id)) ? ('in' as const) : ('out' as const),
      amount: formatAmount(r.amount),
      reference: r.reference,
      period: r.period,
      created_at: r.created_at.toISOString(),
    })),
  };
}

/** Flattrs received on the caller's things; `pending` until the period's close pays them. */
export async function myIncoming(ctx: Context, caller: Caller, period: Period) {
  const rows = await ctx.db
    .selectFrom('flattrs')
    .innerJoin('things', 'things.id', 'flattrs.thing_id')
    .innerJoin('members as owners', 'owners.id', 'things.owner_member_id')
    .innerJoin('members as givers', 'givers.id', 'flattrs.member_id')
    .leftJoin('shares', 'shares.flattr_id', 'flattrs.id')
    .leftJoin('holds', (join) => join.onRef('holds.period', '=', 'flattrs.period').onRef('holds.member_id', '=', 'things.owner_member_id'))
    .select(['flattrs.id', 'flattrs.created_at', 'givers.username as giver', 'shares.disposition', 'shares.net', 'holds.state as hold_state', ...thingColumns])
    .where('things.owner_member_id', '=', caller.id)
    .where('flattrs.period', '=', period)
    .where('flattrs.withdrawn_at', 'is', null)
    .orderBy('flattrs.created_at')
    .execute();
  // Flattrs from members of other instances, from their Likes: pending until their statement pays.
  const remote = await ctx.db
    .selectFrom('incoming_flattrs')
    .innerJoin('things', 'things.id', 'incoming_flattrs.thing_id')
    .innerJoin('members as owners', 'owners.id', 'things.owner_member_id')
    .select(['incoming_flattrs.id', 'incoming_flattrs.received_at', 'incoming_flattrs.actor_iri', 'incoming_flattrs.state', ...thingColumns])
    .where('things.owner_member_id', '=', caller.id)
    .where('incoming_flattrs.period', '=', period)
    .where('incoming_flattrs.withdrawn_at', 'is', null)
    .execute();
  const items = [
    ...rows.map((r) => ({
      id: r.id,
      thing: thingView(ctx, { ...r, id: r.thing_id }),
      from: actorIri(ctx, r.giver),
      created_at: r.created_at.toISOString(),
      state: incomingState(r.disposition, r.hold_state),
      amount: r.net === null ? null : formatAmount(r.net),
    })),
    ...remote.map((r) => ({
      id: r.id,
      thing: thingView(ctx, { ...r, id: r.thing_id }),
      from: r.actor_iri,
      created_at: r.received_at.toISOString(),
      state: r.state,
      amount: null,
    })),
  ];
  items.sort((a, b) => a.created_at.localeCompare(b.created_at));
  return { period, items };
}

function incomingState(disposition: string | null, hold: string | null): 'pending' | 'paid' | 'held' | 'expired' {
  if (disposition === null) return 'pending';
  if (disposition === 'held') return hold === 'released' ? 'paid' : hold === 'expired' ? 'expired' : 'held';
  return 'paid';
}
