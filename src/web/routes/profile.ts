/**
 * /settings/profile: what a member chooses about being seen. For now one choice: whether they
 * and their things appear on the popular pages (members.listed; also whether their fediverse
 * actor says it is discoverable). The apps a member authorized are on /settings/apps.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Caller, Context } from '../../context.ts';
import { html } from '../html.ts';
import { checkbox, csrfField, formAlert, formError, type FormError, noticeFor, page, sendPage } from '../layout.ts';
import { checkboxValue, setListed } from '../preferences.ts';
import { isListed } from '../queries.ts';
import { csrfCheck, csrfToken } from '../security.ts';
import { requireMemberPage } from '../session.ts';

export function profileRoutes(app: FastifyInstance, ctx: Context): void {
  const show = async (request: FastifyRequest, reply: FastifyReply, caller: Caller, error?: FormError) => {
    const listed = await isListed(ctx, caller.id);
    const csrf = csrfToken(reply);
    const main = html`<p>Signed in as <strong>${caller.username}</strong>.</p>
<h2>Being listed</h2>
<form method="post" action="/settings/profile">${csrfField(csrf)}
${formAlert(error, ['listed'])}
${checkbox({ name: 'listed', label: 'List me and my things on the popular pages', checked: listed, error,
      hint: 'Untick to keep your name and your things off /popular; people can still flattr your things. Other fediverse servers are also told not to suggest your profile.' })}
<button type="submit">Save</button></form>
<h2>Signing in</h2>
<p><a href="/settings/sessions">Sessions and tokens</a> that can use your account, and <a href="/settings/password">your password</a>.</p>
<h2>Apps</h2>
<p><a href="/settings/apps">Apps you authorized</a> to use your account.</p>
<p><a href="/settings/links">Fediverse accounts you linked</a>, so that flattrs of their posts come to you.</p>`;
    const notice = error ? undefined : noticeFor(request.query, { saved: 'Settings saved.' });
    return sendPage(reply, page({ title: 'Settings', main, caller, csrf, notice, path: '/settings/profile' }), error?.status ?? 200);
  };

  app.get('/settings/profile', async (request, reply) => show(request, reply, await requireMemberPage(ctx, request)));

  app.post('/settings/profile', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request, '/settings/profile');
    try {
      await setListed(ctx, caller, checkboxValue((request.body as { listed?: unknown }).listed, 'listed'));
      return reply.redirect('/settings/profile?done=saved', 303);
    } catch (error) {
      return show(request, reply, caller, formError(error, 'listed'));
    }
  });
}
