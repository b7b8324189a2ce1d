/**
 * /settings/links: the fediverse accounts a member links (src/links/links.ts). Add one by
 * handle or actor URL (pending; the member's actor lists it at once), put the member's profile
 * address on the account, verify, remove. Forms only, each CSRF-protected; errors next to the field.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Caller, Context } from '../../context.ts';
import { addLink, LinkInput, listLinks, removeLink, verifyLink } from '../../links/links.ts';
import { actorIri } from '../../members/service.ts';
import { formInput, formValues } from '../forms.ts';
import { externalLink, html } from '../html.ts';
import { csrfField, errorText, type FormError, field, formError, noticeFor, page, sendPage } from '../layout.ts';
import { csrfCheck, csrfToken } from '../security.ts';
import { requireMemberPage } from '../session.ts';

type Params = { Params: { id: string } };

export function linkPageRoutes(app: FastifyInstance, ctx: Context): void {
  const show = async (
    request: FastifyRequest,
    reply: FastifyReply,
    caller: Caller,
    o: { error?: FormError; account?: string; problem?: { id: string; text: string } } = {},
  ) => {
    const links = await listLinks(ctx, caller.id);
    const csrf = csrfToken(reply);
    const mine = actorIri(ctx, caller.username);
    const main = html`<p>Link a fediverse account you control (on Mastodon, say), and flattrs of its posts from any Farthing
instance come to you here. It takes two steps, one on each side, so nobody can claim an account that is not theirs:</p>
<ol>
<li>Add the account below. Your Farthing profile lists it at once.</li>
<li>On the account, add your Farthing profile address <code>${mine}</code> as a profile link (a profile field) or as an
account alias, then press “Verify”.</li>
</ol>
<form method="post" action="/settings/links">${csrfField(csrf)}
${field({ name: 'account', label: 'Fediverse account', hint: 'A handle like @alice@mastodon.example, or the account’s URL', value: o.account, error: o.error, required: true, autocomplete: 'off' })}
<button type="submit">Add the account</button></form>
${
  links.length === 0
    ? html`<p>No linked accounts yet.</p>`
    : html`<div class="scroll"><table>
<caption>Your linked accounts</caption>
<thead><tr><th scope="col">Account</th><th scope="col">State</th><th scope="col">Actions</th></tr></thead>
<tbody>${links.map(
        (l) => html`<tr>
<td>${externalLink(l.account, l.handle ?? l.account)}</td>
<td>${l.state === 'verified' ? html`<strong>verified</strong> ${l.verified_at?.slice(0, 10)}` : 'pending: not pointing back yet'}
${o.problem?.id === l.id ? html`<p class="error" role="alert">${o.problem.text}</p>` : ''}</td>
<td><form method="post" action="/settings/links/${l.id}/verify" class="inline">${csrfField(csrf)}<button type="submit">Verify ${l.handle ?? 'the account'}</button></form>
<form method="post" action="/settings/links/${l.id}/remove" class="inline">${csrfField(csrf)}<button type="submit" class="link">Remove ${l.handle ?? 'the account'}</button></form></td>
</tr>`,
      )}</tbody>
</table></div>`
}
${o.error && o.error.field !== 'account' ? html`<div role="alert">${errorText(o.error)}</div>` : ''}`;
    const notice =
      o.error || o.problem
        ? undefined
        : noticeFor(request.query, {
            added: 'Account added. Now point it back to your Farthing profile, then verify.',
            verified: 'Verified: flattrs of this account’s posts now come to you.',
            removed: 'Link removed.',
          });
    return sendPage(reply, page({ title: 'Linked accounts', main, caller, csrf, notice, path: '/settings/links' }), o.error?.status ?? 200);
  };

  app.get('/settings/links', async (request, reply) => show(request, reply, await requireMemberPage(ctx, request)));

  app.post('/settings/links', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request, '/settings/links');
    try {
      await addLink(ctx, caller, formInput(LinkInput, request.body).account);
      return reply.redirect('/settings/links?done=added', 303);
    } catch (error) {
      return show(request, reply, caller, { error: formError(error, 'account'), account: formValues(request.body, ['account'], 2048).account });
    }
  });

  app.post<Params>('/settings/links/:id/verify', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request, '/settings/links');
    try {
      const link = await verifyLink(ctx, caller, request.params.id);
      if (link.state === 'verified') return reply.redirect('/settings/links?done=verified', 303);
      return show(request, reply, caller, { problem: { id: link.id, text: link.problem ?? 'not verified' } });
    } catch (error) {
      return show(request, reply, caller, { error: formError(error) });
    }
  });

  app.post<Params>('/settings/links/:id/remove', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request, '/settings/links');
    try {
      await removeLink(ctx, caller, request.params.id);
      return reply.redirect('/settings/links?done=removed', 303);
    } catch (error) {
      return show(request, reply, caller, { error: formError(error) });
    }
  });
}
