/**
 * What Stripe tells the instance, through POST /stripe/webhook. Each event is verified with the
 * official library (stripe.webhooks.constructEvent over the raw body) before anything is read, and
 * each handled event id is kept, so that a replayed delivery changes nothing.
 *
 * - checkout.session.completed (and .async_payment_succeeded): the session is looked up among the
 *   ones the instance created and fetched again from the Stripe API; only a paid session whose
 *   amount and currency are the stored ones is credited, once (the deposit's reference is the
 *   session id). The card fee is read from the charge's balance transaction. A disagreement, or a
 *   fee that cannot be read, leaves the top-up in state `review` for the admin, uncredited.
 * - checkout.session.expired: an unpaid session Stripe confirms expired; the top-up is `failed`.
 * - charge.refunded: the charge is fetched again; what Stripe refunded since the last event leaves
 *   the wallet (to external) as far as the wallet holds it; the rest is a shortfall for the admin.
 * - charge.dispute.closed with status lost: the same for the disputed amount, once per dispute.
 *   (charge.dispute.created is not acted on: a dispute may still be won; see the README.)
 * Every other event is acknowledged and ignored.
 */
import type { Transaction } from 'kysely';
import type { CardsConfig } from '../config.ts';
import type { Context } from '../context.ts';
import { AppError, isAppError } from '../core/errors.ts';
import { parseInput } from '../core/input.ts';
import { formatAmount } from '../core/money.ts';
import { periodOf } from '../core/period.ts';
import type { DB } from '../db/schema.ts';
import { balanceOf, EXTERNAL, ensureAccount, ensureSystemAccount, lockAccount, walletAccountId } from '../ledger/accounts.ts';
import { recordTransfer } from '../ledger/transfers.ts';
import { DepositInput, recordDeposit } from '../wallet/service.ts';
import { fromMinor, toMinor } from './currency.ts';
import { callStripe, constructStripeEvent } from './stripe-client.ts';

/**
 * The instance's card fees account: the fees it bore for members (FARTHING_CARD_FEE_BEARER=instance).
 * An expense, so its balance is minus what it bore; the self-check holds it to the top-ups.
 */
export const CARD_FEES = 'card_fees';

/** The reference of a card top-up's deposit (recordDeposit keys its idempotency on it). */
export const depositReference = (sessionId: string) => `stripe:${sessionId}`;

export interface WebhookOutcome {
  received: true;
  event: string;
  type: string;
  /** What the instance did: credited, review, refund_booked, dispute_booked, ignored, duplicate, … */
  outcome: string;
}

/** Verifies the signature (400 invalid_signature, nothing recorded), then handles the event once. */
export async function receiveStripeEvent(ctx: Context, body: Buffer, signature: string | string[] | undefined): Promise<WebhookOutcome> {
  const cards = ctx.config.cards;
  if (!cards) throw new AppError('cards_disabled', 'this instance does not take card payments');
  if (typeof signature !== 'string' || signature.length === 0 || signature.length > 2000) {
    throw new AppError('invalid_signature', 'a Stripe webhook carries one Stripe-Signature header');
  }
  let event: { id: string; type: string; data: { object: Record<string, unknown> } };
  try {
    event = (await constructStripeEvent(body, signature, cards.webhookSecret)) as unknown as typeof event;
  } catch (error) {
    throw new AppError('invalid_signature', `the Stripe-Signature does not verify: ${error instanceof Error ? error.message.split('\n')[0] : 'refused'}`);
  }
  if (typeof event?.id !== 'string' || typeof event.type !== 'string' || typeof event.data?.object !== 'object' || event.data.object === null) {
    throw new AppError('invalid_request', 'a signed body that is not a Stripe event');
  }
  const seen = await ctx.db.selectFrom('stripe_events').select('outcome').where('id', '=', event.id).executeTakeFirst();
  if (seen) return { received: true, event: event.id, type: event.type, outcome: 'duplicate' };
  const objectId = stringField(event.data.object, 'id');
  let outcome = 'ignored';
  if (objectId && (event.type === 'checkout.session.completed' || event.type === 'checkout.session.async_payment_succeeded')) {
    outcome = await completeTopup(ctx, cards, objectId);
  } else if (objectId && event.type === 'checkout.session.expired') {
    outcome = await expireTopup(ctx, cards, objectId);
  } else if (objectId && event.type === 'charge.refunded') {
    outcome = await bookRefund(ctx, cards, objectId);
  } else if (objectId && event.type === 'charge.dispute.closed') {
    outcome = await bookLostDispute(ctx, cards, objectId);
  }
  await ctx.db
    .insertInto('stripe_events')
    .values({ id: event.id, type: event.type, outcome, received_at: ctx.clock.now() })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  ctx.log.info({ event: event.id, type: event.type, outcome }, 'stripe event');
  return { received: true, event: event.id, type: event.type, outcome };
}

function stringField(object: unknown, name: string): string | undefined {
  const value = object && typeof object === 'object' ? (object as Record<string, unknown>)[name] : undefined;
  return typeof value === 'string' && value.length > 0 && value.length <= 255 ? value : undefined;
}

function objectField(object: unknown, name: string): Record<string, unknown> | undefined {
  const value = object && typeof object === 'object' ? (object as Record<string, unknown>)[name] : undefined;
  return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
}

function minorField(object: unknown, name: string): number | undefined {
  const value = object && typeof object === 'object' ? (object as Record<string, unknown>)[name] : undefined;
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : undefined;
}

async function holdForReview(
  ctx: Context,
  id: string,
  problem: string,
  extra: { payment_intent?: string | null; charge_id?: string | null } = {},
): Promise<string> {
  await ctx.db
    .updateTable('card_topups')
    .set({ state: 'review', problem: problem.slice(0, 500), completed_at: ctx.clock.now(), ...extra })
    .where('id', '=', id)
    .where('state', '=', 'open')
    .execute();
  ctx.log.warn({ topup: id, problem }, 'card top-up held for the admin');
  return 'review';
}

/** Credits a paid session the instance created, once; anything that disagrees goes to review. */
async function completeTopup(ctx: Context, cards: CardsConfig, sessionId: string): Promise<string> {
  const topup = await ctx.db
    .selectFrom('card_topups')
    .innerJoin('members', 'members.id', 'card_topups.member_id')
    .selectAll('card_topups')
    .select('members.username')
    .where('session_id', '=', sessionId)
    .executeTakeFirst();
  if (!topup) return 'unknown_session';
  if (topup.state !== 'open') return topup.state === 'credited' ? 'already_credited' : `already_${topup.state}`;
  const session = (await callStripe(cards, 'the Checkout Session', (stripe) =>
    stripe.checkout.sessions.retrieve(sessionId, {
      expand: ['payment_intent.latest_charge.balance_transaction'],
    }),
  )) as unknown as Record<string, unknown>;
  if (stringField(session, 'id') !== sessionId) return holdForReview(ctx, topup.id, `Stripe answered another session than ${sessionId}`);
  if (session.status !== 'complete' || session.payment_status !== 'paid') return 'not_paid';
  const paymentIntent = objectField(session, 'payment_intent');
  const charge = objectField(paymentIntent, 'latest_charge');
  const ids = { payment_intent: stringField(paymentIntent, 'id') ?? null, charge_id: stringField(charge, 'id') ?? null };
  const expected = toMinor(topup.amount, topup.currency);
  const paid = minorField(session, 'amount_total');
  const currency = stringField(session, 'currency')?.toUpperCase();
  if (stringField(session, 'client_reference_id') !== topup.id || paid !== expected || currency !== topup.currency) {
    return holdForReview(
      ctx,
      topup.id,
      `amount_mismatch: the session says ${paid ?? '?'} ${currency ?? '?'} (smallest unit), the instance asked for ${expected} ${topup.currency}`,
      ids,
    );
  }
  if (!ids.payment_intent || !ids.charge_id) return holdForReview(ctx, topup.id, 'Stripe did not name the payment and charge of this session', ids);
  const balanceTransaction = objectField(charge, 'balance_transaction');
  const feeMinor = minorField(balanceTransaction, 'fee');
  const feeCurrency = stringField(balanceTransaction, 'currency')?.toUpperCase();
  if (feeMinor === undefined || feeCurrency !== topup.currency) {
    return holdForReview(
      ctx,
      topup.id,
      `fee_unknown: the charge's balance transaction ${balanceTransaction ? `is in ${feeCurrency ?? '?'}` : 'is not available yet'}`,
      ids,
    );
  }
  const fee = fromMinor(feeMinor, topup.currency);
  const credited = topup.fee_bearer === 'member' ? topup.amount - fee : topup.amount;
  if (credited <= 0n)
    return holdForReview(ctx, topup.id, `fee_exceeds_amount: Stripe's fee ${formatAmount(fee)} is not below ${formatAmount(topup.amount)}`, ids);

  // The deposit goes through the same function as an admin's (external → wallet, once per reference);
  // a crash after it is healed by Stripe's redelivery: the reference makes the second call a replay.
  try {
    await recordDeposit(ctx, parseInput(DepositInput, { username: topup.username, amount: formatAmount(credited), reference: depositReference(sessionId) }));
  } catch (error) {
    if (isAppError(error)) return holdForReview(ctx, topup.id, `${error.code}: ${error.message}`, ids);
    throw error;
  }
  const now = ctx.clock.now();
  const outcome = await ctx.db.transaction().execute(async (trx) => {
    const row = await trx.selectFrom('card_topups').select('state').where('id', '=', topup.id).forUpdate().executeTakeFirstOrThrow();
    if (row.state !== 'open') return 'already_credited';
    if (topup.fee_bearer === 'instance' && fee > 0n) {
      const cardFees = await ensureAccount(trx, { code: CARD_FEES, type: 'fees', currency: topup.currency, now });
      const external = await ensureSystemAccount(trx, EXTERNAL, topup.currency, now);
      await recordTransfer(trx, {
        debitAccountId: cardFees,
        creditAccountId: external,
        amount: fee,
        currency: topup.currency,
        kind: 'card_fee',
        period: periodOf(now),
        reference: depositReference(sessionId),
        idempotencyKey: `card_fee:${sessionId}`,
        now,
      });
    }
    await trx
      .updateTable('card_topups')
      .set({ state: 'credited', fee, credited, completed_at: now, problem: null, ...ids })
      .where('id', '=', topup.id)
      .execute();
    return 'credited';
  });
  // Stripe does not promise the order of events: a refund reported before this credit (its event
  // found no charge to match) is booked now.
  if (outcome === 'credited' && (minorField(charge, 'amount_refunded') ?? 0) > 0) await bookRefund(ctx, cards, ids.charge_id);
  return outcome;
}

/** A session the member never paid expired at Stripe (as Stripe answers, not as the body says): the top-up failed. */
async function expireTopup(ctx: Context, cards: CardsConfig, sessionId: string): Promise<string> {
  const topup = await ctx.db.selectFrom('card_topups').select(['id', 'state']).where('session_id', '=', sessionId).executeTakeFirst();
  if (!topup) return 'unknown_session';
  if (topup.state !== 'open') return `already_${topup.state}`;
  const session = (await callStripe(cards, 'the Checkout Session', (stripe) => stripe.checkout.sessions.retrieve(sessionId))) as unknown as Record<
    string,
    unknown
  >;
  if (stringField(session, 'id') !== sessionId || session.status !== 'expired') return 'not_expired';
  await ctx.db
    .updateTable('card_topups')
    .set({ state: 'failed', problem: 'expired: the session was never paid', completed_at: ctx.clock.now() })
    .where('id', '=', topup.id)
    .where('state', '=', 'open')
    .execute();
  return 'expired';
}

/**
 * Takes `amount` back out of the top-up's wallet as far as the wallet holds it (to external);
 * records the reversal with its shortfall. Runs in the caller's transaction, under the wallet's lock.
 */
async function bookReversal(
  ctx: Context,
  trx: Transaction<DB>,
  topup: { id: string; member_id: bigint; currency: string },
  reversal: { kind: 'refund' | 'dispute'; stripeRef: string; amount: bigint },
): Promise<{ booked: bigint; shortfall: bigint }> {
  const now = ctx.clock.now();
  const wallet = await walletAccountId(trx, topup.member_id);
  await lockAccount(trx, wallet);
  const holds = await balanceOf(trx, wallet);
  const booked = reversal.amount < holds ? reversal.amount : holds > 0n ? holds : 0n;
  const shortfall = reversal.amount - booked;
  await trx
    .insertInto('card_reversals')
    .values({ topup_id: topup.id, kind: reversal.kind, stripe_ref: reversal.stripeRef, amount: reversal.amount, booked, shortfall, created_at: now })
    .execute();
  if (booked > 0n) {
    const external = await ensureSystemAccount(trx, EXTERNAL, topup.currency, now);
    await recordTransfer(trx, {
      debitAccountId: wallet,
      creditAccountId: external,
      amount: booked,
      currency: topup.currency,
      kind: reversal.kind === 'refund' ? 'card_refund' : 'card_dispute',
      period: periodOf(now),
      reference: reversal.stripeRef,
      idempotencyKey: `card:${reversal.stripeRef}`,
      now,
    });
  }
  if (shortfall > 0n)
    ctx.log.warn(
      { topup: topup.id, ...reversal, amount: formatAmount(reversal.amount), shortfall: formatAmount(shortfall) },
      'card reversal: the wallet no longer holds the money',
    );
  return { booked, shortfall };
}

/** Stripe refunded (part of) a charge: what was refunded since the last event leaves the wallet. */
async function bookRefund(ctx: Context, cards: CardsConfig, chargeId: string): Promise<string> {
  const known = await ctx.db.selectFrom('card_topups').select(['id', 'state']).where('charge_id', '=', chargeId).executeTakeFirst();
  if (!known) return 'unknown_charge';
  const charge = (await callStripe(cards, 'the charge', (stripe) => stripe.charges.retrieve(chargeId))) as unknown as Record<string, unknown>;
  const refundedMinor = minorField(charge, 'amount_refunded');
  const currency = stringField(charge, 'currency')?.toUpperCase();
  if (stringField(charge, 'id') !== chargeId || refundedMinor === undefined) return 'unreadable_charge';
  return ctx.db.transaction().execute(async (trx) => {
    const topup = await trx.selectFrom('card_topups').selectAll().where('id', '=', known.id).forUpdate().executeTakeFirstOrThrow();
    if (currency !== topup.currency) return 'currency_mismatch';
    // never more than was paid, whatever the answer says
    const reported = fromMinor(refundedMinor, topup.currency);
    const refunded = reported < topup.amount ? reported : topup.amount;
    if (refunded <= topup.refunded) return 'already_booked';
    const delta = refunded - topup.refunded;
    await trx.updateTable('card_topups').set({ refunded }).where('id', '=', topup.id).execute();
    // a top-up that was never credited gave the wallet nothing to take back
    if (topup.state !== 'credited') return 'refund_of_uncredited';
    const { shortfall } = await bookReversal(ctx, trx, topup, { kind: 'refund', stripeRef: `refund:${chargeId}:${refundedMinor}`, amount: delta });
    return shortfall > 0n ? 'refund_shortfall' : 'refund_booked';
  });
}

/** A dispute the instance lost: the disputed amount leaves the wallet, once per dispute. */
async function bookLostDispute(ctx: Context, cards: CardsConfig, disputeId: string): Promise<string> {
  const dispute = (await callStripe(cards, 'the dispute', (stripe) => stripe.disputes.retrieve(disputeId))) as unknown as Record<string, unknown>;
  if (stringField(dispute, 'id') !== disputeId) return 'unreadable_dispute';
  if (dispute.status !== 'lost') return 'dispute_not_lost';
  const chargeId = stringField(dispute, 'charge') ?? stringField(objectField(dispute, 'charge'), 'id');
  const amountMinor = minorField(dispute, 'amount');
  const currency = stringField(dispute, 'currency')?.toUpperCase();
  if (!chargeId || amountMinor === undefined || amountMinor === 0) return 'unreadable_dispute';
  return ctx.db.transaction().execute(async (trx) => {
    const topup = await trx.selectFrom('card_topups').selectAll().where('charge_id', '=', chargeId).forUpdate().executeTakeFirst();
    if (!topup) return 'unknown_charge';
    if (currency !== topup.currency) return 'currency_mismatch';
    if (topup.state !== 'credited') return 'dispute_of_uncredited';
    const stripeRef = `dispute:${disputeId}`;
    const earlier = await trx.selectFrom('card_reversals').select('id').where('stripe_ref', '=', stripeRef).executeTakeFirst();
    if (earlier) return 'already_booked';
    const disputed = fromMinor(amountMinor, topup.currency);
    const amount = disputed < topup.amount ? disputed : topup.amount;
    const { shortfall } = await bookReversal(ctx, trx, topup, { kind: 'dispute', stripeRef, amount });
    return shortfall > 0n ? 'dispute_shortfall' : 'dispute_booked';
  });
}
