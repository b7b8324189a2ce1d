/**
 * The API for apps' recurring and outgoing side (issue 6): subscriptions (flattr a thing again each
 * month) and webhooks (signed event deliveries). Schemas in the style of src/http/schemas.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Context } from '../context.ts';
import {
  cancelSubscription,
  createSubscription,
  listSubscriptions,
  pauseSubscription,
  resumeSubscription,
  SUBSCRIPTION_MONTHS,
} from '../subscriptions/service.ts';
import { WEBHOOK_EVENTS } from '../webhooks/events.ts';
import { createWebhook, deleteWebhook, listWebhooks } from '../webhooks/service.ts';
import { callerOf } from './auth.ts';
import { errors, Id, Period, Thing } from './schemas.ts';

const Timestamp = z.string().describe('An ISO 8601 instant.');

const Subscription = z
  .object({
    id: z.string(),
    thing: Thing,
    months: z.number().int(),
    first_period: Period.describe('The first month flattred by the subscription.'),
    last_period: Period.describe('The last month flattred by the subscription.'),
    state: z.enum(['active', 'paused', 'cancelled', 'stopped', 'finished']),
    stop_reason: z.string().nullable().describe('Why it stopped (an error code such as no_means).'),
    created_at: Timestamp,
    runs: z
      .array(
        z.object({
          period: Period,
          outcome: z.enum(['flattred', 'stopped', 'skipped']),
          flattr_id: z.string().nullable(),
          detail: z.string().nullable(),
        }),
      )
      .describe('What happened in each month so far.'),
  })
  .meta({ id: 'Subscription', description: 'Flattrs a thing again at the start of each of the months first_period..last_period (months paused are skipped).' });

const Notice = z.object({ id: z.string(), subscription_id: z.string(), period: Period, code: z.string(), message: z.string(), created_at: Timestamp });

const WebhookEvent = z.enum(WEBHOOK_EVENTS);

const Webhook = z
  .object({
    id: z.string(),
    url: z.string(),
    events: z.array(WebhookEvent),
    created_at: Timestamp,
    last_delivery: z
      .object({
        id: z.string(),
        event: z.string(),
        state: z.enum(['pending', 'delivered', 'failed']),
        status: z.string().nullable().describe('The HTTP status of the last attempt, or why it could not be made.'),
        attempts: z.number().int(),
        attempted_at: Timestamp.nullable(),
        next_attempt_at: Timestamp.nullable(),
      })
      .nullable(),
  })
  .meta({
    id: 'Webhook',
    description:
      'Deliveries are POSTed as JSON with Farthing-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)>, Farthing-Event and Farthing-Delivery.',
  });

export function appRoutes(app: FastifyInstance, ctx: Context): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    '/api/v1/subscriptions',
    {
      config: { access: 'flattr' },
      schema: {
        tags: ['subscriptions'],
        summary: 'Subscribe to flattr a thing you flattred again in each of the next 3, 6 or 12 months',
        description: 'not_flattred (409) before a flattr of the thing, subscription_exists (409) with a live one, invalid_request for months.',
        body: z.object({
          thing_id: z.string(),
          months: z
            .number()
            .int()
            .refine((m) => (SUBSCRIPTION_MONTHS as readonly number[]).includes(m), `must be one of ${SUBSCRIPTION_MONTHS.join(', ')}`),
        }),
        response: { 201: Subscription, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      return reply.status(201).send(await createSubscription(ctx, caller, request.body));
    },
  );

  api.get(
    '/api/v1/subscriptions',
    {
      config: { access: 'read' },
      schema: {
        tags: ['subscriptions'],
        summary: "The caller's subscriptions, with what each month did, and notices (e.g. stopped for no_means)",
        response: { 200: z.object({ items: z.array(Subscription), notices: z.array(Notice) }), ...errors(401, 403) },
      },
    },
    async (request) => listSubscriptions(ctx, callerOf(request)),
  );

  for (const [action, run, summary] of [
    ['pause', pauseSubscription, 'Pause a subscription: months while paused are skipped'],
    ['resume', resumeSubscription, 'Resume a paused subscription (this month too, if not flattred yet)'],
  ] as const) {
    api.post(
      `/api/v1/subscriptions/:id/${action}`,
      {
        config: { access: 'flattr' },
        schema: {
          tags: ['subscriptions'],
          summary,
          params: z.object({ id: Id }),
          response: { 200: Subscription, ...errors(401, 403, 404, 409) },
        },
      },
      async (request) => run(ctx, callerOf(request), request.params.id),
    );
  }

  api.delete(
    '/api/v1/subscriptions/:id',
    {
      config: { access: 'flattr' },
      schema: {
        tags: ['subscriptions'],
        summary: 'Cancel a subscription',
        params: z.object({ id: Id }),
        response: { 204: z.undefined().describe('Cancelled.'), ...errors(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await cancelSubscription(ctx, callerOf(request), request.params.id);
      return reply.status(204).send();
    },
  );

  api.post(
    '/api/v1/webhooks',
    {
      config: { access: 'account' },
      schema: {
        tags: ['webhooks'],
        summary: 'Register a webhook; the answer shows its signing secret, once',
        body: z.object({
          url: z.string().max(2000),
          events: z
            .array(z.string())
            .min(1)
            .max(WEBHOOK_EVENTS.length * 2),
        }),
        response: { 201: Webhook.extend({ secret: z.string().describe('Signs every delivery; shown only now.') }), ...errors(400, 401, 403, 409) },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      return reply.status(201).send(await createWebhook(ctx, caller, request.body));
    },
  );

  api.get(
    '/api/v1/webhooks',
    {
      config: { access: 'read' },
      schema: {
        tags: ['webhooks'],
        summary: "The caller's webhooks, each with its last delivery's status and time",
        response: { 200: z.object({ items: z.array(Webhook) }), ...errors(401, 403) },
      },
    },
    async (request) => listWebhooks(ctx, callerOf(request)),
  );

  api.delete(
    '/api/v1/webhooks/:id',
    {
      config: { access: 'account' },
      schema: {
        tags: ['webhooks'],
        summary: 'Delete a webhook (its pending deliveries are dropped)',
        params: z.object({ id: Id }),
        response: { 204: z.undefined().describe('Deleted.'), ...errors(401, 403, 404) },
      },
    },
    async (request, reply) => {
      await deleteWebhook(ctx, callerOf(request), request.params.id);
      return reply.status(204).send();
    },
  );
}
