/** The member-facing JSON API under /api/v1. */
import type { FastifyInstance } from 'fastify';
import type { Context } from '../context.ts';
import { setBudget } from '../budgets/service.ts';
import { createFlattr, withdrawFlattr } from '../flattrs/service.ts';
import { createApiToken, createInvite, listInvites, registerMember } from '../members/service.ts';
import { me, myEarnings, myFlattrs, myIncoming, myLedger } from '../reports/service.ts';
import { lookupThing, registerThing } from '../things/service.ts';
import { listPayouts, requestPayout } from '../wallet/service.ts';
import { requireCaller } from './auth.ts';
import { toCsv } from './csv.ts';
import { bodyOf, periodParam, queryOf, wantsCsv } from './input.ts';

export function memberRoutes(app: FastifyInstance, ctx: Context): void {
  const authLimit = { rateLimit: { max: ctx.config.authRateLimit, timeWindow: '1 minute' } };

  app.post('/api/v1/accounts', { config: authLimit }, async (request, reply) => {
    const body = bodyOf(request);
    const member = await registerMember(ctx, { username: body.username, password: body.password, invite: body.invite });
    return reply.status(201).send({ username: member.username, actor: member.actor });
  });

  app.post('/api/v1/tokens', { config: authLimit }, async (request, reply) => {
    const body = bodyOf(request);
    const token = await createApiToken(ctx, body.username, body.password);
    return reply.status(201).send({ token });
  });

  app.get('/api/v1/me', async (request) => me(ctx, await requireCaller(ctx, request)));

  app.put('/api/v1/me/budget', async (request) => {
    const caller = await requireCaller(ctx, request);
    return setBudget(ctx, caller, bodyOf(request).amount);
  });

  app.post('/api/v1/things', async (request, reply) => {
    const caller = await requireCaller(ctx, request);
    const body = bodyOf(request);
    return reply.status(201).send(await registerThing(ctx, caller, { url: body.url, title: body.title }));
  });

  app.get('/api/v1/things/lookup', async (request) => lookupThing(ctx, queryOf(request).url));

  app.post('/api/v1/flattrs', async (request, reply) => {
    const caller = await requireCaller(ctx, request);
    const body = bodyOf(request);
    const flattr = await createFlattr(ctx, caller, { url: body.url, thing_id: body.thing_id });
    return reply.status(201).send(flattr);
  });

  app.delete<{ Params: { id: string } }>('/api/v1/flattrs/:id', async (request, reply) => {
    const caller = await requireCaller(ctx, request);
    await withdrawFlattr(ctx, caller, request.params.id);
    return reply.status(204).send();
  });

  app.get('/api/v1/me/flattrs', async (request, reply) => {
    const report = await myFlattrs(ctx, await requireCaller(ctx, request), periodParam(ctx, request));
    if (!wantsCsv(request)) return report;
    return csv(reply, `flattrs-${report.period}.csv`, ['period', 'flattr_id', 'created_at', 'thing_url', 'thing_title', 'owner', 'amount'],
      report.items.map((i) => [report.period, i.id, i.created_at, i.thing.url, i.thing.title, i.thing.owner.actor, i.amount]));
  });

  app.get('/api/v1/me/earnings', async (request, reply) => {
    const report = await myEarnings(ctx, await requireCaller(ctx, request), periodParam(ctx, request));
    if (!wantsCsv(request)) return report;
    return csv(reply, `earnings-${report.period}.csv`, ['period', 'thing_id', 'thing_url', 'thing_title', 'flattrs', 'amount', 'held'],
      report.items.map((i) => [report.period, i.thing.id, i.thing.url, i.thing.title, i.flattrs, i.amount, i.held]));
  });

  app.get('/api/v1/me/ledger', async (request, reply) => {
    const report = await myLedger(ctx, await requireCaller(ctx, request), periodParam(ctx, request));
    if (!wantsCsv(request)) return report;
    return csv(reply, `ledger-${report.period}.csv`, ['period', 'transfer_id', 'created_at', 'kind', 'direction', 'amount', 'reference'],
      report.items.map((i) => [i.period, i.id, i.created_at, i.kind, i.direction, i.amount, i.reference]));
  });

  app.get('/api/v1/me/incoming', async (request) => myIncoming(ctx, await requireCaller(ctx, request), periodParam(ctx, request)));

  app.post('/api/v1/me/payouts', async (request, reply) => {
    const caller = await requireCaller(ctx, request);
    return reply.status(201).send(await requestPayout(ctx, caller, bodyOf(request).amount));
  });

  app.get('/api/v1/me/payouts', async (request) => {
    const caller = await requireCaller(ctx, request);
    return { items: await listPayouts(ctx, { memberId: caller.id }) };
  });

  app.post('/api/v1/me/invites', async (request, reply) => {
    const caller = await requireCaller(ctx, request);
    return reply.status(201).send({ code: await createInvite(ctx, caller) });
  });

  app.get('/api/v1/me/invites', async (request) => ({ items: await listInvites(ctx, await requireCaller(ctx, request)) }));
}

function csv(reply: import('fastify').FastifyReply, filename: string, header: string[], rows: (string | number | null)[][]) {
  return reply
    .header('content-type', 'text/csv; charset=utf-8')
    .header('content-disposition', `attachment; filename="${filename}"`)
    .send(toCsv(header, rows));
}
