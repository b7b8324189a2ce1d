/**
 * Unclaimed money on pages (issue 13): the admin's list of fediverse accounts with money waiting
 * (/admin/unclaimed), and one public page per account (/unclaimed/{actor IRI, URL-encoded}) that
 * the instance actor's message links to: how much waits, until which close, and how to claim it.
 */
import type { FastifyInstance } from 'fastify';
import type { Context } from '../../context.ts';
import { listUnclaimed, unclaimedFor } from '../../links/unclaimed.ts';
import { externalLink, html } from '../html.ts';
import { page, sendPage } from '../layout.ts';
import { csrfToken } from '../security.ts';
import { currentMember, requireAdminPage } from '../session.ts';

export function unclaimedRoutes(app: FastifyInstance, ctx: Context): void {
  const c = ctx.config.currency;

  app.get('/admin/unclaimed', async (request, reply) => {
    const caller = await requireAdminPage(ctx, request);
    const { items } = await listUnclaimed(ctx);
    const main = html`<p>Shares for fediverse accounts that no Farthing instance claims wait here for six closes, then go to the
charity. Each account is told by a direct message from this instance (unless FARTHING_NOTIFY_UNCLAIMED is off).</p>
${
  items.length === 0
    ? html`<p>No money waits for anyone.</p>`
    : html`<div class="scroll"><table>
<caption>Money waiting (${c})</caption>
<thead><tr><th scope="col">Account</th><th scope="col" class="num">Amount</th><th scope="col" class="num">Flattrs</th><th scope="col">Months</th><th scope="col">Goes to the charity at the close of</th></tr></thead>
<tbody>${items.map(
        (i) => html`<tr><td>${externalLink(i.account, i.handle ?? i.account)} (<a href="${i.page}">its page</a>)</td><td class="num">${i.amount}</td>
<td class="num">${i.flattrs}</td><td>${i.periods.join(', ')}</td><td>${i.expires}</td></tr>`,
      )}</tbody></table></div>`
}`;
    return sendPage(reply, page({ title: 'Unclaimed money', main, caller, csrf: csrfToken(reply), path: '/admin/unclaimed' }));
  });

  app.get('/unclaimed/*', async (request, reply) => {
    const account = (request.params as { '*': string })['*'];
    const caller = await currentMember(ctx, request);
    const it = /^https?:\/\//.test(account) ? await unclaimedFor(ctx, account) : undefined;
    if (!it) {
      const main = html`<p role="alert">No money waits on this instance for ${account.slice(0, 300)}.</p>`;
      return sendPage(reply, page({ title: 'Nothing waiting', main, caller, csrf: caller && csrfToken(reply) }), 404);
    }
    const name = it.handle ?? it.account;
    const main = html`<p>Members of ${new URL(ctx.config.origin).host} flattred posts of ${externalLink(it.account, name)}:
<strong>${it.amount} ${c}</strong> from ${it.flattrs} ${it.flattrs === 1 ? 'flattr' : 'flattrs'} (${it.periods.join(', ')}) wait for this account.</p>
<p>It waits until the close of ${it.expires} (after ${it.expires_at.slice(0, 10)}); then it goes to the instance's charity.</p>
<h2>How to claim it</h2>
<ol>
<li>Have an account on any Farthing instance (this one, or another).</li>
<li>There, under Settings → Linked accounts, add ${name}; your Farthing profile lists it at once.</li>
<li>On ${name}, add your Farthing profile address as a profile link (a profile field) or an alias, then press “Verify”.</li>
</ol>
<p>From the next close on, the money goes to you through your instance, and so do new flattrs of your posts.</p>`;
    return sendPage(reply, page({ title: `Money waiting for ${name}`, main, caller, csrf: caller && csrfToken(reply) }));
  });
}
