/** A member's invites and payout requests. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Caller, Context } from '../../context.ts';
import { formatAmount } from '../../core/money.ts';
import { balanceOf, walletAccountId } from '../../ledger/accounts.ts';
import { createInvite, listInvites } from '../../members/service.ts';
import { listPayouts, PayoutInput, requestPayout } from '../../wallet/service.ts';
import { formInput, formValues } from '../forms.ts';
import { html, query } from '../html.ts';
import { csrfField, errorText, type FormError, field, formError, noticeFor, page, sendPage } from '../layout.ts';
import { csrfCheck, csrfToken } from '../security.ts';
import { requireMemberPage } from '../session.ts';
import { bankSection } from './banking.ts';
import { topupSection } from './cards.ts';

export function walletRoutes(app: FastifyInstance, ctx: Context): void {
  const showInvites = async (request: FastifyRequest, reply: FastifyReply, caller: Caller, error?: FormError) => {
    const invites = await listInvites(ctx, caller);
    const csrf = csrfToken(reply);
    const allowance =
      caller.role === 'admin'
        ? 'As an admin you can make as many invites as you need.'
        : `Members can make ${ctx.config.invitesPerMember} invites; you have made ${invites.length}.`;
    const main = html`<p>An invite is a code for one new member${ctx.config.registration === 'invite' ? ' (this instance is invite-only)' : ''}. ${allowance}</p>
<form method="post" action="/invites">${csrfField(csrf)}<button type="submit">Make an invite</button>${error ? errorText(error, 'invite-error') : ''}</form>
${
  invites.length === 0
    ? html`<p>No invites yet.</p>`
    : html`<div class="scroll"><table>
<caption>Your invites</caption>
<thead><tr><th scope="col">Sign-up link</th><th scope="col">Made</th><th scope="col">Used by</th></tr></thead>
<tbody>${invites.map(
        (i) => html`<tr>
<td>${i.used_by ? html`<span class="code">${i.code}</span>` : html`<a href="/signup${query({ invite: i.code })}">${ctx.config.origin}/signup${query({ invite: i.code })}</a>`}</td>
<td>${i.created_at.slice(0, 10)}</td><td>${i.used_by ?? '—'}</td></tr>`,
      )}</tbody>
</table></div>`
}`;
    const notice = error ? undefined : noticeFor(request.query, { invite: 'Invite made: send its link to the person you invite.' });
    return sendPage(reply, page({ title: 'Invites', main, caller, csrf, notice, path: '/invites' }), error?.status ?? 200);
  };

  app.get('/invites', async (request, reply) => showInvites(request, reply, await requireMemberPage(ctx, request)));

  app.post('/invites', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request);
    try {
      await createInvite(ctx, caller);
      return reply.redirect('/invites?done=invite', 303);
    } catch (error) {
      return showInvites(request, reply, caller, formError(error));
    }
  });

  const showPayouts = async (request: FastifyRequest, reply: FastifyReply, caller: Caller, error?: FormError, amount?: string) => {
    const [balance, payouts] = await Promise.all([
      walletAccountId(ctx.db, caller.id).then((wallet) => balanceOf(ctx.db, wallet)),
      listPayouts(ctx, { memberId: caller.id }),
    ]);
    const c = ctx.config.currency;
    const csrf = csrfToken(reply);
    const main = html`<p>Your wallet holds <strong>${formatAmount(balance)} ${c}</strong>. Ask for a payout of ${formatAmount(ctx.config.minPayout)} ${c} or more;
the amount leaves your wallet at once and an admin sends it to you.</p>
<form method="post" action="/payouts" class="row">${csrfField(csrf)}
${field({ name: 'amount', label: `Amount in ${c}`, value: amount, error, required: true, inputmode: 'decimal' })}
<button type="submit">Ask for a payout</button></form>
${await bankSection(ctx, caller)}
${topupSection(ctx, reply, csrf)}
${
  payouts.length === 0
    ? html`<p>No payouts yet.</p>`
    : html`<div class="scroll"><table>
<caption>Your payouts</caption>
<thead><tr><th scope="col">Asked</th><th scope="col" class="num">Amount</th><th scope="col">State</th><th scope="col">Reference</th></tr></thead>
<tbody>${payouts.map((p) => html`<tr><td>${p.requested_at.slice(0, 10)}</td><td class="num">${p.amount}</td><td>${p.state}</td><td>${p.reference ?? '—'}</td></tr>`)}</tbody>
</table></div>`
}`;
    const notice = error ? undefined : noticeFor(request.query, { payout: 'Payout requested: an admin will send it.' });
    return sendPage(reply, page({ title: 'Payouts', main, caller, csrf, notice, path: '/payouts' }), error?.status ?? 200);
  };

  app.get('/payouts', async (request, reply) => showPayouts(request, reply, await requireMemberPage(ctx, request)));

  app.post('/payouts', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request);
    try {
      await requestPayout(ctx, caller, formInput(PayoutInput, request.body).amount);
      return reply.redirect('/payouts?done=payout', 303);
    } catch (error) {
      return showPayouts(request, reply, caller, formError(error, 'amount'), formValues(request.body, ['amount'], 40).amount);
    }
  });
}
