/**
 * A member's sign-ins, as pages: /settings/sessions lists the browser sessions and tokens that can
 * act as them (this browser marked) with a form to revoke each, and /settings/password changes the
 * password (the current one required), which signs out everything else. The same services as
 * GET/DELETE /api/v1/tokens and PUT /api/v1/me/password (src/members/sessions.ts).
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Caller, Context } from '../../context.ts';
import { isAppError } from '../../core/errors.ts';
import { retryAfterHeader } from '../../http/errors.ts';
import { changePassword, listTokens, PasswordChangeInput, revokeTokenOf } from '../../members/sessions.ts';
import { formInput } from '../forms.ts';
import { html } from '../html.ts';
import { csrfField, type FormError, field, formAlert, formError, noticeFor, page, sendPage } from '../layout.ts';
import { csrfCheck, csrfToken } from '../security.ts';
import { endSession, requireMemberPage } from '../session.ts';

function day(iso: string | null): string {
  return iso ? `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC` : '—';
}

export function accountRoutes(app: FastifyInstance, ctx: Context): void {
  app.get('/settings/sessions', async (request, reply) => {
    const caller = await requireMemberPage(ctx, request);
    const items = await listTokens(ctx, caller);
    const csrf = csrfToken(reply);
    const main = html`<p>Every browser signed in as you and every token that can use your account. Revoke any you do not recognise;
<a href="/settings/password">changing your password</a> revokes all but this browser.</p>
<div class="scroll"><table>
<caption>Sessions and tokens, newest first</caption>
<thead><tr><th scope="col">What</th><th scope="col">Made</th><th scope="col">Last used</th><th scope="col">Ends</th><th scope="col"></th></tr></thead>
<tbody>${items.map(
      (
        i,
      ) => html`<tr id="token-${i.id}"><td>${i.kind === 'session' ? 'Browser session' : i.app ? html`App: ${i.app}` : 'API token'}${i.current ? html` <strong>(this browser)</strong>` : ''}</td>
<td>${day(i.created_at)}</td><td>${day(i.last_used_at)}</td><td>${i.expires_at ? html`${day(i.expires_at)} unless used` : 'when revoked'}</td>
<td><form method="post" action="/settings/sessions/${i.id}/revoke" class="inline">${csrfField(csrf)}<button type="submit">Revoke${i.current ? ' (signs you out)' : ''}</button></form></td></tr>`,
    )}</tbody>
</table></div>`;
    const notice = noticeFor(request.query, { revoked: 'Revoked: it can no longer use your account.' });
    return sendPage(reply, page({ title: 'Sessions and tokens', main, caller, csrf, notice, path: '/settings/sessions' }));
  });

  app.post<{ Params: { id: string } }>('/settings/sessions/:id/revoke', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request, '/settings/sessions');
    await revokeTokenOf(ctx, caller, request.params.id);
    if (caller.tokenId !== undefined && String(caller.tokenId) === request.params.id) {
      await endSession(ctx, request, reply);
      return reply.redirect('/signin?done=signedout', 303);
    }
    return reply.redirect('/settings/sessions?done=revoked', 303);
  });

  const passwordPage = (request: FastifyRequest, reply: FastifyReply, caller: Caller, error?: FormError) => {
    const csrf = csrfToken(reply);
    const main = html`<form method="post" action="/settings/password">${csrfField(csrf)}
${formAlert(error, ['current', 'new'])}
<input type="text" name="username" value="${caller.username}" autocomplete="username" hidden>
${field({ name: 'current', label: 'Current password', type: 'password', error, required: true, autocomplete: 'current-password' })}
${field({ name: 'new', label: 'New password', type: 'password', error, required: true, autocomplete: 'new-password', hint: '8 to 256 characters' })}
<button type="submit">Change the password</button>
</form>
<p>Every other browser and every token (apps' too) is signed out; this browser stays signed in.</p>`;
    const notice = error ? undefined : noticeFor(request.query, { changed: 'Password changed: every other session and token is revoked.' });
    return sendPage(reply, page({ title: 'Password', main, caller, csrf, notice, path: '/settings/password' }), error?.status ?? 200);
  };

  app.get('/settings/password', async (request, reply) => passwordPage(request, reply, await requireMemberPage(ctx, request)));

  app.post('/settings/password', { config: { passwordEntry: true }, preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request, '/settings/password');
    try {
      await changePassword(ctx, caller, formInput(PasswordChangeInput, request.body), request.ip);
      return reply.redirect('/settings/password?done=changed', 303);
    } catch (error) {
      if (isAppError(error)) retryAfterHeader(reply, error);
      return passwordPage(request, reply, caller, formError(error));
    }
  });
}
