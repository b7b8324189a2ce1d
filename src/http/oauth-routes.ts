/**
 * The HTTP side of OAuth for apps: POST /api/v1/apps (registration, Mastodon's shape),
 * POST /oauth/token (the code and PKCE verifier for a token) and POST /oauth/revoke (RFC 7009).
 * The consent page itself (GET/POST /oauth/authorize) is a page: src/web/routes/oauth.ts.
 *
 * An encapsulated plugin: these three routes take form bodies as well as JSON (OAuth clients and
 * Mastodon libraries send forms), while the rest of the API keeps refusing forms. The token and
 * revocation endpoints answer errors in OAuth's shape ({error, error_description}); client
 * authentication is client_secret_post or client_secret_basic.
 *
 * In buildApp, after the OpenAPI plugin and before the API's routes: `await installOAuth(app, ctx)`.
 */
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { authenticateClient, registerApp } from '../oauth/apps.ts';
import { OAuthError } from '../oauth/errors.ts';
import { exchangeCode, revokeAppToken } from '../oauth/flow.ts';
import { SCOPES } from '../oauth/scopes.ts';
import { errors } from './schemas.ts';

const App = z
  .object({
    id: z.string(),
    name: z.string(),
    website: z.string().nullable(),
    redirect_uri: z.string().describe('The redirect URIs, one per line (Mastodon).'),
    redirect_uris: z.array(z.string()),
    client_id: z.string(),
    client_secret: z.string().describe('Shown once; only its hash is kept.'),
    scopes: z.array(z.enum(SCOPES)),
  })
  .meta({ id: 'App', description: 'A registered OAuth app (client).' });

const StringOrList = z.union([z.string(), z.array(z.string())]);

function bodyOf(request: FastifyRequest): Record<string, unknown> {
  const body = request.body;
  return body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
}

/** client_secret_basic (RFC 6749 2.3.1: both parts form-urlencoded) or client_secret_post. */
function clientCredentials(request: FastifyRequest, body: Record<string, unknown>): { id: unknown; secret: unknown; basic: boolean } {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(request.headers.authorization ?? '');
  if (match) {
    const decoded = Buffer.from(match[1] as string, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) return { id: undefined, secret: undefined, basic: true };
    const decodePart = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        return undefined;
      }
    };
    return { id: decodePart(decoded.slice(0, colon)), secret: decodePart(decoded.slice(colon + 1)), basic: true };
  }
  return { id: body.client_id, secret: body.client_secret, basic: false };
}

function sendOAuthError(reply: FastifyReply, error: unknown, basic: boolean): FastifyReply {
  if (!(error instanceof OAuthError)) throw error;
  if (error.error === 'invalid_client' && basic) reply.header('www-authenticate', 'Basic realm="farthing"');
  return reply.status(error.status).header('cache-control', 'no-store').header('pragma', 'no-cache').send(error.body());
}

/** The routes above. */
export async function installOAuth(app: FastifyInstance, ctx: Context): Promise<void> {
  await app.register(oauthApiRoutes, { ctx });
}

export interface OAuthApiRoutesOptions {
  ctx: Context;
}

export async function oauthApiRoutes(app: FastifyInstance, { ctx }: OAuthApiRoutesOptions): Promise<void> {
  await app.register(formbody);
  const api = app.withTypeProvider<ZodTypeProvider>();
  const limit = { rateLimit: { max: ctx.config.authRateLimit, timeWindow: '1 minute' } };

  api.post(
    '/api/v1/apps',
    {
      config: { ...limit, multiline: ['redirect_uris'], access: 'public' },
      schema: {
        tags: ['accounts'],
        summary: 'Register an OAuth app (as Mastodon clients do); JSON or a form',
        description:
          `Then send the member to GET /oauth/authorize?response_type=code&client_id=&redirect_uri=&scope=&state=&code_challenge=&code_challenge_method=S256 ` +
          `(PKCE with S256 is required), and exchange the code at POST /oauth/token (grant_type=authorization_code, code, redirect_uri, ` +
          `code_verifier, client_id, client_secret). Scopes: ${SCOPES.join(', ')}; admin is only granted to admins. Revoke with POST /oauth/revoke.`,
        body: z.object({
          client_name: z.string().min(1).max(100),
          redirect_uris: StringOrList.describe(
            'One or more absolute URIs, separated by spaces or newlines (or a list); urn:ietf:wg:oauth:2.0:oob shows the code to copy.',
          ),
          scopes: z
            .string()
            .max(500)
            .optional()
            .describe(`Space separated, of ${SCOPES.join(' ')}; default read.`),
          website: z.string().max(2000).nullable().optional(),
        }),
        response: { 200: App, ...errors(400, 415, 429) },
      },
    },
    async (request) => registerApp(ctx, request.body),
  );

  app.post('/oauth/token', { config: limit }, async (request, reply) => {
    const body = bodyOf(request);
    const credentials = clientCredentials(request, body);
    try {
      const client = await authenticateClient(ctx, credentials.id, credentials.secret);
      if (body.grant_type !== 'authorization_code') {
        throw new OAuthError('unsupported_grant_type', 'only grant_type=authorization_code is supported');
      }
      const answer = await exchangeCode(ctx, client, { code: body.code, redirect_uri: body.redirect_uri, code_verifier: body.code_verifier });
      return reply.header('cache-control', 'no-store').header('pragma', 'no-cache').send(answer);
    } catch (error) {
      return sendOAuthError(reply, error, credentials.basic);
    }
  });

  app.post('/oauth/revoke', { config: limit }, async (request, reply) => {
    const body = bodyOf(request);
    const credentials = clientCredentials(request, body);
    try {
      const client = await authenticateClient(ctx, credentials.id, credentials.secret);
      await revokeAppToken(ctx, client, body.token);
      return reply.header('cache-control', 'no-store').send({});
    } catch (error) {
      return sendOAuthError(reply, error, credentials.basic);
    }
  });
}
