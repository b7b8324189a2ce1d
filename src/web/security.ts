/**
 * What protects the pages: CSRF tokens on every form and strict response headers.
 *
 * CSRF: @fastify/csrf-protection keeps a random secret in an HttpOnly cookie and puts a token
 * derived from it (salt + hash) in each form; a POST whose `_csrf` field does not match the
 * cookie's secret is refused before its handler runs. A cross-site page can neither read the
 * cookie nor the token. SameSite=Lax on the session cookie is a second line, not the only one.
 *
 * Headers: @fastify/helmet sets the well-known ones (nosniff, frame options, referrer policy,
 * cross-origin opener/resource policies, HSTS on an https origin, and the rest of its defaults),
 * told what the pages need: no page can be framed (DENY) except the embeddable button, and the
 * badge and button may be loaded by other sites (cross-origin resource policy). The Content
 * Security Policy stays our own string, as before, because routes adjust it (the button's
 * frame-ancestors, the forms that lead to another origin): no script runs anywhere
 * (default-src 'none'), styles come only from /assets, forms post only here.
 */
import csrfProtection from '@fastify/csrf-protection';
import helmet from '@fastify/helmet';
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

/** Registered before the page routes: helmet for the pages, then our CSP and caching unless a route chose its own. */
export async function installSecurityHeaders(app: FastifyInstance, ctx: Context): Promise<void> {
  // What other sites embed gets helmet's settings for embeds (before helmet's own onRoute hook reads them).
  app.addHook('onRoute', (route) => {
    const embed = route.config?.embed;
    if (!embed) return;
    const helmetConfig = {
      crossOriginResourcePolicy: { policy: 'cross-origin' as const },
      // X-Frame-Options has no "anyone" value: the button says it with frame-ancestors alone.
      ...(embed === 'frame' ? { frameguard: false as const } : {}),
    };
    route.config = Object.assign(route.config ?? {}, { helmet: helmetConfig });
  });
  await app.register(helmet, {
    contentSecurityPolicy: false,
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'same-origin' },
    crossOriginOpenerPolicy: { policy: 'same-origin' },
    crossOriginResourcePolicy: { policy: 'same-origin' },
    strictTransportSecurity: ctx.config.origin.startsWith('https:') ? { maxAge: 15_552_000, includeSubDomains: false } : false,
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const embed = request.routeOptions.config?.embed;
    if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', embed === 'frame' ? BUTTON_CSP : PAGE_CSP);
    // Pages carry CSRF tokens and personal figures: never kept by a shared cache.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    return payload;
  });
}
