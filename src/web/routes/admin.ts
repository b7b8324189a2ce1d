/** Admin pages: members and the ledger check, deposits, payouts. Periods are in admin-periods.ts. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Caller, Context } from '../../context.ts';
import { formatAmount } from '../../core/money.ts';
import { checkLedger } from '../../ledger/check.ts';
import { listPayouts, markPayoutPaid, recordDeposit } from '../../wallet/service.ts';
import { html } from '../html.ts';
import { csrfField, field, formAlert, formError, type FormError, noticeFor, page, sendPage } from '../layout.ts';
import { membersWithBalances } from '../queries.ts';
import { csrfCheck, csrfToken } from '../security.ts';
import { requireAdminPage } from '../session.ts';

type Form = Record<string, string | undefined>;

export function adminRoutes(app: FastifyInstance, ctx: Context): void {
  const c = ctx.config.currency;

  app.get('/admin', async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    const [members, check] = await Promise.all([membersWithBalances(ctx), checkLedger(ctx.db)]);
    const main = html`<ul>
<li><a href="/admin/deposits">Record a deposit</a></li>
<li><a href="/admin/payouts">Payouts to send</a></li>
<li><a href="/admin/periods">Periods and the monthly close</a></li>
<li><a href="/invites">Invites</a></li>
</ul>
<h2 id="ledger">Ledger self-check</h2>
<p><strong>${check.balanced ? 'Balanced' : 'NOT balanced'}</strong>: ${check.checks.filter((k) => k.ok).length} of ${check.checks.length} checks pass over ${check.transfers} transfers.</p>
<div class="scroll"><table>
<thead><tr><th scope="col">Check</th><th scope="col">Result</th><th scope="col">What it would catch</th></tr></thead>
<tbody>${check.checks.map((k) => html`<tr><td class="code">${k.name}</td><td>${k.ok ? 'ok' : html`<strong class="error">failed</strong> <span class="code">${JSON.stringify(k.problems ?? [])}</span>`}</td><td>${k.why}</td></tr>`)}</tbody>
</table></div>
<h2>Members</h2>
<div class="scroll"><table>
<thead><tr><th scope="col">Member</th><th scope="col">Role</th><th scope="col" class="num">Wallet (${c})</th><th scope="col" class="num">Budget</th><th scope="col">Since</th></tr></thead>
<tbody>${members.map((m) => html`<tr><td>${m.username}</td><td>${m.role}</td><td class="num">${formatAmount(m.balance)}</td>
<td class="num">${m.budget === null ? '—' : formatAmount(m.budget)}</td><td>${m.created_at.toISOString().slice(0, 10)}</td></tr>`)}</tbody>
</table></div>`;
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
    const notice = error ? undefined : noticeFor(request.query, { deposit: 'Deposit recorded.', replayed: 'That reference was recorded before; nothing new was booked.' });
    return sendPage(reply, page({ title: 'Record a deposit', main, caller, csrf, notice }), error?.status ?? 200);
  };

  app.get('/admin/deposits', async (request, reply) => showDeposits(request, reply, await requireAdminPage(ctx, request)));

  app.post('/admin/deposits', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    const body = request.body as Form;
    try {
      const deposit = await recordDeposit(ctx, { username: body.username, amount: body.amount, reference: body.reference });
      return reply.redirect(`/admin/deposits?done=${deposit.replayed ? 'replayed' : 'deposit'}`, 303);
    } catch (error) {
      return showDeposits(request, reply, caller, body, formError(error, 'amount'));
    }
  });

  const showPayouts = async (request: FastifyRequest, reply: FastifyReply, caller: Caller, failed?: { id: string; error: FormError }) => {
    const payouts = await listPayouts(ctx, {});
    const csrf = csrfToken(reply);
    const main = html`<p>Send the money, then record it here with the transfer's reference.</p>
${payouts.length === 0 ? html`<p>No payouts.</p>` : html`<div class="scroll"><table>
<thead><tr><th scope="col">Member</th><th scope="col" class="num">Amount (${c})</th><th scope="col">Asked</th><th scope="col">State</th></tr></thead>
<tbody>${payouts.map((p) => html`<tr><td>${p.username}</td><td class="num">${p.amount}</td><td>${p.requested_at.slice(0, 10)}</td>
<td>${p.state === 'paid' ? html`paid, ${p.reference}` : html`<form method="post" action="/admin/payouts/${p.id}/paid" class="row">${csrfField(csrf)}
${field({ name: 'reference', id: `reference-${p.id}`, label: 'Reference', error: failed?.id === p.id ? failed.error : undefined, required: true })}
<button type="submit">Mark paid</button></form>`}</td></tr>`)}</tbody>
</table></div>`}`;
    const notice = failed ? undefined : noticeFor(request.query, { paid: 'Payout recorded as paid.' });
    return sendPage(reply, page({ title: 'Payouts', main, caller, csrf, notice }), failed?.error.status ?? 200);
  };

  app.get('/admin/payouts', async (request, reply) => showPayouts(request, reply, await requireAdminPage(ctx, request)));

  app.post<{ Params: { id: string } }>('/admin/payouts/:id/paid', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    try {
      await markPayoutPaid(ctx, request.params.id, (request.body as Form).reference);
      return reply.redirect('/admin/payouts?done=paid', 303);
    } catch (error) {
      return showPayouts(request, reply, caller, { id: request.params.id, error: formError(error, 'reference') });
    }
  });
}
