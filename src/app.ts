/**
 * buildApp: the fastify instance of one Farthing instance. It never listens by itself (main.ts
 * does), so tests drive it with inject() or listen on a port of their choosing.
 */

import cors from '@fastify/cors';
import rateLimit from '@fastify/rate-limit';
import type { Federation } from '@fedify/fedify';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { z } from 'zod';
import { installFederationBridge } from './activitypub/bridge.ts';
import { installNoticeRoute } from './activitypub/notice-note.ts';
import type { Context } from './context.ts';
import { adminRoutes } from './http/admin-routes.ts';
import { appRoutes } from './http/app-routes.ts';
import { authorize, installRouteAccess } from './http/auth.ts';
import { bankingApiRoutes } from './http/banking-routes.ts';
import { cardRoutes } from './http/card-routes.ts';
import { frameworkOptions, installErrorHandling } from './http/errors.ts';
import { installInputGuard } from './http/input-guard.ts';
import { linkRoutes } from './http/link-routes.ts';
import { memberRoutes } from './http/member-routes.ts';
import { installOAuth } from './http/oauth-routes.ts';
import { installOpenApi } from './http/openapi.ts';
import { profileRoutes } from './http/profile-routes.ts';
import { serializerCompiler, validatorCompiler } from './http/schemas.ts';
import { settlementRoutes } from './http/settlement-routes.ts';
import { renderErrorPage } from './web/errors.ts';
import { webPages } from './web/plugin.ts';

/** Large enough for any API request; statements have their own limit. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** With a federation, its paths (WebFinger, NodeInfo, actors, inboxes) are handed to Fedify first. */
export async function buildApp(ctx: Context, federation?: Federation<void>): Promise<FastifyInstance> {
  const errorPage = renderErrorPage(ctx);
  const app = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    // Who request.ip is (rate limits key on it): the peer, unless FARTHING_TRUST_PROXY names the
    // proxies allowed to say otherwise in X-Forwarded-For. Never "whatever the client sends".
    trustProxy: trustedProxies(ctx.config.trustProxy),
    // Router refusals and malformed request heads answer in the error format of their surface.
    ...frameworkOptions(errorPage),
  });
  installErrorHandling(app, errorPage);
  // No control character or lone surrogate reaches a handler (bodies, queries, path parameters).
  installInputGuard(app);
  // Who may call each API route, from its `config: { access }` (src/http/auth.ts): before any route.
  installRouteAccess(app, ctx);
  // Routes validate with zod schemas (src/http/schemas.ts), which also make the OpenAPI document.
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler({ production: ctx.config.production }));
  if (federation) {
    installFederationBridge(app, federation, ctx.config.origin);
    installNoticeRoute(app, ctx, federation);
  }
  // The API speaks JSON only; anything else is 415 before a handler runs.
  app.removeContentTypeParser('text/plain');
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) => {
      const error = Object.assign(new Error(`too many requests: try again in ${Math.ceil(context.ttl / 1000)} s`), { statusCode: 429 });
      return error;
    },
  });
  await installApiAccess(app, ctx);
  await installOpenApi(app, ctx);

  app.get(
    '/healthz',
    { schema: { tags: ['instance'], summary: 'Health: 200 once the database answers', response: { 200: z.object({ status: z.literal('ok') }) } } },
    async (_request, reply) => {
      await sql`SELECT 1`.execute(ctx.db);
      return reply.send({ status: 'ok' });
    },
  );

  await installOAuth(app, ctx);
  memberRoutes(app, ctx);
  linkRoutes(app, ctx);
  await profileRoutes(app, ctx);
  adminRoutes(app, ctx);
  appRoutes(app, ctx);
  await settlementRoutes(app, ctx);
  await bankingApiRoutes(app, ctx);
  await cardRoutes(app, ctx);
  // The pages keep their cookies, forms, CSRF and HTML errors to themselves (an encapsulated plugin).
  await app.register(webPages, { ctx });
  return app;
}

/** A hop count as fastify does it for a number (its types take only the function): the nth hop. */
function trustedProxies(trust: Context['config']['trustProxy']): false | string[] | ((address: string, hop: number) => boolean) {
  if (trust === false) return false;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return [...trust];
}

/**
 * The JSON API (/api/**) for browsers and apps on other origins: CORS with any origin and never
 * credentials (bearer tokens only; cookies stay same-origin), preflight answered before anything
 * else; pages get no CORS. Then a rate limit on /api/v1: FARTHING_API_RATE_LIMIT requests per
 * minute per bearer token (its SHA-256, never the token itself), or per IP address without a valid one;
 * 429 rate_limited with Retry-After. Routes with their own limit (sign-up, apps) keep only it; the
 * sign-in (`passwordEntry`) is counted by the sign-in limits (src/members/sign-in-limits.ts).
 */
async function installApiAccess(app: FastifyInstance, ctx: Context): Promise<void> {
  const apiCors = {
    origin: '*',
    credentials: false,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Accept', 'Idempotency-Key'],
    exposedHeaders: ['Retry-After', 'X-RateLimit-Limit', 'X-RateLimit-Remaining', 'X-RateLimit-Reset', 'Content-Disposition', 'Location'],
    maxAge: 600,
  };
  await app.register(cors, {
    delegator: (request, callback) => callback(null, request.url.startsWith('/api/') ? apiCors : { origin: false }),
  });
  const limit = app.rateLimit({
    max: ctx.config.apiRateLimit,
    timeWindow: '1 minute',
    // A token counts only once it is verified (remembered on the request for the route), so
    // made-up tokens cannot dodge the address's limit. Its key is the SHA-256 that verifying it
    // computed already (a second hash per request showed in the clicks profile).
    keyGenerator: async (request) => {
      if (request.headers.authorization) {
        const caller = await authorize(ctx, request).catch(() => undefined);
        if (caller?.tokenHash) return `token:${caller.tokenHash}`;
      }
      return `ip:${request.ip}`;
    },
  });
  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    if (!request.url.startsWith('/api/v1/') || request.method === 'OPTIONS' || config.rateLimit || config.passwordEntry) return;
    await limit.call(app, request, reply);
  });
}
