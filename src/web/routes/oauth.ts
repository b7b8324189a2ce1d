/**
 * The consent page of OAuth (GET/POST /oauth/authorize, src/oauth/flow.ts): a signed-in member
 * sees which app asks, where it will send them back and what it may do, in plain words, and
 * approves or denies with a CSRF-protected form. Approve sends them to the app's redirect URI with
 * a code (and the app's state); deny with error=access_denied. A request that cannot be trusted
 * with a redirect (unknown client, unregistered redirect URI) is explained here instead; an
 * out-of-band app (urn:ietf:wg:oauth:2.0:oob) gets its code shown to copy.
 *
 * The page's form-action allows the app's redirect target too: browsers apply form-action to the
 * redirect that follows the form, and the pages' default allows only this site.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Caller, Context } from '../../context.ts';
import { OOB_REDIRECT } from '../../oauth/apps.ts';
import { OAuthError, UnsafeRedirectError } from '../../oauth/errors.ts';
import { type AuthorizationRequest, checkAuthorizationRequest, grantableScopes, issueCode, redirectTo } from '../../oauth/flow.ts';
import { SCOPE_WORDS, type Scope } from '../../oauth/scopes.ts';
import { externalLink, html } from '../html.ts';
import { csrfField, page, sendPage } from '../layout.ts';
import { csrfCheck, csrfToken, PAGE_CSP } from '../security.ts';
import { requireMemberPage } from '../session.ts';

/** What the consent form repeats of the request, so its POST is checked exactly as the GET was. */
const REQUEST_FIELDS = ['response_type', 'client_id', 'redirect_uri', 'scope', 'state', 'code_challenge', 'code_challenge_method'] as const;

/** form-action for a page whose form ends in a redirect to the app. */
function cspFor(redirectUri: string): string {
  if (redirectUri === OOB_REDIRECT) return PAGE_CSP;
  const url = new URL(redirectUri);
  const source = url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol;
  return PAGE_CSP.replace("form-action 'self'", `form-action 'self' ${source}`);
}

function showProblem(reply: FastifyReply, caller: Caller | undefined, message: string, status = 400): FastifyReply {
  const main = html`<div role="alert"><p class="error">${message}</p></div>
<p>The app that sent you here is not set up correctly for this instance; nothing was shared with it. <a href="/dashboard">Back to your dashboard</a></p>`;
  return sendPage(reply, page({ title: 'This app cannot be authorized', main, caller }), status);
}

/** OAuth errors go back to the app (RFC 6749 4.1.2.1), except for out-of-band apps, which have no way back. */
function sendBack(reply: FastifyReply, caller: Caller | undefined, redirectUri: string, error: OAuthError, state: string | undefined): FastifyReply {
  if (redirectUri === OOB_REDIRECT) return showProblem(reply, caller, `${error.message} (${error.error})`);
  return reply.redirect(redirectTo(redirectUri, { error: error.error, error_description: error.message, state }), 303);
}

function scopeList(scopes: readonly Scope[]) {
  return html`<ul class="scopes">${scopes.map((s) => html`<li><strong>${s}</strong>: ${SCOPE_WORDS[s]}</li>`)}</ul>`;
}

export function consentRoutes(app: FastifyInstance, ctx: Context): void {
  /** The checked request, or the answer already sent for one that cannot go on. */
  const check = async (_request: FastifyRequest, reply: FastifyReply, params: Record<string, unknown>): Promise<AuthorizationRequest | FastifyReply> => {
    try {
      const checked = await checkAuthorizationRequest(ctx, params);
      if ('request' in checked) return checked.request;
      return sendBack(reply, undefined, checked.redirectUri, checked.error, checked.state);
    } catch (error) {
      if (error instanceof UnsafeRedirectError) return showProblem(reply, undefined, error.message);
      throw error;
    }
  };

  app.get('/oauth/authorize', async (request, reply) => {
    const params = (request.query ?? {}) as Record<string, unknown>;
    const checked = await check(request, reply, params);
    if (!('app' in checked)) return checked;
    const caller = await requireMemberPage(ctx, request);
    const granted = grantableScopes(checked, caller);
    const withheld = checked.scopes.filter((s) => !granted.includes(s));
    if (granted.length === 0) {
      return sendBack(reply, caller, checked.redirectUri, new OAuthError('invalid_scope', 'the admin scope is only granted to admins'), checked.state);
    }
    const csrf = csrfToken(reply);
    const a = checked.app;
    const target = checked.redirectUri === OOB_REDIRECT ? undefined : new URL(checked.redirectUri);
    // An app on the web is named by its origin; an installed app by its redirect URI (myapp://callback).
    const destination = !target
      ? 'this site (you will be shown a code to copy into the app)'
      : target.protocol === 'http:' || target.protocol === 'https:'
        ? target.origin
        : checked.redirectUri;
    const main = html`<p><strong>${a.name}</strong>${a.website ? html` (${externalLink(a.website)})` : ''} asks to use your Farthing account <strong>${caller.username}</strong>.</p>
<p>If you allow it, the app may:</p>
${scopeList(granted)}
${withheld.length ? html`<p>It also asked for ${withheld.join(', ')}, which only instance admins can grant: it will not get that.</p>` : ''}
<p>It never learns your password. You can take this back at any time under <a href="/settings/apps">Authorized apps</a>.
After you answer you go back to <strong>${destination}</strong>.</p>
<form method="post" action="/oauth/authorize" class="row">${csrfField(csrf)}
${REQUEST_FIELDS.map((name) => (typeof params[name] === 'string' ? html`<input type="hidden" name="${name}" value="${params[name] as string}">` : ''))}
<button type="submit" name="decision" value="approve">Allow ${a.name}</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>`;
    reply.header('content-security-policy', cspFor(checked.redirectUri));
    return sendPage(reply, page({ title: `Allow ${a.name}?`, main, caller, csrf, path: '/oauth/authorize' }));
  });

  app.post('/oauth/authorize', { preHandler: csrfCheck(app) }, async (request, reply) => {
    // OAuth's parameters, read as the GET reads its query: checkAuthorizationRequest checks each and
    // refuses in OAuth's own shape (RFC 6749 4.1.2.1), which a form schema's page error is not.
    const body = (request.body ?? {}) as Record<string, unknown>;
    const caller = await requireMemberPage(ctx, request, '/dashboard');
    const checked = await check(request, reply, body);
    if (!('app' in checked)) return checked;
    if (body.decision !== 'approve') {
      return sendBack(reply, caller, checked.redirectUri, new OAuthError('access_denied', 'the member denied the request'), checked.state);
    }
    const granted = grantableScopes(checked, caller);
    if (granted.length === 0) {
      return sendBack(reply, caller, checked.redirectUri, new OAuthError('invalid_scope', 'the admin scope is only granted to admins'), checked.state);
    }
    const code = await issueCode(ctx, caller, checked, granted);
    if (checked.redirectUri === OOB_REDIRECT) {
      const main = html`<p>Copy this code into <strong>${checked.app.name}</strong>. It works once, within ten minutes.</p>
<p><code class="code" id="code">${code}</code></p>`;
      return sendPage(reply, page({ title: 'Your authorization code', main, caller, csrf: csrfToken(reply) }));
    }
    return reply.redirect(redirectTo(checked.redirectUri, { code, state: checked.state }), 303);
  });
}
