/**
 * What protects the pages: CSRF tokens on every form and strict response headers.
 *
 * CSRF: @fastify/csrf-protection keeps a random secret in an HttpOnly cookie and puts a token
 * derived from it (salt + hash) in each form; a POST whose `_csrf` field does not match the
 * cookie's secret is refused before its handler runs. A cross-site page can neither read the
 * cookie nor the token. SameSite=Lax on the session cookie is a second line, not the only one.
 *
 * Headers: no script runs anywhere (default-src 'none'), styles come only from /assets, forms
 * post only here, and no page can be framed except the embeddable button, which sets its own.
 */
import csrfProtection from '@fastify/csrf-protection';
import type { FastifyInstance, FastifyReply, preHandlerHookHandler } from 'fastify';
import type { Context } from '../context.ts';
import { cookieNames, cookieOptions } from './session.ts';

export const PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/** The button lives in other sites' iframes; everything else stays as strict. */
export const BUTTON_CSP = PAGE_CSP.replace("frame-ancestors 'none'", 'frame-ancestors *');

export async function installCsrf(app: FastifyInstance, ctx: Context): Promise<void> {
  await app.register(csrfProtection, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: cookieNames(ctx).csrf,
    cookieOpts: cookieOptions(ctx),
    // Forms send the token as a field; nothing else is looked at.
    getToken: (request) => (request.body as { _csrf?: string } | undefined)?._csrf,
  });
}

/** Runs after the form body is parsed (the token is in it). */
export function csrfCheck(app: FastifyInstance): preHandlerHookHandler {
  return app.csrfProtection as unknown as preHandlerHookHandler;
}

const tokens = new WeakMap<FastifyReply, string>();

/** The CSRF token for this response's forms; generated once, so at most one cookie is set. */
export function csrfToken(reply: FastifyReply): string {
  let token = tokens.get(reply);
  if (token === undefined) {
    token = reply.generateCsrf();
    tokens.set(reply, token);
  }
  return token;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Pages meant to live on other sites: the button (in an iframe) and the badge (an image). */
    embed?: 'frame' | 'image';
  }
}

/** Sets each header unless the route chose its own (the badge's caching, say). */
export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (request, reply, payload) => {
    const embed = request.routeOptions.config?.embed;
    const defaults: Record<string, string> = {
      'content-security-policy': embed === 'frame' ? BUTTON_CSP : PAGE_CSP,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'same-origin',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': embed ? 'cross-origin' : 'same-origin',
      // Pages carry CSRF tokens and personal figures: never kept by a shared cache.
      'cache-control': 'no-store',
    };
    // X-Frame-Options has no "anyone" value: the button says it with frame-ancestors alone.
    if (embed !== 'frame') defaults['x-frame-options'] = 'DENY';
    for (const [name, value] of Object.entries(defaults)) if (!reply.hasHeader(name)) reply.header(name, value);
    return payload;
  });
}
