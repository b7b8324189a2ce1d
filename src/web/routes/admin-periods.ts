/** Admin: the periods of the instance, the close button and each close's summary. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { type CloseSummary, closePeriod } from '../../close/run.ts';
import type { Caller, Context } from '../../context.ts';
import { rule } from '../../core/input.ts';
import { parsePeriod } from '../../core/period.ts';
import { formInput, formValues } from '../forms.ts';
import { type Html, html } from '../html.ts';
import { csrfField, errorText, type FormError, field, formError, noticeFor, page, sendPage } from '../layout.ts';
import { type PeriodRow, periodsWithCloses } from '../queries.ts';
import { csrfCheck, csrfToken } from '../security.ts';
import { requireAdminPage } from '../session.ts';

const SUMMARY_LABELS: [keyof CloseSummary, string][] = [
  ['members_charged', 'Members charged'],
  ['flattrs', 'Flattrs'],
  ['charged', 'Charged'],
  ['fees', 'Fees'],
  ['paid', 'Paid to creators'],
  ['to_charity', 'To charity'],
  ['held', 'Held'],
  ['released', 'Released'],
  ['expired', 'Expired'],
  ['owed_to_peers', 'Owed to peers'],
  ['unclaimed', 'Unclaimed (waiting for fediverse accounts)'],
  ['unclaimed_released', 'Unclaimed, paid to members here who claimed it'],
];

/** The periods page's close form: the month to close (page-only; the API names it in the path). */
const CloseForm = z.object({ period: rule(z.unknown(), (value) => parsePeriod(value)) });

export function adminPeriodRoutes(app: FastifyInstance, ctx: Context): void {
  const showPeriods = async (request: FastifyRequest, reply: FastifyReply, caller: Caller, failed?: { period: string; error: FormError }) => {
    const periods = await periodsWithCloses(ctx);
    const csrf = csrfToken(reply);
    // A refusal shows next to the button that was pressed, else next to the by-name field.
    const byName = failed && !periods.some((p) => p.period === failed.period && closable(p)) ? failed : undefined;
    const main = html`<p>A month is closed once it has ended: every budget is split among its member's flattrs and the
shares are paid. The close runs automatically${ctx.config.autoClose ? ` ${ctx.config.closeDelayMinutes} minutes after a month ends` : ' only when started here or from the CLI'}; closing twice changes nothing.</p>
${periods.map((p) => periodSection(p, csrf, failed?.period === p.period ? failed.error : undefined))}
<h2>Close a month by name</h2>
<form method="post" action="/admin/periods/close" class="row">${csrfField(csrf)}
${field({ name: 'period', id: 'period-any', label: 'Month (YYYY-MM)', value: byName?.period, error: byName?.error, required: true })}
<button type="submit">Close</button></form>`;
    const notice = failed ? undefined : noticeFor(request.query, { closed: 'The month is closed.' });
    return sendPage(reply, page({ title: 'Periods', main, caller, csrf, notice }), failed?.error.status ?? 200);
  };

  app.get('/admin/periods', async (request, reply) => showPeriods(request, reply, await requireAdminPage(ctx, request)));

  app.post('/admin/periods/close', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    try {
      const { period } = formInput(CloseForm, request.body);
      await closePeriod(ctx, period);
      return reply.redirect(`/admin/periods?done=closed#p-${period}`, 303);
    } catch (error) {
      return showPeriods(request, reply, caller, { period: formValues(request.body, ['period'], 20).period ?? '', error: formError(error, 'period') });
    }
  });
}

function closable(p: PeriodRow): boolean {
  return p.ended && p.stage !== 'done';
}

function periodSection(p: PeriodRow, csrf: string, error: FormError | undefined): Html {
  const state = p.stage === 'done' ? 'closed' : p.stage ? `closing (${p.stage})` : p.ended ? 'ended, not closed yet' : 'open';
  let body: Html | string = '';
  if (p.summary && p.stage === 'done') {
    body = html`<table><caption>Close summary</caption><tbody>${SUMMARY_LABELS.map(
      ([key, label]) => html`<tr><th scope="row">${label}</th><td class="num">${String(p.summary?.[key] ?? '')}</td></tr>`,
    )}</tbody></table>`;
  } else if (closable(p)) {
    const failedAt = p.error
      ? html`<div role="alert" class="error" id="close-${p.period}-failed"><p>The close stopped in its <strong>${p.stage}</strong> stage on ${p.error.at.toISOString()}: ${p.error.message}</p>
<p>Nothing of that stage was recorded. Fix the cause, then close again: it resumes at that stage.</p></div>`
      : '';
    body = html`${failedAt}<form method="post" action="/admin/periods/close">${csrfField(csrf)}<input type="hidden" name="period" value="${p.period}">
<button type="submit">${p.error ? `Run the close of ${p.period} again` : `Close ${p.period}`}</button>${error ? errorText(error, `close-${p.period}-error`) : ''}</form>`;
  } else if (!p.ended) {
    body = html`<p>Flattrs are still coming in; the month can be closed once it has ended.</p>`;
  }
  return html`<section id="p-${p.period}">
<h2>${p.period}: ${state}</h2>
${body}
</section>`;
}
