/**
 * The pages of card top-ups: the form on the wallet page (/payouts) and its own page, the redirect
 * to Stripe Checkout, the pages Stripe sends the member back to (done, cancelled), and the admin's
 * /admin/cards: top-ups held for review, refunds and lost disputes with their shortfalls, and
 * every top-up with its fee.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createTopup, listReversals, listTopups, myTopup, myTopups, requireCards, TopupInput, type TopupView } from '../../cards/topups.ts';
import type { Caller, Context } from '../../context.ts';
import { formatAmount } from '../../core/money.ts';
import { formInput, formValues } from '../forms.ts';
import { type Html, html } from '../html.ts';
import { csrfField, type FormError, field, formError, page, sendPage } from '../layout.ts';
import { csrfCheck, csrfToken, PAGE_CSP } from '../security.ts';
import { requireAdminPage, requireMemberPage } from '../session.ts';

/** The page with the form may send the browser on to Stripe Checkout (form-action covers the redirect). */
export const TOPUP_CSP = PAGE_CSP.replace("form-action 'self'", "form-action 'self' https://checkout.stripe.com");

/** The top-up form for the wallet page; nothing when the instance takes no card payments. Sets the page's CSP. */
export function topupSection(ctx: Context, reply: FastifyReply, csrf: string, error?: FormError, amount?: string): Html | '' {
  const cards = ctx.config.cards;
  if (!cards) return '';
  reply.header('content-security-policy', TOPUP_CSP);
  const c = ctx.config.currency;
  const fee =
    cards.feeBearer === 'member'
      ? "Stripe's card fee is taken from the amount: your wallet receives the rest."
      : 'The instance pays the card fee: your wallet receives the whole amount.';
  return html`<h2 id="topup">Top up by card</h2>
<p>Pay ${formatAmount(cards.minTopup)} to ${formatAmount(cards.maxTopup)} ${c} by card through Stripe. ${fee}</p>
<form method="post" action="/wallet/topup" class="row">${csrfField(csrf)}
${field({ name: 'amount', id: 'topup-amount', label: `Amount in ${c}`, value: amount, error, required: true, inputmode: 'decimal' })}
<button type="submit">Pay by card</button></form>
<p><a href="/wallet/topup">Your card top-ups</a>, with Stripe's fee on each.</p>`;
}

function topupTable(topups: TopupView[]): Html {
  if (topups.length === 0) return html`<p>No card top-ups yet.</p>`;
  return html`<div class="scroll"><table>
<caption>Your card top-ups</caption>
<thead><tr><th scope="col">Made</th><th scope="col" class="num">Paid</th><th scope="col" class="num">Card fee</th><th scope="col">Fee paid by</th><th scope="col" class="num">Credited</th><th scope="col" class="num">Refunded</th><th scope="col">State</th></tr></thead>
<tbody>${topups.map((p) => html`<tr><td>${p.created_at.slice(0, 10)}</td><td class="num">${p.amount}</td><td class="num">${p.fee ?? '—'}</td><td>${p.fee_bearer === 'member' ? 'you' : 'the instance'}</td><td class="num">${p.credited ?? '—'}</td><td class="num">${p.refunded}</td><td>${p.state}</td></tr>`)}</tbody>
</table></div>`;
}

export function cardPages(app: FastifyInstance, ctx: Context): void {
  const showForm = async (reply: FastifyReply, caller: Caller, error?: FormError, amount?: string) => {
    const csrf = csrfToken(reply);
    const main = html`${topupSection(ctx, reply, csrf, error, amount)}${topupTable(await myTopups(ctx, caller))}`;
    return sendPage(reply, page({ title: 'Top up', main, caller, csrf, path: '/payouts' }), error?.status ?? 200);
  };

  app.get('/wallet/topup', async (request, reply) => {
    const caller = await requireMemberPage(ctx, request);
    requireCards(ctx);
    return showForm(reply, caller);
  });

  app.post('/wallet/topup', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request, '/payouts');
    requireCards(ctx);
    try {
      const topup = await createTopup(ctx, caller, formInput(TopupInput, request.body).amount);
      return reply.redirect(topup.checkout_url, 303);
    } catch (error) {
      return showForm(reply, caller, formError(error, 'amount'), formValues(request.body, ['amount'], 40).amount);
    }
  });

  const backFromStripe = (outcome: 'done' | 'cancelled') => async (request: FastifyRequest, reply: FastifyReply) => {
    const caller = await requireMemberPage(ctx, request);
    requireCards(ctx);
    const topup = await myTopup(ctx, caller, (request.query as { topup?: unknown }).topup);
    const what = `${topup.amount} ${topup.currency}`;
    const main =
      outcome === 'cancelled'
        ? html`<p>You left the card payment of ${what}: nothing was charged. <a href="/payouts#topup">Try again</a>.</p>`
        : topup.state === 'credited'
          ? html`<p>Thank you: ${topup.credited} ${topup.currency} of your ${what} is in your wallet${topup.fee && topup.fee_bearer === 'member' ? ` (Stripe's fee was ${topup.fee})` : ''}.</p>`
          : topup.state === 'review'
            ? html`<p>Stripe reported your payment of ${what}, but it needs a look from an admin before it is credited.</p>`
            : html`<p>Thank you: your payment of ${what} is credited as soon as Stripe confirms it (usually within a minute). <a href="/payouts">Your wallet</a>.</p>`;
    return sendPage(reply, page({ title: outcome === 'cancelled' ? 'Top-up cancelled' : 'Top-up', main, caller, csrf: csrfToken(reply), path: '/payouts' }));
  };
  app.get('/wallet/topup/done', backFromStripe('done'));
  app.get('/wallet/topup/cancelled', backFromStripe('cancelled'));

  app.get('/admin/cards', async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    const [review, shortfalls, topups] = await Promise.all([listTopups(ctx, { state: 'review' }), listReversals(ctx, { shortfall: true }), listTopups(ctx)]);
    const c = ctx.config.currency;
    const main = html`${ctx.config.cards ? html`<p>Card top-ups through Stripe; the ${ctx.config.cards.feeBearer} bears Stripe's fee.</p>` : html`<p>Card top-ups are off (no Stripe secrets configured).</p>`}
<h2>Held for review</h2>
${
  review.length === 0
    ? html`<p>None: every paid top-up matched what the instance asked for.</p>`
    : html`<div class="scroll"><table>
<caption>Paid but not credited</caption>
<thead><tr><th scope="col">Member</th><th scope="col" class="num">Amount</th><th scope="col">Session</th><th scope="col">Problem</th></tr></thead>
<tbody>${review.map((r) => html`<tr><td>${r.username}</td><td class="num">${r.amount}</td><td class="code">${r.session_id ?? '—'}</td><td>${r.problem ?? '—'}</td></tr>`)}</tbody>
</table></div>`
}
<h2>Shortfalls</h2>
${
  shortfalls.length === 0
    ? html`<p>None: every refund and lost dispute was covered by the wallet.</p>`
    : html`<div class="scroll"><table>
<caption>Money Stripe took back that the wallet no longer held (${c})</caption>
<thead><tr><th scope="col">Member</th><th scope="col">Kind</th><th scope="col" class="num">Taken back</th><th scope="col" class="num">From the wallet</th><th scope="col" class="num">Shortfall</th><th scope="col">Stripe</th></tr></thead>
<tbody>${shortfalls.map((r) => html`<tr><td>${r.username}</td><td>${r.kind}</td><td class="num">${r.amount}</td><td class="num">${r.booked}</td><td class="num"><strong>${r.shortfall}</strong></td><td class="code">${r.stripe_ref}</td></tr>`)}</tbody>
</table></div>`
}
<h2>Top-ups</h2>
${
  topups.length === 0
    ? html`<p>No card top-ups yet.</p>`
    : html`<div class="scroll"><table>
<caption>The latest card top-ups (${c})</caption>
<thead><tr><th scope="col">Made</th><th scope="col">Member</th><th scope="col">State</th><th scope="col" class="num">Amount</th><th scope="col" class="num">Fee</th><th scope="col">Fee paid by</th><th scope="col" class="num">Credited</th><th scope="col" class="num">Refunded</th></tr></thead>
<tbody>${topups.map((r) => html`<tr><td>${r.created_at.slice(0, 10)}</td><td>${r.username}</td><td>${r.state}</td><td class="num">${r.amount}</td><td class="num">${r.fee ?? '—'}</td><td>${r.fee_bearer}</td><td class="num">${r.credited ?? '—'}</td><td class="num">${r.refunded}</td></tr>`)}</tbody>
</table></div>`
}`;
    return sendPage(reply, page({ title: 'Card top-ups', main, caller, csrf: csrfToken(reply), path: '/admin' }));
  });
}
