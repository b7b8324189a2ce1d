/**
 * The admin JSON API under /api/v1/admin. Every route declares its zod schema (src/http/schemas.ts)
 * and authenticates as an admin before the request is validated.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { closePeriod, periodStatus } from '../close/run.ts';
import type { Context } from '../context.ts';
import { parsePeriod } from '../core/period.ts';
import { checkLedger } from '../ledger/check.ts';
import { listUnclaimed } from '../links/unclaimed.ts';
import { createInvite, setCharity } from '../members/service.ts';
import { DepositInput, listPayouts, markPayoutPaid, PayoutPaidInput, recordDeposit } from '../wallet/service.ts';
import { callerOf } from './auth.ts';
import { Payout } from './member-routes.ts';
import { Amount, errors, Id, Period } from './schemas.ts';

const CloseSummary = z
  .object({
    members_charged: z.number().int(),
    flattrs: z.number().int(),
    charged: Amount,
    fees: Amount,
    paid: Amount,
    to_charity: Amount,
    held: Amount,
    released: Amount,
    expired: Amount,
    owed_to_peers: Amount,
    unclaimed: Amount.optional().describe('Shares for remote owners not yet reachable, held for them (closes before this field existed lack it).'),
    unclaimed_released: Amount.optional().describe(
      'Held unclaimed shares paid to members here who claimed their accounts (closes before this field existed lack it).',
    ),
  })
  .meta({ id: 'CloseSummary', description: 'What a close did; amounts as decimal strings.' });

export function adminRoutes(app: FastifyInstance, ctx: Context): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.post(
    '/api/v1/admin/invites',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Make an invite code (admins have no limit)',
        response: { 201: z.object({ code: z.string() }), ...errors(401, 403) },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      return reply.status(201).send({ code: await createInvite(ctx, caller) });
    },
  );

  api.post(
    '/api/v1/admin/deposits',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: "Record a deposit into a member's wallet; the same reference records once",
        body: DepositInput,
        response: {
          201: z.object({
            id: z.string(),
            username: z.string(),
            amount: Amount,
            reference: z.string(),
            replayed: z.boolean().describe('true when this reference was recorded before'),
          }),
          ...errors(400, 401, 403, 404, 409, 422),
        },
      },
    },
    async (request, reply) => {
      const { username, amount, reference } = request.body;
      return reply.status(201).send(await recordDeposit(ctx, { username, amount, reference }));
    },
  );

  api.get(
    '/api/v1/admin/unclaimed',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Money waiting for fediverse accounts no instance claims, and when it goes to the charity',
        response: {
          200: z.object({
            items: z.array(
              z.object({
                account: z.string().describe("The account's actor IRI."),
                handle: z.string().nullable().describe('@name@host, when known.'),
                amount: Amount,
                flattrs: z.number().int().describe('Flattrs whose shares wait.'),
                periods: z.array(z.string()).describe('The months whose shares wait, oldest first.'),
                expires: z.string().describe('The close (of this period) at which the oldest of it goes to the charity.'),
                expires_at: z.string().describe('When that period ends; its close follows.'),
                page: z.string().describe('The public page about it, for the account.'),
              }),
            ),
          }),
          ...errors(401, 403),
        },
      },
    },
    async () => listUnclaimed(ctx),
  );

  api.put(
    '/api/v1/admin/charity',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: "Name the account that is the instance's charity",
        body: z.object({ username: z.string() }),
        response: { 200: z.object({ username: z.string() }), ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => setCharity(ctx, request.body.username),
  );

  api.post(
    '/api/v1/admin/periods/:period/close',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Close a month that has ended (again: the same summary)',
        params: z.object({ period: Period }),
        response: {
          200: z.object({ period: Period, summary: CloseSummary, closed_now: z.boolean() }),
          ...errors(400, 401, 403, 409, 422),
        },
      },
    },
    async (request) => {
      const result = await closePeriod(ctx, parsePeriod(request.params.period));
      return { period: result.period, summary: result.summary, closed_now: result.closed_now };
    },
  );

  api.get(
    '/api/v1/admin/periods/:period',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: "Where a month's close stands: its stage, its summary once done, and the stage it stopped at and why if it failed",
        params: z.object({ period: Period }),
        response: {
          200: z
            .object({
              period: Period,
              state: z.enum(['open', 'ended', 'closing', 'closed']),
              stage: z.enum(['charging', 'splitting', 'booking', 'done']).nullable(),
              started_at: z.string().nullable(),
              finished_at: z.string().nullable(),
              summary: CloseSummary.nullable(),
              error: z.object({ stage: z.enum(['charging', 'splitting', 'booking', 'done']), message: z.string(), at: z.string() }).nullable(),
            })
            .meta({ id: 'PeriodStatus' }),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request) => periodStatus(ctx, parsePeriod(request.params.period)),
  );

  api.get(
    '/api/v1/admin/ledger/check',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'The ledger self-check',
        response: {
          200: z.object({
            balanced: z.boolean(),
            checks: z.array(z.object({ name: z.string(), ok: z.boolean(), why: z.string(), problems: z.array(z.record(z.string(), z.unknown())).optional() })),
            transfers: z.number().int(),
          }),
          ...errors(401, 403),
        },
      },
    },
    async () => checkLedger(ctx.db),
  );

  api.get(
    '/api/v1/admin/payouts',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Payouts of all members, newest first',
        querystring: z.object({ state: z.enum(['requested', 'exported', 'paid']).optional() }),
        response: { 200: z.object({ items: z.array(Payout) }), ...errors(400, 401, 403) },
      },
    },
    async (request) => {
      const state = request.query.state;
      return { items: await listPayouts(ctx, state ? { state } : {}) };
    },
  );

  api.post(
    '/api/v1/admin/payouts/:id/paid',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        summary: 'Mark a payout paid with its reference (the same reference again changes nothing)',
        params: z.object({ id: Id }),
        body: PayoutPaidInput,
        response: { 200: Payout, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => markPayoutPaid(ctx, request.params.id, request.body.reference),
  );
}
