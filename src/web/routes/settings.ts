/**
 * Settings: the apps a member has authorized (src/oauth/grants.ts), with what each may do, and a
 * CSRF-protected form per app that revokes every token it holds and every code not yet used.
 */
import type { FastifyInstance } from 'fastify';
import type { Context } from '../../context.ts';
import { listAuthorizedApps, revokeApp } from '../../oauth/grants.ts';
import { isScope, SCOPE_WORDS } from '../../oauth/scopes.ts';
import { externalLink, html } from '../html.ts';
import { csrfField, noticeFor, page, sendPage } from '../layout.ts';
import { csrfCheck, csrfToken } from '../security.ts';
import { requireMemberPage } from '../session.ts';

export function settingsRoutes(app: FastifyInstance, ctx: Context): void {
  app.get('/settings/apps', async (request, reply) => {
    const caller = await requireMemberPage(ctx, request);
    const apps = await listAuthorizedApps(ctx, caller.id);
    const csrf = csrfToken(reply);
    const main = html`<p>Apps you allowed to use your account. Revoking one ends its access at once; it would have to ask you again.</p>
${
  apps.length === 0
    ? html`<p>You have not authorized any app.</p>`
    : html`<ul class="apps">${apps.map(
        (a) => html`<li>
<h2>${a.name}</h2>
${a.website ? html`<p>${externalLink(a.website)}</p>` : ''}
<p>Authorized on ${a.authorized_at.slice(0, 10)}. It may:</p>
<ul>${a.scopes.map((s) => html`<li><strong>${s}</strong>${isScope(s) ? html`: ${SCOPE_WORDS[s]}` : ''}</li>`)}</ul>
<form method="post" action="/settings/apps/${a.id}/revoke">${csrfField(csrf)}<button type="submit">Revoke ${a.name}</button></form>
</li>`,
      )}</ul>`
}`;
    const notice = noticeFor(request.query, { revoked: 'Access revoked: the app can no longer use your account.' });
    return sendPage(reply, page({ title: 'Authorized apps', main, caller, csrf, notice, path: '/settings/apps' }));
  });

  app.post('/settings/apps/:id/revoke', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request, '/settings/apps');
    await revokeApp(ctx, caller.id, (request.params as { id: string }).id);
    return reply.redirect('/settings/apps?done=revoked', 303);
  });
}
