/**
 * Card top-ups over HTTP: the member's POST/GET /api/v1/me/topups, the admin's lists of top-ups
 * and of refunds and lost disputes (with their shortfalls), and Stripe's POST /stripe/webhook,
 * which takes its body as bytes: the signature covers them, so nothing parses it before
 * verification.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { createTopup, listReversals, listTopups, myTopups, requireCards, TopupInput } from '../cards/topups.ts';
import { receiveStripeEvent } from '../cards/webhook.ts';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { callerOf } from './auth.ts';
import { Amount, errors } from './schemas.ts';

/** Stripe's events are a few kilobytes; a checkout session event with every field stays far below. */
export const STRIPE_WEBHOOK_BODY_LIMIT_BYTES = 512 * 1024;

const State = z.enum(['creating', 'open', 'credited', 'review', 'failed']);

const Topup = z
  .object({
    id: z.string(),
    amount: Amount,
    currency: z.string(),
    state: State.describe('open: waiting for the payment; credited: in the wallet; review: paid but held for the admin; failed: Stripe refused the session'),
    checkout_url: z.string().nullable().describe('Where to pay, while open'),
    fee: Amount.nullable().describe("Stripe's fee for this payment, once paid"),
    fee_bearer: z.enum(['member', 'instance']),
    credited: Amount.nullable().describe('What the wallet received: the amount, less the fee when the member bears it'),
    refunded: Amount.describe('What Stripe refunded on this payment so far'),
    created_at: z.string(),
    completed_at: z.string().nullable(),
  })
  .meta({ id: 'CardTopup', description: 'A card top-up through Stripe Checkout.' });

const AdminTopup = Topup.extend({
  username: z.string(),
  session_id: z.string().nullable(),
  payment_intent: z.string().nullable(),
  problem: z.string().nullable(),
}).meta({ id: 'AdminCardTopup' });

const Reversal = z
  .object({
    id: z.string(),
    topup_id: z.string(),
    username: z.string(),
    kind: z.enum(['refund', 'dispute']),
    stripe_ref: z.string(),
    amount: Amount.describe('What Stripe took back'),
    booked: Amount.describe('What left the wallet'),
    shortfall: Amount.describe('What the wallet no longer held: not made up'),
    created_at: z.string(),
  })
  .meta({ id: 'CardReversal', description: 'A refund or lost dispute booked out of a wallet.' });

export async function cardRoutes(app: FastifyInstance, ctx: Context): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    '/api/v1/me/topups',
    {
      config: { access: 'account' },
      schema: {
        tags: ['wallet'],
        summary: 'Top up the wallet by card: answers the Stripe Checkout page to send the member to',
        body: TopupInput,
        response: {
          201: z.object({ id: z.string(), checkout_url: z.string(), amount: Amount, currency: z.string(), state: z.literal('open') }),
          ...errors(400, 401, 404, 503),
        },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      return reply.status(201).send(await createTopup(ctx, caller, request.body.amount));
    },
  );

  api.get(
    '/api/v1/me/topups',
    {
      config: { access: 'read' },
      schema: {
        tags: ['wallet'],
        summary: "The caller's card top-ups, newest first",
        response: { 200: z.object({ items: z.array(Topup) }), ...errors(401, 404) },
      },
    },
    async (request) => {
      requireCards(ctx);
      return { items: await myTopups(ctx, callerOf(request)) };
    },
  );

  api.get(
    '/api/v1/admin/card-topups',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Card top-ups of all members with their fees; ?state=review lists the paid ones held for the admin (amount mismatch, unknown fee)',
        querystring: z.object({ state: State.optional() }),
        response: { 200: z.object({ items: z.array(AdminTopup) }), ...errors(400, 401, 403) },
      },
    },
    async (request) => ({ items: await listTopups(ctx, request.query.state ? { state: request.query.state } : {}) }),
  );

  api.get(
    '/api/v1/admin/card-reversals',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Refunds and lost disputes booked out of wallets; ?shortfall=true lists those the wallet could not cover',
        querystring: z.object({ shortfall: z.enum(['true', 'false']).optional() }),
        response: { 200: z.object({ items: z.array(Reversal) }), ...errors(400, 401, 403) },
      },
    },
    async (request) => ({ items: await listReversals(ctx, { shortfall: request.query.shortfall === 'true' }) }),
  );

  // Stripe's webhook: the raw bytes, whatever the content type says, for the signature check.
  await app.register(async (hook) => {
    hook.removeAllContentTypeParsers();
    hook.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: STRIPE_WEBHOOK_BODY_LIMIT_BYTES }, (_request, body, done) => done(null, body));
    hook.post('/stripe/webhook', { bodyLimit: STRIPE_WEBHOOK_BODY_LIMIT_BYTES }, async (request, reply) => {
      const body = request.body;
      if (!Buffer.isBuffer(body) || body.length === 0) throw new AppError('invalid_request', 'send a Stripe event');
      return reply.status(200).send(await receiveStripeEvent(ctx, body, request.headers['stripe-signature']));
    });
  });
}
