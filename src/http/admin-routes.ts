/** The admin JSON API under /api/v1/admin. */
import type { FastifyInstance } from 'fastify';
import type { Context } from '../context.ts';
import { parsePeriod } from '../core/period.ts';
import { closePeriod } from '../close/run.ts';
import { checkLedger } from '../ledger/check.ts';
import { createInvite, setCharity } from '../members/service.ts';
import { listPayouts, markPayoutPaid, recordDeposit } from '../wallet/service.ts';
import { requireAdmin } from './auth.ts';
import { bodyOf, queryOf } from './input.ts';

export function adminRoutes(app: FastifyInstance, ctx: Context): void {
  app.post('/api/v1/admin/invites', async (request, reply) => {
    const admin = await requireAdmin(ctx, request);
    return reply.status(201).send({ code: await createInvite(ctx, admin) });
  });

  app.post('/api/v1/admin/deposits', async (request, reply) => {
    await requireAdmin(ctx, request);
    const body = bodyOf(request);
    return reply.status(201).send(await recordDeposit(ctx, { username: body.username, amount: body.amount, reference: body.reference }));
  });

  app.put('/api/v1/admin/charity', async (request) => {
    await requireAdmin(ctx, request);
    return setCharity(ctx, bodyOf(request).username);
  });

  app.post<{ Params: { period: string } }>('/api/v1/admin/periods/:period/close', async (request) => {
    await requireAdmin(ctx, request);
    const result = await closePeriod(ctx, parsePeriod(request.params.period));
    return { period: result.period, summary: result.summary, closed_now: result.closed_now };
  });

  app.get('/api/v1/admin/ledger/check', async (request) => {
    await requireAdmin(ctx, request);
    return checkLedger(ctx.db);
  });

  app.get('/api/v1/admin/payouts', async (request) => {
    await requireAdmin(ctx, request);
    const state = queryOf(request).state;
    return { items: await listPayouts(ctx, state === 'requested' || state === 'paid' ? { state } : {}) };
  });

  app.post<{ Params: { id: string } }>('/api/v1/admin/payouts/:id/paid', async (request) => {
    await requireAdmin(ctx, request);
    return markPayoutPaid(ctx, request.params.id, bodyOf(request).reference);
  });
}
