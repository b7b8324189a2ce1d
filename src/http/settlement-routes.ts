/**
 * Settlement over HTTP: the peers' signed channel (POST /settlement/inbox, and GET of our
 * statements at their ids by their counterparty), and the admin API of statements, settlements
 * and peers under /api/v1/admin.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { statementIri } from '../core/iris.ts';
import {
  acceptStatement,
  correctStatement,
  disputeStatement,
  listPeers,
  listStatements,
  PeerInput,
  statementDetails,
  statementDocument,
  statementsCsv,
  updatePeer,
} from '../settlement/admin.ts';
import { verifySender } from '../settlement/channel.ts';
import { admitSender, readAdmittedBody } from '../settlement/inbox-gate.ts';
import { confirmReceived, listSettlements, markPaid, SettlementPaidInput, settlementsCsv } from '../settlement/netting.ts';
import { receiveMessage } from '../settlement/receive.ts';
import { toCsv } from './csv.ts';
import { Amount, errors, Period } from './schemas.ts';

const Statement = z
  .object({
    id: z.string(),
    direction: z.enum(['in', 'out']),
    peer: z.string(),
    sequence: z.number().int(),
    period: z.string(),
    total: Amount,
    state: z.enum(['open', 'accepted', 'disputed', 'superseded']),
    dispute: z.array(z.object({ n: z.number().int(), reason: z.string() })).nullable(),
    created_at: z.string(),
  })
  .meta({ id: 'Statement', description: 'A signed monthly statement between two instances, issued (out) or received (in).' });

const Settlement = z
  .object({
    id: z.string(),
    peer: z.string(),
    period: z.string(),
    payable: Amount.nullable(),
    receivable: Amount.nullable(),
    net: Amount.nullable(),
    debtor: z.enum(['us', 'peer']).nullable(),
    state: z.enum(['open', 'accepted', 'paid', 'settled', 'disputed']),
    reference: z.string().nullable(),
    covers: z.array(z.string()).meta({
      description:
        'The periods a payment recorded on this settlement covers: every accepted period with the peer still unpaid (what is not paid carries over); for a paid or settled one, the periods paid together',
    }),
    due: Amount.nullable().meta({
      description: 'What a payment recorded on this settlement moves (its net and the nets carried in); for a paid or settled one, the payment it was part of',
    }),
    due_debtor: z.enum(['us', 'peer']).nullable(),
    paid_with: z.string().nullable().meta({ description: 'The period of the settlement whose payment covered this one' }),
  })
  .meta({ id: 'Settlement', description: 'One peer and period: what each side owes, the net and who pays it; unpaid nets carry into later periods.' });

const Peer = z
  .object({
    origin: z.string(),
    actor: z.string(),
    state: z
      .enum(['trusted', 'pending', 'blocked'])
      .describe('trusted: its statements credit creators here; pending: kept and reconciled, crediting nobody; blocked: refused'),
    blocked: z.boolean(),
    credit_line: Amount,
    owe_limit: Amount.nullable(),
    balance: z.string().describe('positive: this instance owes the peer; negative: the peer owes us'),
    pending: z.string(),
    claimed: z.string(),
    awaiting: z.string(),
    statements: z.number().int(),
    software: z.string().nullable(),
    first_seen: z.string().nullable(),
  })
  .meta({ id: 'Peer' });

function toFetchRequest(ctx: Context, request: FastifyRequest, body?: Buffer): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.raw.headers)) {
    for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value]) headers.append(name, one);
  }
  return new Request(`${ctx.config.origin}${request.url}`, { method: request.method, headers, ...(body ? { body: new Uint8Array(body) } : {}) });
}

export async function settlementRoutes(app: FastifyInstance, ctx: Context): Promise<void> {
  // The peers' channel reads the body itself, as bytes (the signature's digest covers them), and
  // only once the headers' signature names a peer's instance actor (inbox-gate.ts).
  await app.register(async (channel) => {
    channel.removeAllContentTypeParsers();
    channel.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    channel.post('/settlement/inbox', async (request, reply) => {
      let body: Buffer;
      try {
        const admitted = await admitSender(ctx, request.method, request.url, toFetchRequest(ctx, request).headers);
        body = await readAdmittedBody(request.raw, admitted);
      } catch (error) {
        // What was not read is discarded as it arrives, never kept: memory stays flat, and the
        // sender gets its answer (closing the connection early could cut it off).
        request.raw.resume();
        throw error;
      }
      if (!body.length) throw new AppError('invalid_request', 'send a settlement message');
      const sender = await verifySender(ctx, toFetchRequest(ctx, request, body));
      return reply.status(200).send(await receiveMessage(ctx, sender, body.toString('utf8')));
    });
    channel.get<{ Params: { id: string } }>('/settlement/statements/:id', async (request, reply) => {
      const sender = await verifySender(ctx, toFetchRequest(ctx, request));
      const id = statementIri(ctx.config.origin, request.params.id);
      const row = await ctx.db
        .selectFrom('statements')
        .select(['document', 'peer_origin'])
        .where('id', '=', id)
        .where('direction', '=', 'out')
        .executeTakeFirst();
      if (!row || row.peer_origin !== sender.origin) throw new AppError('not_found', 'no such statement for your instance');
      return reply.type('application/json').send(row.document);
    });
  });

  const api = app.withTypeProvider<ZodTypeProvider>();
  const Params = z.object({ id: z.string().min(1).max(500) });
  const tags = ['settlement'];

  api.get(
    '/api/v1/admin/statements',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Statements issued and received; CSV (one row per line) with ?format=csv',
        querystring: z.object({
          direction: z.enum(['in', 'out']).optional(),
          period: Period.optional(),
          peer: z.string().optional(),
          format: z.enum(['json', 'csv']).optional(),
        }),
        response: { 200: z.union([z.object({ items: z.array(Statement) }), z.string()]), ...errors(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const { format, ...filter } = request.query;
      if (format === 'csv') {
        const [header, ...rows] = await statementsCsv(ctx, filter);
        return reply.type('text/csv; charset=utf-8').send(toCsv(header as string[], rows));
      }
      return { items: await listStatements(ctx, filter) };
    },
  );

  api.get(
    '/api/v1/admin/statements/:id',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'The signed statement document, byte for byte as issued or received ({id}: its uuid, or its IRI URL-encoded); ?view=details for its state',
        params: Params,
        querystring: z.object({ view: z.enum(['document', 'details']).optional() }),
        response: { 200: z.unknown(), ...errors(401, 403, 404) },
      },
    },
    async (request, reply) => {
      if (request.query.view === 'details') return statementDetails(ctx, request.params.id);
      return reply.type('application/json').send(await statementDocument(ctx, request.params.id));
    },
  );

  api.post(
    '/api/v1/admin/statements/:id/accept',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Accept a received statement: its creators are credited',
        params: Params,
        response: { 200: Statement, ...errors(401, 403, 404, 409) },
      },
    },
    async (request) => acceptStatement(ctx, request.params.id),
  );

  api.post(
    '/api/v1/admin/statements/:id/dispute',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Dispute a received statement line by line; the reasons go to the issuer',
        params: Params,
        body: z.object({
          lines: z
            .array(z.object({ n: z.number().int().min(0), reason: z.string().min(1).max(500) }))
            .min(1)
            .max(10_000),
        }),
        response: { 200: Statement, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => disputeStatement(ctx, request.params.id, request.body.lines),
  );

  api.post(
    '/api/v1/admin/statements/:id/correct',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Correct a statement the peer disputed: its Likes are sent again and the next statement restates the period',
        params: Params,
        response: { 200: Statement, ...errors(400, 401, 403, 404) },
      },
    },
    async (request) => correctStatement(ctx, request.params.id),
  );

  api.get(
    '/api/v1/admin/settlements',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'Settlements per peer and period, with the net and its state; CSV with ?format=csv',
        querystring: z.object({ peer: z.string().optional(), period: Period.optional(), format: z.enum(['json', 'csv']).optional() }),
        response: { 200: z.union([z.object({ items: z.array(Settlement) }), z.string()]), ...errors(400, 401, 403) },
      },
    },
    async (request, reply) => {
      const { format, ...filter } = request.query;
      if (format === 'csv') {
        const [header, ...rows] = await settlementsCsv(ctx, filter);
        return reply.type('text/csv; charset=utf-8').send(toCsv(header as string[], rows));
      }
      return { items: await listSettlements(ctx, filter) };
    },
  );

  api.post(
    '/api/v1/admin/settlements/:id/paid',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'The debtor records that it paid the net, with the reference',
        params: Params,
        body: SettlementPaidInput,
        response: { 200: Settlement, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => markPaid(ctx, request.params.id, request.body.reference),
  );

  api.post(
    '/api/v1/admin/settlements/:id/confirm',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'The creditor confirms receipt: settled on both sides',
        params: Params,
        response: { 200: Settlement, ...errors(401, 403, 404, 409) },
      },
    },
    async (request) => confirmReceived(ctx, request.params.id),
  );

  api.get(
    '/api/v1/admin/peers',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary: 'The instances this one settles with, what is owed either way, and their limits',
        response: { 200: z.object({ items: z.array(Peer) }), ...errors(401, 403) },
      },
    },
    async () => ({ items: await listPeers(ctx) }),
  );

  api.put(
    '/api/v1/admin/peers',
    {
      config: { access: 'admin' },
      schema: {
        tags,
        summary:
          'Trust, block or leave pending a peer, set its credit line, or limit how much may be owed to it (flattrs beyond it are refused with peer_limit)',
        body: PeerInput,
        response: { 200: Peer, ...errors(400, 401, 403, 422) },
      },
    },
    async (request) => {
      const { peer, ...change } = request.body;
      return (await updatePeer(ctx, peer, change)) as z.infer<typeof Peer>;
    },
  );
}
