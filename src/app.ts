/**
 * buildApp: the fastify instance of one Farthing instance. It never listens by itself (main.ts
 * does), so tests drive it with inject() or listen on a port of their choosing.
 */
import type { Federation } from '@fedify/fedify';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import rateLimit from '@fastify/rate-limit';
import { sql } from 'kysely';
import type { Context } from './context.ts';
import { installFederationBridge } from './federation/bridge.ts';
import { installErrorHandling } from './http/errors.ts';
import { adminRoutes } from './http/admin-routes.ts';
import { memberRoutes } from './http/member-routes.ts';
import { webPages } from './web/plugin.ts';

/** Large enough for any API request; statements have their own limit. */
export const BODY_LIMIT_BYTES = 64 * 1024;

/** With a federation, its paths (WebFinger, NodeInfo, actors, inboxes) are handed to Fedify first. */
export async function buildApp(ctx: Context, federation?: Federation<void>): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: ctx.log as FastifyBaseLogger,
    bodyLimit: BODY_LIMIT_BYTES,
    trustProxy: ctx.config.production,
  });
  installErrorHandling(app);
  if (federation) installFederationBridge(app, federation, ctx.config.origin);
  // The API speaks JSON only; anything else is 415 before a handler runs.
  app.removeContentTypeParser('text/plain');
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (_request, context) => {
      const error = Object.assign(new Error(`too many requests: try again in ${Math.ceil(context.ttl / 1000)} s`), { statusCode: 429 });
      return error;
    },
  });

  app.get('/healthz', async (_request, reply) => {
    await sql`SELECT 1`.execute(ctx.db);
    return reply.send({ status: 'ok' });
  });

  memberRoutes(app, ctx);
  adminRoutes(app, ctx);
  // The pages keep their cookies, forms, CSRF and HTML errors to themselves (an encapsulated plugin).
  await app.register(webPages, { ctx });
  return app;
}
