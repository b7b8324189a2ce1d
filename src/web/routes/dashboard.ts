/** The member's dashboard, a past month's page (/dashboard/{period}), the budget form, withdrawing a flattr and the CSV exports. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BudgetInput, setBudget } from '../../budgets/service.ts';
import { firstPeriod } from '../../close/run.ts';
import type { Caller, Context } from '../../context.ts';
import { AppError } from '../../core/errors.ts';
import { addMonths, type Period, parsePeriod, periodOf, periodsBetween } from '../../core/period.ts';
import { withdrawFlattr } from '../../flattrs/service.ts';
import { toCsv } from '../../http/csv.ts';
import { periodParam } from '../../http/input.ts';
import { myEarnings, myFlattrs, myLedger } from '../../reports/service.ts';
import { formInput } from '../forms.ts';
import { html } from '../html.ts';
import { type FormError, formError, noticeFor, page, sendPage } from '../layout.ts';
import { monthSoFar } from '../month.ts';
import { chargeOf } from '../queries.ts';
import { csrfCheck, csrfToken } from '../security.ts';
import { requireMemberPage } from '../session.ts';
import { exportLinks, monthLinks, monthSoFarMain, pastMonthMain } from '../views/dashboard.ts';

const NOTICES = {
  welcome: 'Welcome! Your wallet is empty: ask an admin to record your deposit, then flattr away.',
  budget: 'Budget saved.',
  withdrawn: 'Flattr withdrawn.',
};

export function dashboardRoutes(app: FastifyInstance, ctx: Context): void {
  const monthsFor = async (current: Period) => periodsBetween(maxPeriod(await firstPeriod(ctx), addMonths(current, -11)), current).reverse();

  const showDashboard = async (request: FastifyRequest, reply: FastifyReply, caller: Caller, error?: FormError) => {
    const current = periodOf(ctx.clock.now());
    const csrf = csrfToken(reply);
    const main = monthSoFarMain(ctx, await monthSoFar(ctx, caller), csrf, error);
    const body = html`${main}${monthLinks(await monthsFor(current), current, current)}${exportLinks(current)}`;
    const notice = error ? undefined : noticeFor(request.query, NOTICES);
    return sendPage(reply, page({ title: `Your month so far (${current})`, main: body, caller, csrf, notice, path: '/dashboard' }), error?.status ?? 200);
  };

  app.get('/dashboard', async (request, reply) => {
    const caller = await requireMemberPage(ctx, request);
    // The old address of a past month, ?period=, still works.
    const asked = (request.query as { period?: unknown }).period;
    if (asked !== undefined && asked !== '') {
      const period = parsePeriod(asked);
      if (period !== periodOf(ctx.clock.now())) return reply.redirect(`/dashboard/${period}`, 303);
    }
    return showDashboard(request, reply, caller);
  });

  // A month that has begun: the current one is the dashboard itself; a past one shows what its close did.
  app.get<{ Params: { period: string } }>('/dashboard/:period', async (request, reply) => {
    const caller = await requireMemberPage(ctx, request);
    const period = parsePeriod(request.params.period);
    const current = periodOf(ctx.clock.now());
    if (period === current) return reply.redirect('/dashboard', 303);
    if (period > current) throw new AppError('not_found', `${period} has not begun yet`);
    const [flattrs, earnings, charge, months] = await Promise.all([
      myFlattrs(ctx, caller, period),
      myEarnings(ctx, caller, period),
      chargeOf(ctx, caller.id, period),
      monthsFor(current),
    ]);
    const body = html`${pastMonthMain(ctx, { flattrs, earnings, charge })}${monthLinks(months, period, current)}${exportLinks(period)}`;
    return sendPage(reply, page({ title: `Your month ${period}`, main: body, caller, csrf: csrfToken(reply), path: '/dashboard' }));
  });

  app.post('/dashboard/budget', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request);
    try {
      await setBudget(ctx, caller, formInput(BudgetInput, request.body).amount);
      return reply.redirect('/dashboard?done=budget', 303);
    } catch (error) {
      return showDashboard(request, reply, caller, formError(error, 'amount'));
    }
  });

  app.post<{ Params: { id: string } }>('/dashboard/flattrs/:id/withdraw', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request);
    try {
      await withdrawFlattr(ctx, caller, request.params.id);
      return reply.redirect('/dashboard?done=withdrawn', 303);
    } catch (error) {
      return showDashboard(request, reply, caller, formError(error));
    }
  });

  // The same reports as GET /api/v1/me/{flattrs,earnings,ledger}?format=csv, for the session.
  app.get<{ Params: { kind: string } }>('/export/:kind', async (request, reply) => {
    const caller = await requireMemberPage(ctx, request);
    const period = periodParam(ctx, request);
    const csv = await exportCsv(ctx, caller, request.params.kind, period);
    return reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="${request.params.kind.replace('.csv', '')}-${period}.csv"`)
      .send(csv);
  });
}

async function exportCsv(ctx: Context, caller: Caller, kind: string, period: Period): Promise<string> {
  if (kind === 'flattrs.csv') {
    const r = await myFlattrs(ctx, caller, period);
    return toCsv(
      ['period', 'flattr_id', 'created_at', 'thing_url', 'thing_title', 'owner', 'amount'],
      r.items.map((i) => [r.period, i.id, i.created_at, i.thing.url, i.thing.title, i.thing.owner.actor, i.amount]),
    );
  }
  if (kind === 'earnings.csv') {
    const r = await myEarnings(ctx, caller, period);
    return toCsv(
      ['period', 'thing_id', 'thing_url', 'thing_title', 'flattrs', 'amount', 'held'],
      r.items.map((i) => [r.period, i.thing.id, i.thing.url, i.thing.title, i.flattrs, i.amount, i.held]),
    );
  }
  if (kind === 'ledger.csv') {
    const r = await myLedger(ctx, caller, period);
    return toCsv(
      ['period', 'transfer_id', 'created_at', 'kind', 'direction', 'amount', 'reference'],
      r.items.map((i) => [i.period, i.id, i.created_at, i.kind, i.direction, i.amount, i.reference]),
    );
  }
  throw new AppError('not_found', 'exports are flattrs.csv, earnings.csv and ledger.csv');
}

function maxPeriod(a: Period, b: Period): Period {
  return a > b ? a : b;
}
