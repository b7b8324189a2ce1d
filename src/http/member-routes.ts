/**
 * The member-facing JSON API under /api/v1. Every route declares its zod schema (src/http/schemas.ts):
 * it validates the request and is the route's entry in /api/openapi.json. The services keep their
 * own checks; the schemas are the contract.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { BudgetInput, setBudget } from '../budgets/service.ts';
import type { Context } from '../context.ts';
import { createFlattr, FlattrInput, withdrawFlattr } from '../flattrs/service.ts';
import { createApiToken, createInvite, listInvites, registerMember, SignInInput, SignUpInput } from '../members/service.ts';
import { changePassword, listTokens, PasswordChangeInput, revokeTokenOf } from '../members/sessions.ts';
import { me, myEarnings, myFlattrs, myIncoming, myLedger } from '../reports/service.ts';
import { lookupThing, registerThing, ThingInput } from '../things/service.ts';
import { listPayouts, PayoutInput, requestPayout } from '../wallet/service.ts';
import { callerOf } from './auth.ts';
import { toCsv } from './csv.ts';
import { periodParam, wantsCsv } from './input.ts';
import { Amount, errors, Id, Period, Thing } from './schemas.ts';

const Timestamp = z.string().describe('An ISO 8601 instant.');

export const Payout = z
  .object({
    id: z.string(),
    amount: Amount,
    state: z
      .enum(['requested', 'exported', 'paid'])
      .describe('exported: in a SEPA credit transfer file the admin downloaded; paid once the bank statement (or the admin) says it left'),
    requested_at: Timestamp,
    paid_at: Timestamp.nullable(),
    reference: z.string().nullable(),
    username: z.string().optional(),
  })
  .meta({ id: 'Payout' });

/** ?period=YYYY-MM (this month when absent) and ?format=csv for a CSV export. */
const ReportQuery = z.object({
  period: z
    .union([Period, z.literal('')])
    .optional()
    .describe('YYYY-MM; this month when absent.'),
  format: z.enum(['json', 'csv']).optional().describe('csv for a CSV export (also Accept: text/csv).'),
});

/** A report as JSON, or as CSV when asked. */
function jsonOrCsv<T extends z.ZodType>(schema: T, description: string) {
  return {
    description,
    content: { 'application/json': { schema }, 'text/csv': { schema: z.string() } },
  };
}

const LedgerReport = z.object({
  period: Period,
  items: z.array(
    z.object({
      id: z.string(),
      kind: z.string().describe('deposit, budget_charge, share, release, payout_reserve, payout_sent, …'),
      account: z.enum(['wallet', 'pending']).describe('wallet: spendable; pending: credits from another instance waiting for their settlement'),
      direction: z.enum(['in', 'out']),
      amount: Amount,
      reference: z.string().nullable(),
      period: z.string(),
      created_at: Timestamp,
    }),
  ),
});

const TokenItem = z
  .object({
    id: z.string(),
    kind: z.enum(['api', 'session']).describe('session: a browser; api: a bearer token (made with the password, or issued to an app).'),
    app: z.string().optional().describe("The app's name, for a token issued to an OAuth app."),
    created_at: Timestamp,
    last_used_at: Timestamp.nullable().describe('Written at most once a minute; null until first used.'),
    expires_at: Timestamp.nullable().describe('When it ends unless used again (FARTHING_TOKEN_IDLE_HOURS), or its fixed end; null for app tokens.'),
    current: z.literal(true).optional().describe('The token this request came with.'),
  })
  .meta({ id: 'TokenItem' });

const Invite = z.object({ code: z.string(), created_at: Timestamp, used_by: z.string().nullable(), used_at: Timestamp.nullable() });

export function memberRoutes(app: FastifyInstance, ctx: Context): void {
  const api = app.withTypeProvider<ZodTypeProvider>();
  const authLimit = { rateLimit: { max: ctx.config.authRateLimit, timeWindow: '1 minute' } };

  api.post(
    '/api/v1/accounts',
    {
      config: { ...authLimit, access: 'public' },
      schema: {
        tags: ['accounts'],
        summary: 'Sign up (open registration, or with an invite)',
        body: SignUpInput,
        response: { 201: z.object({ username: z.string(), actor: z.string() }), ...errors(400, 403, 409, 429) },
      },
    },
    async (request, reply) => {
      const member = await registerMember(ctx, request.body);
      return reply.status(201).send({ username: member.username, actor: member.actor });
    },
  );

  api.post(
    '/api/v1/tokens',
    {
      // The sign-in limits (src/members/sign-in-limits.ts) count it, not the API's per-address limit.
      config: { passwordEntry: true, access: 'public' },
      schema: {
        tags: ['accounts'],
        summary: 'Sign in: a bearer token for the API',
        description:
          `A token made with the password ends after ${ctx.config.tokenIdleMs / 3_600_000} hours unused (FARTHING_TOKEN_IDLE_HOURS). ` +
          'Failed attempts per address and attempts per account are limited together with the /signin page and the password change: 429 rate_limited with Retry-After.',
        body: SignInInput,
        response: { 201: z.object({ token: z.string() }), ...errors(400, 401, 429) },
      },
    },
    async (request, reply) => {
      const token = await createApiToken(ctx, request.body, request.ip);
      return reply.status(201).send({ token });
    },
  );

  api.get(
    '/api/v1/tokens',
    {
      config: { access: 'read' },
      schema: {
        tags: ['accounts'],
        summary: "The caller's live sessions and tokens, newest first",
        response: { 200: z.object({ items: z.array(TokenItem) }), ...errors(401) },
      },
    },
    async (request) => ({ items: await listTokens(ctx, callerOf(request)) }),
  );

  api.delete(
    '/api/v1/tokens/:id',
    {
      config: { access: 'account' },
      schema: {
        tags: ['accounts'],
        summary: "Revoke one of the caller's sessions or tokens (the calling one too)",
        description: 'From then on that token answers 401.',
        params: z.object({ id: Id }),
        response: { 204: z.undefined().describe('Revoked.'), ...errors(401, 404) },
      },
    },
    async (request, reply) => {
      await revokeTokenOf(ctx, callerOf(request), request.params.id);
      return reply.status(204).send();
    },
  );

  api.put(
    '/api/v1/me/password',
    {
      config: { access: 'account' },
      schema: {
        tags: ['me'],
        summary: 'Change the password; every other session and token is revoked',
        description: "current must be right (403 forbidden otherwise; counted by the sign-in limits, 429 rate_limited). Not with an app's token.",
        body: PasswordChangeInput,
        response: { 200: z.object({ revoked: z.number().int().describe('How many other sessions and tokens were revoked.') }), ...errors(400, 401, 403, 429) },
      },
    },
    async (request) => changePassword(ctx, callerOf(request), { current: request.body.current, new: request.body.new }, request.ip),
  );

  api.get(
    '/api/v1/me',
    {
      config: { access: 'read' },
      schema: {
        tags: ['me'],
        summary: "The caller's account, balance and this month's budget",
        response: {
          200: z.object({
            username: z.string(),
            actor: z.string(),
            currency: z.string(),
            balance: Amount.describe('spendable: budgets and payouts draw on it'),
            pending: Amount.describe('credits from other instances waiting for their settlement'),
            pending_credits: z.array(z.object({ peer: z.string(), period: Period, amount: Amount })),
            budget: Amount,
            role: z.enum(['member', 'admin']),
            period: Period,
          }),
          ...errors(401),
        },
      },
    },
    async (request) => me(ctx, callerOf(request)),
  );

  api.put(
    '/api/v1/me/budget',
    {
      config: { access: 'account' },
      schema: {
        tags: ['me'],
        summary: 'Set the monthly budget (this month before its first flattr, else from next month)',
        body: BudgetInput,
        response: { 200: z.object({ amount: Amount, applies_from: Period }), ...errors(400, 401) },
      },
    },
    async (request) => setBudget(ctx, callerOf(request), request.body.amount),
  );

  api.post(
    '/api/v1/things',
    {
      config: { access: 'things' },
      schema: {
        tags: ['things'],
        summary: 'Register a thing the caller owns',
        body: ThingInput,
        response: { 201: Thing, ...errors(400, 401, 409) },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      return reply.status(201).send(await registerThing(ctx, caller, { url: request.body.url, title: request.body.title }));
    },
  );

  api.get(
    '/api/v1/things/lookup',
    {
      config: { access: 'public' },
      schema: {
        tags: ['things'],
        summary: 'Find a thing by its URL or its own IRI',
        querystring: z.object({ url: z.string() }),
        response: { 200: Thing, ...errors(400, 404) },
      },
    },
    async (request) => lookupThing(ctx, request.query.url),
  );

  api.post(
    '/api/v1/flattrs',
    {
      config: { access: 'flattr' },
      schema: {
        tags: ['flattrs'],
        summary: 'Flattr a thing, by its URL or id, in this month',
        description: 'A repeat in the same month is 409 flattr_once with existing_id; no funded budget is 402 no_means.',
        body: FlattrInput,
        response: {
          201: z.object({ id: z.string(), thing: Thing, period: Period, created_at: Timestamp }),
          ...errors(400, 401, 402, 404, 409),
        },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      const flattr = await createFlattr(ctx, caller, { url: request.body.url, thing_id: request.body.thing_id });
      return reply.status(201).send(flattr);
    },
  );

  api.delete(
    '/api/v1/flattrs/:id',
    {
      config: { access: 'flattr' },
      schema: {
        tags: ['flattrs'],
        summary: 'Withdraw a flattr until its month is closed',
        params: z.object({ id: Id }),
        response: { 204: z.undefined().describe('Withdrawn.'), ...errors(401, 404, 409) },
      },
    },
    async (request, reply) => {
      await withdrawFlattr(ctx, callerOf(request), request.params.id);
      return reply.status(204).send();
    },
  );

  api.get(
    '/api/v1/me/flattrs',
    {
      config: { access: 'read' },
      schema: {
        tags: ['reports'],
        summary: "The caller's flattrs of a month",
        querystring: ReportQuery,
        response: {
          200: jsonOrCsv(
            z.object({
              period: Period,
              items: z.array(
                z.object({
                  id: z.string(),
                  uri: z.string(),
                  thing: Thing,
                  created_at: Timestamp,
                  amount: Amount.nullable().describe('What it gave, once the month is closed.'),
                }),
              ),
            }),
            "The month's flattrs",
          ),
          ...errors(400, 401),
        },
      },
    },
    async (request, reply) => {
      const report = await myFlattrs(ctx, callerOf(request), periodParam(ctx, request));
      if (!wantsCsv(request)) return report;
      return csv(
        reply,
        `flattrs-${report.period}.csv`,
        ['period', 'flattr_id', 'created_at', 'thing_url', 'thing_title', 'owner', 'amount'],
        report.items.map((i) => [report.period, i.id, i.created_at, i.thing.url, i.thing.title, i.thing.owner.actor, i.amount]),
      );
    },
  );

  api.get(
    '/api/v1/me/earnings',
    {
      config: { access: 'read' },
      schema: {
        tags: ['reports'],
        summary: "What the caller's things earned in a month",
        querystring: ReportQuery,
        response: {
          200: jsonOrCsv(
            z.object({
              period: Period,
              closed: z.boolean(),
              total: Amount,
              items: z.array(z.object({ thing: Thing, flattrs: z.number().int(), amount: Amount, held: Amount })),
              from_peers: z
                .array(z.object({ peer: z.string(), amount: Amount, state: z.enum(['pending', 'spendable']) }))
                .describe("credits from other instances' statements for this month: pending until their settlement"),
            }),
            "The month's earnings per thing",
          ),
          ...errors(400, 401),
        },
      },
    },
    async (request, reply) => {
      const report = await myEarnings(ctx, callerOf(request), periodParam(ctx, request));
      if (!wantsCsv(request)) return report;
      return csv(
        reply,
        `earnings-${report.period}.csv`,
        ['period', 'thing_id', 'thing_url', 'thing_title', 'flattrs', 'amount', 'held'],
        report.items.map((i) => [report.period, i.thing.id, i.thing.url, i.thing.title, i.flattrs, i.amount, i.held]),
      );
    },
  );

  api.get(
    '/api/v1/me/ledger',
    {
      config: { access: 'read' },
      schema: {
        tags: ['reports'],
        summary: "The transfers of the caller's wallet in a month",
        querystring: ReportQuery,
        response: {
          200: jsonOrCsv(LedgerReport, "The month's wallet transfers"),
          ...errors(400, 401),
        },
      },
    },
    async (request, reply) => {
      const report = await myLedger(ctx, callerOf(request), periodParam(ctx, request));
      if (!wantsCsv(request)) return report as z.output<typeof LedgerReport>;
      return csv(
        reply,
        `ledger-${report.period}.csv`,
        ['period', 'transfer_id', 'created_at', 'kind', 'direction', 'amount', 'reference', 'account'],
        report.items.map((i) => [i.period, i.id, i.created_at, i.kind, i.direction, i.amount, i.reference, i.account]),
      );
    },
  );

  api.get(
    '/api/v1/me/incoming',
    {
      config: { access: 'read' },
      schema: {
        tags: ['reports'],
        summary: "Flattrs received on the caller's things in a month",
        querystring: ReportQuery.pick({ period: true }),
        response: {
          200: z.object({
            period: Period,
            items: z.array(
              z.object({
                id: z.string(),
                thing: Thing,
                from: z.string().describe("The giver's actor."),
                created_at: Timestamp,
                state: z.enum(['pending', 'paid', 'held', 'expired']),
                amount: Amount.nullable(),
              }),
            ),
          }),
          ...errors(400, 401),
        },
      },
    },
    async (request) => myIncoming(ctx, callerOf(request), periodParam(ctx, request)),
  );

  api.post(
    '/api/v1/me/payouts',
    {
      config: { access: 'account' },
      schema: {
        tags: ['wallet'],
        summary: 'Ask for a payout; the amount is reserved at once',
        body: PayoutInput,
        response: { 201: Payout, ...errors(400, 401, 409, 422) },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      return reply.status(201).send(await requestPayout(ctx, caller, request.body.amount));
    },
  );

  api.get(
    '/api/v1/me/payouts',
    {
      config: { access: 'read' },
      schema: {
        tags: ['wallet'],
        summary: "The caller's payouts, newest first",
        response: { 200: z.object({ items: z.array(Payout) }), ...errors(401) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      return { items: await listPayouts(ctx, { memberId: caller.id }) };
    },
  );

  api.post(
    '/api/v1/me/invites',
    {
      config: { access: 'account' },
      schema: {
        tags: ['me'],
        summary: 'Make an invite code',
        response: { 201: z.object({ code: z.string() }), ...errors(401, 409) },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request);
      return reply.status(201).send({ code: await createInvite(ctx, caller) });
    },
  );

  api.get(
    '/api/v1/me/invites',
    {
      config: { access: 'read' },
      schema: {
        tags: ['me'],
        summary: "The caller's invites and who used them",
        response: { 200: z.object({ items: z.array(Invite) }), ...errors(401) },
      },
    },
    async (request) => ({ items: await listInvites(ctx, callerOf(request)) }),
  );
}

function csv(reply: FastifyReply, filename: string, header: string[], rows: (string | number | null)[][]) {
  return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${filename}"`).send(toCsv(header, rows));
}
