/**
 * A member's card top-up: the instance stores what it is about to ask Stripe for (member, amount,
 * currency) and then creates the Checkout Session, keeping its id, before the member is sent to
 * Stripe. The webhook (webhook.ts) credits only what was stored here. Also the lists of top-ups
 * for the member and for the admin.
 */
import { randomUUID } from 'node:crypto';
import type { Selectable } from 'kysely';
import { z } from 'zod';
import type { CardsConfig } from '../config.ts';
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { AmountMicros } from '../core/input.ts';
import { amountTooLarge, formatAmount, MAX_BALANCE_MICROS } from '../core/money.ts';
import { UUID_PATTERN } from '../db/errors.ts';
import type { CardTopupsTable } from '../db/schema.ts';
import { balanceOf, walletAccountId } from '../ledger/accounts.ts';
import { toMinor } from './currency.ts';
import { callStripe } from './stripe-client.ts';

/** Card top-ups need both Stripe secrets; without them the routes answer `cards_disabled`. */
export function requireCards(ctx: Context): CardsConfig {
  if (!ctx.config.cards) throw new AppError('cards_disabled', 'this instance does not take card payments');
  return ctx.config.cards;
}

export interface TopupView {
  id: string;
  amount: string;
  currency: string;
  state: CardTopupsTable['state'];
  checkout_url: string | null;
  fee: string | null;
  fee_bearer: 'member' | 'instance';
  credited: string | null;
  refunded: string;
  created_at: string;
  completed_at: string | null;
}

type TopupRow = Selectable<CardTopupsTable>;

export function topupView(row: TopupRow): TopupView {
  return {
    id: row.id,
    amount: formatAmount(row.amount),
    currency: row.currency,
    state: row.state,
    checkout_url: row.state === 'open' ? row.checkout_url : null,
    fee: row.fee === null ? null : formatAmount(row.fee),
    fee_bearer: row.fee_bearer,
    credited: row.credited === null ? null : formatAmount(row.credited),
    refunded: formatAmount(row.refunded),
    created_at: row.created_at.toISOString(),
    completed_at: row.completed_at?.toISOString() ?? null,
  };
}

/**
 * POST /api/v1/me/topups and the top-up page's form. Zero is refused by checkTopupAmount, after
 * requireCards: with cards off, any well-formed amount is 404 cards_disabled.
 */
export const TopupInput = z.object({ amount: AmountMicros });

/** The amount a member may pay by card: within the configured bounds and whole in Stripe's smallest unit. */
export function checkTopupAmount(ctx: Context, cards: CardsConfig, amount: bigint): bigint {
  if (amount === 0n) throw new AppError('invalid_amount', 'amount must be greater than zero');
  const c = ctx.config.currency;
  if (amount < cards.minTopup || amount > cards.maxTopup) {
    throw new AppError('invalid_amount', `a card top-up is from ${formatAmount(cards.minTopup)} to ${formatAmount(cards.maxTopup)} ${c}`, {
      field: 'amount',
      minimum: formatAmount(cards.minTopup),
      maximum: formatAmount(cards.maxTopup),
    });
  }
  toMinor(amount, c);
  return amount;
}

/** Stores the top-up, then asks Stripe for a Checkout Session of exactly that; answers where to pay. */
export async function createTopup(
  ctx: Context,
  caller: Caller,
  amountInput: bigint,
): Promise<{ id: string; checkout_url: string; amount: string; currency: string; state: 'open' }> {
  const cards = requireCards(ctx);
  const amount = checkTopupAmount(ctx, cards, amountInput);
  // Refused before the member pays: a credit past the ledger's maximum would only be held for review.
  if ((await balanceOf(ctx.db, await walletAccountId(ctx.db, caller.id))) + amount > MAX_BALANCE_MICROS) throw amountTooLarge('this top-up');
  const currency = ctx.config.currency;
  const id = randomUUID();
  const now = ctx.clock.now();
  await ctx.db
    .insertInto('card_topups')
    .values({
      id,
      member_id: caller.id,
      amount,
      currency,
      session_id: null,
      checkout_url: null,
      state: 'creating',
      fee_bearer: cards.feeBearer,
      fee: null,
      credited: null,
      payment_intent: null,
      charge_id: null,
      problem: null,
      created_at: now,
      completed_at: null,
    })
    .execute();
  const origin = ctx.config.origin;
  let session: { id: string; url: string | null };
  try {
    session = await callStripe(cards, 'the new Checkout Session', (stripe) =>
      stripe.checkout.sessions.create(
        {
          mode: 'payment',
          line_items: [
            {
              quantity: 1,
              price_data: {
                currency: currency.toLowerCase(),
                unit_amount: toMinor(amount, currency),
                product_data: { name: `Wallet top-up for ${caller.username}` },
              },
            },
          ],
          client_reference_id: id,
          metadata: { farthing_topup: id },
          payment_intent_data: { metadata: { farthing_topup: id } },
          success_url: `${origin}/wallet/topup/done?topup=${id}`,
          cancel_url: `${origin}/wallet/topup/cancelled?topup=${id}`,
        },
        { idempotencyKey: `farthing-topup-${id}` },
      ),
    );
  } catch (error) {
    await ctx.db
      .updateTable('card_topups')
      .set({ state: 'failed', problem: error instanceof Error ? error.message.slice(0, 500) : 'Stripe failed' })
      .where('id', '=', id)
      .execute();
    throw error;
  }
  if (typeof session.id !== 'string' || !session.id || typeof session.url !== 'string' || !/^https?:\/\//.test(session.url)) {
    await ctx.db
      .updateTable('card_topups')
      .set({ state: 'failed', problem: 'Stripe answered without a session id or a checkout URL' })
      .where('id', '=', id)
      .execute();
    throw new AppError('unavailable', 'Stripe answered without a place to pay; nothing was charged');
  }
  await ctx.db.updateTable('card_topups').set({ state: 'open', session_id: session.id, checkout_url: session.url }).where('id', '=', id).execute();
  return { id, checkout_url: session.url, amount: formatAmount(amount), currency, state: 'open' };
}

export async function myTopups(ctx: Context, caller: Caller): Promise<TopupView[]> {
  const rows = await ctx.db
    .selectFrom('card_topups')
    .selectAll()
    .where('member_id', '=', caller.id)
    .where('state', '<>', 'creating')
    .orderBy('created_at', 'desc')
    .limit(200)
    .execute();
  return rows.map(topupView);
}

/** One of the caller's top-ups (the success and cancel pages), or not_found. */
export async function myTopup(ctx: Context, caller: Caller, id: unknown): Promise<TopupView> {
  if (typeof id !== 'string' || !UUID_PATTERN.test(id)) throw new AppError('not_found', 'no such top-up');
  const row = await ctx.db.selectFrom('card_topups').selectAll().where('id', '=', id.toLowerCase()).where('member_id', '=', caller.id).executeTakeFirst();
  if (!row) throw new AppError('not_found', 'no such top-up');
  return topupView(row);
}

export interface AdminTopupView extends TopupView {
  username: string;
  session_id: string | null;
  payment_intent: string | null;
  /** Why a top-up waits for the admin (state review): an amount that disagrees, an unknown fee, … */
  problem: string | null;
}

export async function listTopups(ctx: Context, filter: { state?: CardTopupsTable['state'] } = {}): Promise<AdminTopupView[]> {
  let query = ctx.db.selectFrom('card_topups').innerJoin('members', 'members.id', 'card_topups.member_id').selectAll('card_topups').select('members.username');
  if (filter.state) query = query.where('card_topups.state', '=', filter.state);
  const rows = await query.orderBy('card_topups.created_at', 'desc').limit(500).execute();
  return rows.map((r) => ({
    ...topupView(r),
    checkout_url: null,
    username: r.username,
    session_id: r.session_id,
    payment_intent: r.payment_intent,
    problem: r.problem,
  }));
}

export interface ReversalView {
  id: string;
  topup_id: string;
  username: string;
  kind: 'refund' | 'dispute';
  stripe_ref: string;
  amount: string;
  booked: string;
  shortfall: string;
  created_at: string;
}

/** Refunds and lost disputes; with `shortfall`, only those the wallet could not cover in full. */
export async function listReversals(ctx: Context, filter: { shortfall?: boolean } = {}): Promise<ReversalView[]> {
  let query = ctx.db
    .selectFrom('card_reversals')
    .innerJoin('card_topups', 'card_topups.id', 'card_reversals.topup_id')
    .innerJoin('members', 'members.id', 'card_topups.member_id')
    .selectAll('card_reversals')
    .select('members.username');
  if (filter.shortfall) query = query.where('card_reversals.shortfall', '>', 0n);
  const rows = await query.orderBy('card_reversals.id', 'desc').limit(500).execute();
  return rows.map((r) => ({
    id: r.id.toString(),
    topup_id: r.topup_id,
    username: r.username,
    kind: r.kind,
    stripe_ref: r.stripe_ref,
    amount: formatAmount(r.amount),
    booked: formatAmount(r.booked),
    shortfall: formatAmount(r.shortfall),
    created_at: r.created_at.toISOString(),
  }));
}
