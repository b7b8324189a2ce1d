/**
 * Who may call a route of the JSON API, declared once on the route as `config: { access }`: one
 * scope of src/oauth/scopes.ts ('read' | 'flattr' | 'things' | 'account' | 'admin') or 'public'.
 * installRouteAccess (an onRoute hook, registered in buildApp before any route) derives from it
 * everything else:
 *
 * - the route's OpenAPI `security` (none for 'public', the bearer scheme otherwise);
 * - for a non-public route, the token and scope check: before the body is even read when the
 *   request has an Authorization header (a token without the scope never learns a 400 about the
 *   body), and in any case before the body is validated (401 `unauthorized` without a token, 403
 *   `forbidden` naming the missing scope in `details.scope`, 'this needs an admin' for a member on
 *   an admin route);
 * - the caller for the handler: `callerOf(request)`, the already-checked caller.
 *
 * A route under /api/v1/ that declares no access (or writes its own `security`) makes the app fail
 * at startup, naming it.
 */
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { authenticateToken } from '../members/tokens.ts';
import { type RouteAccess, SCOPES, scopesForRole } from '../oauth/scopes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** Set once the token is verified AND holds the route's scope. */
    caller?: Caller;
  }
  interface FastifyContextConfig {
    /** Who may call this route: the one OAuth scope it needs, or 'public' (every /api/v1 route must say). */
    access?: RouteAccess;
  }
}

const ACCESS: readonly string[] = [...SCOPES, 'public'];

/** OpenAPI `security` for each access; the scheme itself is declared in src/http/openapi.ts. */
function securityOf(access: RouteAccess): Record<string, string[]>[] {
  return access === 'public' ? [] : [{ bearer: [] }];
}

/** A route's declared access, as the onRoute hook saw it (HEAD routes included). */
export interface DeclaredAccess {
  method: string;
  url: string;
  access: RouteAccess;
}

const declared = new WeakMap<FastifyInstance, DeclaredAccess[]>();

/** Every route added to `app` (and its plugins) that declares its access, for tests and tools. */
export function declaredAccess(app: FastifyInstance): readonly DeclaredAccess[] {
  return declared.get(app) ?? [];
}

/** The onRoute hook; see the file's comment. Call it in buildApp before any route is added. */
export function installRouteAccess(app: FastifyInstance, ctx: Context): void {
  const routes: DeclaredAccess[] = [];
  declared.set(app, routes);
  app.addHook('onRoute', (route: RouteOptions) => {
    const access = route.config?.access;
    const name = `${Array.isArray(route.method) ? route.method.join(',') : route.method} ${route.url}`;
    if (access === undefined) {
      if (route.url.startsWith('/api/v1/')) {
        throw new Error(`${name} declares no access: add config: { access: ${ACCESS.map((a) => `'${a}'`).join(' | ')} } to the route`);
      }
      return;
    }
    if (!ACCESS.includes(access)) throw new Error(`${name} declares access '${String(access)}', which is none of ${ACCESS.join(', ')}`);
    if (route.schema?.security !== undefined) throw new Error(`${name} writes security in its schema: its config.access decides it`);
    for (const method of [route.method].flat()) routes.push({ method, url: route.url, access });
    route.schema = { ...route.schema, security: securityOf(access) } as RouteOptions['schema'];
    if (access === 'public') return;
    const check = async (request: FastifyRequest): Promise<void> => {
      await authorize(ctx, request);
    };
    const checkWithToken = async (request: FastifyRequest): Promise<void> => {
      if (request.headers.authorization) await authorize(ctx, request);
    };
    route.onRequest = [...hooksOf(route.onRequest), checkWithToken];
    route.preValidation = [check, ...hooksOf(route.preValidation)];
  });
}

function hooksOf<H>(hooks: H | H[] | undefined): H[] {
  if (hooks === undefined) return [];
  return Array.isArray(hooks) ? hooks : [hooks];
}

/**
 * The caller of a route whose access is not 'public', checked before the body was validated.
 * Throws (500) on a route where no check ran: a public one, or one outside the API.
 */
export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) {
    throw new AppError(
      'internal',
      `${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]} has no checked caller (its access is public or not declared)`,
    );
  }
  return request.caller;
}

/**
 * The bearer token's member, once it holds what the route's access needs (remembered on the
 * request; only then). On a public route any valid token will do; a request that matched no route
 * declaring access (a 404 under /api/v1, for the rate limit's key) needs every scope of the role.
 */
export async function authorize(ctx: Context, request: FastifyRequest): Promise<Caller> {
  if (request.caller) return request.caller;
  const header = request.headers.authorization;
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!match) throw new AppError('unauthorized', 'send Authorization: Bearer <token>');
  const caller = await authenticateToken(ctx, match[1] as string, 'api');
  checkAccess(request, caller, request.routeOptions.config.access);
  request.caller = caller;
  return caller;
}

/**
 * The caller may use a route of this access: it holds the scope, and an admin route needs an
 * admin. Without a declared access, every scope of the caller's role is needed.
 */
export function checkAccess(request: FastifyRequest, caller: Caller, access: RouteAccess | undefined): void {
  if (access === 'public') return;
  const needed = access ? [access] : scopesForRole(caller.role);
  const missing = needed.find((s) => !caller.scopes.includes(s));
  if (missing === 'admin' && caller.role !== 'admin') throw new AppError('forbidden', 'this needs an admin');
  if (missing) {
    throw new AppError(
      'forbidden',
      `this token lacks the scope '${missing}' that ${request.method} ${request.routeOptions.url ?? request.url.split('?')[0]} needs`,
      { scope: missing },
    );
  }
  if (access === 'admin' && caller.role !== 'admin') throw new AppError('forbidden', 'this needs an admin');
}
