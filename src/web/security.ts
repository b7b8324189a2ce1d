/**
 * What protects the pages: CSRF tokens on every form and strict response headers.
 *
 * CSRF: @fastify/csrf-protection keeps a random secret in an HttpOnly cookie and puts a token
 * derived from it (salt + hash) in each form; a POST whose `_csrf` field does not match the
 * cookie's secret is refused before its handler runs. A cross-site page can neither read the
 * cookie nor the token. Each token is also bound (the plugin's getUserInfo, HMAC-keyed per
 * instance) to the session it was made for, or to an anonymous pre-session cookie before sign-in,
 * so a CSRF cookie planted in a browser (over http, or from a sibling subdomain) with a token made
 * for it is refused with anyone else's session. SameSite=Lax on the session cookie is a third line.
 *
 * Headers: @fastify/helmet sets the well-known ones (nosniff, frame options, referrer policy,
 * cross-origin opener/resource policies, HSTS on an https origin, and the rest of its defaults),
 * told what the pages need: no page can be framed (DENY) except the embeddable button, and the
 * badge and button may be loaded by other sites (cross-origin resource policy). The Content
 * Security Policy stays our own string, as before, because routes adjust it (the button's
 * frame-ancestors, the forms that lead to another origin): no script runs anywhere
 * (default-src 'none'), styles come only from /assets, forms post only here.
 */
import { createHash, randomBytes } from 'node:crypto';
import csrfProtection from '@fastify/csrf-protection';
import helmet from '@fastify/helmet';
import type { FastifyInstance, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import type { Context } from '../context.ts';
import { initSetting } from '../db/settings.ts';
import { formValues } from './forms.ts';
import { cookieNames, cookieOptions } from './session.ts';

export const PAGE_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";
/** The button lives in other sites' iframes; everything else stays as strict. */
export const BUTTON_CSP = PAGE_CSP.replace("frame-ancestors 'none'", 'frame-ancestors *');

export async function installCsrf(app: FastifyInstance, ctx: Context): Promise<void> {
  // The tokens' HMAC key: one per instance, kept in the database so every process (and a restart)
  // accepts the forms the others rendered.
  app.decorate('pagesContext', ctx);
  const hmacKey = await initSetting(ctx.db, 'csrf_hmac_key', randomBytes(32).toString('base64url'));
  await app.register(csrfProtection, {
    sessionPlugin: '@fastify/cookie',
    cookieKey: cookieNames(ctx).csrf,
    cookieOpts: cookieOptions(ctx),
    csrfOpts: { hmacKey },
    // Forms send the token as a field; nothing else is looked at.
    getToken: (request) => formValues(request.body, ['_csrf'])._csrf,
    getUserInfo: (request) => csrfBinding(ctx, request) ?? '',
  });
}

/**
 * What a form's token is bound to: the session (its cookie's SHA-256) for a member, the anonymous
 * pre-session cookie for a visitor (the sign-in and sign-up forms). A planted CSRF cookie and a
 * token made for it are worth nothing with anyone else's session.
 */
function csrfBinding(ctx: Context, request: FastifyRequest): string | undefined {
  const names = cookieNames(ctx);
  const session = request.cookies[names.session];
  if (session) return `session:${createHash('sha256').update(session).digest('base64url')}`;
  const presession = request.cookies[names.presession];
  return presession ? `visitor:${presession}` : undefined;
}

/** Runs after the form body is parsed (the token is in it). */
export function csrfCheck(app: FastifyInstance): preHandlerHookHandler {
  return app.csrfProtection as unknown as preHandlerHookHandler;
}

const tokens = new WeakMap<FastifyReply, string>();

/**
 * The CSRF token for this response's forms; generated once, so at most one cookie is set. A visitor
 * without a session gets a pre-session cookie here, which the token is bound to.
 */
export function csrfToken(reply: FastifyReply, ctx?: Context): string {
  let token = tokens.get(reply);
  if (token === undefined) {
    const context = ctx ?? reply.server.pagesContext;
    if (!context) throw new Error('csrfToken: installCsrf was not run for this app');
    const request = reply.request;
    let binding = csrfBinding(context, request);
    if (binding === undefined) {
      const names = cookieNames(context);
      const presession = randomBytes(18).toString('base64url');
      reply.setCookie(names.presession, presession, cookieOptions(context));
      request.cookies[names.presession] = presession;
      binding = `visitor:${presession}`;
    }
    token = reply.generateCsrf({ userInfo: binding });
    tokens.set(reply, token);
  }
  return token;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The instance's context, for csrfToken (set by installCsrf inside the pages' plugin). */
    pagesContext?: Context;
  }
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

/** The pages' headers, each unless already set; also for the error pages answered outside this plugin. */
export function pageHeaders(reply: FastifyReply, embed: 'frame' | 'image' | undefined): void {
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
}
