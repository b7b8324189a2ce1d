/**
 * Who is calling: a bearer token for the API (a session cookie for pages comes with the web), and
 * whether that token may call this route: every authenticated call checks the route's scope in
 * src/oauth/scopes.ts (ROUTE_SCOPES, by method and fastify's route url), so no endpoint can forget
 * it. A token without the scope gets 403 `forbidden` naming it.
 */
import type { FastifyRequest } from 'fastify';
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { authenticateToken } from '../members/tokens.ts';
import { routeScope, scopesForRole } from '../oauth/scopes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set once the token is verified AND holds the route's scope. */
    caller?: Caller;
  }
}

export async function requireCaller(ctx: Context, request: FastifyRequest): Promise<Caller> {
  if (request.caller) return request.caller;
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) throw new AppError('unauthorized', 'send Authorization: Bearer <token>');
  const caller = await authenticateToken(ctx, match[1] as string, 'api');
  requireScope(request, caller);
  request.caller = caller;
  return caller;
}

/**
 * The route's scope must be among the caller's. A route missing from the table needs every scope
 * of the caller's role, which only a token made with a password has.
 */
export function requireScope(request: FastifyRequest, caller: Caller): void {
  const scope = routeScope(request.method, request.routeOptions.url);
  if (scope === 'public') return;
  const needed = scope ? [scope] : scopesForRole(caller.role);
  const missing = needed.find((s) => !caller.scopes.includes(s));
  if (missing === 'admin' && caller.role !== 'admin') throw new AppError('forbidden', 'this needs an admin');
  if (missing) {
    throw new AppError(
      'forbidden',
      `this token lacks the scope '${missing}' that ${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]} needs`,
      { scope: missing },
    );
  }
}

/**
 * An onRequest hook for the whole API: a call with a bearer token to a route that is not public
 * has its token and scope checked before the body is even read, so every endpoint refuses a token
 * without its scope with 403 whatever its handler does (and never a 400 about the body first).
 */
export function scopeCheck(ctx: Context) {
  return async (request: FastifyRequest): Promise<void> => {
    const url = request.routeOptions.url;
    if (!url?.startsWith('/api/v1/') || request.method === 'OPTIONS' || !request.headers.authorization) return;
    if (routeScope(request.method, url) === 'public') return;
    await requireCaller(ctx, request);
  };
}

export async function requireAdmin(ctx: Context, request: FastifyRequest): Promise<Caller> {
  const caller = await requireCaller(ctx, request);
  if (caller.role !== 'admin') throw new AppError('forbidden', 'this needs an admin');
  return caller;
}
