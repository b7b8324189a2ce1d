/** Admin pages: the overview, deposits, payouts. Members, invites and the ledger are in admin-members.ts, periods in admin-periods.ts. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Caller, Context } from '../../context.ts';
import { AppError } from '../../core/errors.ts';
import { checkLedger } from '../../ledger/check.ts';
import { DepositInput, listPayouts, markPayoutPaid, PayoutPaidInput, recordDeposit } from '../../wallet/service.ts';
import { formInput, formValues } from '../forms.ts';
import { html, query } from '../html.ts';
import { csrfField, errorText, type FormError, field, formAlert, formError, noticeFor, page, sendPage } from '../layout.ts';
import { csrfCheck, csrfToken } from '../security.ts';
import { requireAdminPage } from '../session.ts';

type Form = Record<string, string | undefined>;

export function adminRoutes(app: FastifyInstance, ctx: Context): void {
  const c = ctx.config.currency;

  app.get('/admin', async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    const check = await checkLedger(ctx.db);
    const main = html`<ul>
<li><a href="/admin/members">Members</a>: wallets and budgets, with search</li>
<li><a href="/admin/invites">Invites</a>: make one, see which are used</li>
<li><a href="/admin/deposits">Record a deposit</a></li>
<li><a href="/admin/payouts">Payouts to send</a>; <a href="/admin/payouts/sepa">SEPA payout files</a></li>
<li><a href="/admin/bank">Bank statements</a>: import the bank's camt.053 statement, assign or ignore what it could not match</li>
<li><a href="/admin/cards">Card top-ups</a>: fees, top-ups held for review, refunds and their shortfalls</li>
<li><a href="/admin/periods">Periods, the monthly close and its summaries</a></li>
<li><a href="/admin/unclaimed">Unclaimed money</a>: what waits for fediverse accounts, until when</li>
<li><a href="/admin/ledger">The ledger self-check</a></li>
<li><a href="/admin/peers">Settlement with other instances</a>: <a href="/admin/peers">peers</a>, <a href="/admin/statements">statements</a>, <a href="/admin/settlements">settlements</a></li>
</ul>
<h2 id="ledger">Ledger self-check</h2>
<p><strong>${check.balanced ? 'Balanced' : 'NOT balanced'}</strong>: ${check.checks.filter((k) => k.ok).length} of ${check.checks.length} checks pass over ${check.transfers} transfers.
<a href="/admin/ledger">Each check</a>.</p>`;
    return sendPage(reply, page({ title: 'Admin', main, caller, csrf: csrfToken(reply), path: '/admin' }));
  });

  const showDeposits = (request: FastifyRequest, reply: FastifyReply, caller: Caller, values: Form = {}, error?: FormError) => {
    const csrf = csrfToken(reply);
    const main = html`<p>Record money a member sent to the instance. The same reference records once, so sending the form twice is safe.</p>
<form method="post" action="/admin/deposits">${csrfField(csrf)}
${formAlert(error, ['username', 'amount', 'reference'])}
${field({ name: 'username', label: 'Member', value: values.username, error, required: true })}
${field({ name: 'amount', label: `Amount in ${c}`, value: values.amount, error, required: true, inputmode: 'decimal' })}
${field({ name: 'reference', label: 'Reference', value: values.reference, error, required: true, hint: 'the bank transfer reference, for example' })}
<button type="submit">Record the deposit</button></form>`;
    const notice = error
      ? undefined
      : noticeFor(request.query, { deposit: 'Deposit recorded.', replayed: 'That reference was recorded before; nothing new was booked.' });
    return sendPage(reply, page({ title: 'Record a deposit', main, caller, csrf, notice }), error?.status ?? 200);
  };

  app.get('/admin/deposits', async (request, reply) => showDeposits(request, reply, await requireAdminPage(ctx, request)));

  app.post('/admin/deposits', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    try {
      const deposit = await recordDeposit(ctx, formInput(DepositInput, request.body));
      return reply.redirect(`/admin/deposits?done=${deposit.replayed ? 'replayed' : 'deposit'}`, 303);
    } catch (error) {
      return showDeposits(request, reply, caller, formValues(request.body, ['username', 'amount', 'reference'], 200), formError(error, 'amount'));
    }
  });

  const showPayouts = async (request: FastifyRequest, reply: FastifyReply, caller: Caller, failed?: { id: string; error: FormError }) => {
    const state = payoutStateParam((request.query as { state?: unknown }).state);
    const payouts = await listPayouts(ctx, state === 'all' ? {} : { state });
    const csrf = csrfToken(reply);
    const tab = (value: string, label: string) =>
      html`<li>${value === state ? html`<a href="/admin/payouts${query({ state: value })}" aria-current="page"><strong>${label}</strong></a>` : html`<a href="/admin/payouts${query({ state: value })}">${label}</a>`}</li>`;
    const main = html`<nav aria-label="Payouts by state"><ul class="tabs">${tab('requested', 'To send')}${tab('paid', 'Paid')}${tab('all', 'All')}</ul></nav>
<p>Send the money, then record it here with the transfer's reference. The same reference again changes nothing; another one is refused <span class="code">(already_paid)</span>.</p>
${failed && !payouts.some((p) => p.id === failed.id && p.state === 'requested') ? html`<div role="alert">${errorText(failed.error, 'payout-error')}</div>` : ''}
${
  payouts.length === 0
    ? html`<p>No payouts${state === 'all' ? '' : state === 'paid' ? ' paid yet' : ' to send'}.</p>`
    : html`<div class="scroll"><table>
<thead><tr><th scope="col">Member</th><th scope="col" class="num">Amount (${c})</th><th scope="col">Asked</th><th scope="col">State</th></tr></thead>
<tbody>${payouts.map(
        (p) => html`<tr><td>${p.username}</td><td class="num">${p.amount}</td><td>${p.requested_at.slice(0, 10)}</td>
<td>${
          p.state === 'paid'
            ? html`paid ${p.paid_at?.slice(0, 10) ?? ''}, reference <span class="code">${p.reference}</span>`
            : html`<form method="post" action="/admin/payouts/${p.id}/paid" class="row">${csrfField(csrf)}
${field({ name: 'reference', id: `reference-${p.id}`, label: 'Reference', error: failed?.id === p.id ? failed.error : undefined, required: true })}
<button type="submit">Mark paid</button></form>`
        }</td></tr>`,
      )}</tbody>
</table></div>`
}`;
    const notice = failed ? undefined : noticeFor(request.query, { paid: 'Payout recorded as paid.' });
    return sendPage(reply, page({ title: 'Payouts', main, caller, csrf, notice }), failed?.error.status ?? 200);
  };

  app.get('/admin/payouts', async (request, reply) => showPayouts(request, reply, await requireAdminPage(ctx, request)));

  app.post<{ Params: { id: string } }>('/admin/payouts/:id/paid', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    try {
      await markPayoutPaid(ctx, request.params.id, formInput(PayoutPaidInput, request.body).reference);
      return reply.redirect('/admin/payouts?state=paid&done=paid', 303);
    } catch (error) {
      return showPayouts(request, reply, caller, { id: request.params.id, error: formError(error, 'reference') });
    }
  });
}

function payoutStateParam(value: unknown): 'requested' | 'paid' | 'all' {
  if (value === undefined || value === '') return 'requested';
  if (value === 'requested' || value === 'paid' || value === 'all') return value;
  throw new AppError('invalid_request', `state must be requested, paid or all, got ${JSON.stringify(value)}`, { field: 'state' });
}
