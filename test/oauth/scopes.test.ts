/**
 * Every route of the JSON API checks its scope, generated from the router itself rather than a
 * list written by hand: each route fastify has under /api/v1 must declare its access
 * (`config: { access }`, read back from the onRoute hook of src/http/auth.ts), and one that does
 * not makes the app fail at startup; each non-public route, called with a token holding every scope
 * but its own, is refused with 403 forbidden naming that scope, and called with a token holding
 * only its own scope is not refused for a scope. Params are dummy values: the scope is checked first.
 */
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import t from 'tap';
import type { Context } from '../../src/context.ts';
import { checkAccess, declaredAccess, installRouteAccess } from '../../src/http/auth.ts';
import { issueToken } from '../../src/members/tokens.ts';
import { registerApp } from '../../src/oauth/apps.ts';
import { parseScopes, SCOPES, scopesForRole } from '../../src/oauth/scopes.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { startInstance } from '../helpers/instance.ts';

/** Every (method, url) in fastify's router, from printRoutes' tree. */
function routesOf(app: FastifyInstance): { method: string; url: string }[] {
  const routes: { method: string; url: string }[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?/.exec(line);
    if (!match) continue;
    const depth = (match[1] as string).length / 4;
    const url = (depth === 0 ? '' : (stack[depth - 1] ?? '')) + (match[2] as string);
    stack[depth] = url;
    stack.length = depth + 1;
    for (const method of (match[3] ?? '').split(', ').filter(Boolean)) routes.push({ method, url });
  }
  return routes;
}

function dummyPath(url: string): string {
  return url.replace(/:([A-Za-z_]+)/g, (_, name: string) => (name === 'period' ? '2026-10' : '1'));
}

t.test('scope strings', async (t) => {
  t.same(parseScopes('flattr read  read', ['read']), ['read', 'flattr'], 'canonical order, no repeats');
  t.same(parseScopes('read+things', []), ['read', 'things'], '+ is a space');
  t.same(parseScopes('', ['read']), ['read'], 'empty: the fallback');
  t.throws(() => parseScopes('read write', []), { code: 'invalid_request', message: /unknown scope 'write'/ });
  t.same(scopesForRole('member'), ['read', 'flattr', 'things', 'account'], 'members hold every scope but admin');
  t.same(scopesForRole('admin'), SCOPES, 'admins hold them all');
});

t.test('a request matching no route that declares access (a 404) needs every scope of the role', async (t) => {
  const request = { method: 'GET', url: '/api/v1/naked', routeOptions: { url: '/api/v1/naked' } } as unknown as FastifyRequest;
  t.doesNotThrow(() => checkAccess(request, { id: 1n, username: 'a', role: 'member', scopes: scopesForRole('member') }, undefined), 'a password token passes');
  t.throws(() => checkAccess(request, { id: 1n, username: 'a', role: 'member', scopes: ['read', 'flattr', 'things'] }, undefined), {
    code: 'forbidden',
    message: "this token lacks the scope 'account' that GET /api/v1/naked needs",
    details: { scope: 'account' },
  });
});

t.test('a route under /api/v1 that declares no access makes startup fail, naming it', async (t) => {
  const app = Fastify();
  t.teardown(() => app.close());
  installRouteAccess(app, {} as Context);
  t.throws(() => app.get('/api/v1/naked', async () => 'x'), { message: /^GET \/api\/v1\/naked declares no access/ }, 'a route added directly');
  await t.rejects(
    async () =>
      await app.register(async (plugin) => {
        plugin.post('/api/v1/naked/:id', async () => 'x');
      }),
    { message: /^POST \/api\/v1\/naked\/:id declares no access/ },
    'a route added in a plugin',
  );
  t.throws(
    () => app.get('/api/v1/odd', { config: { access: 'write' as never } }, async () => 'x'),
    { message: /access 'write', which is none of/ },
    'an unknown access',
  );
  t.throws(
    () => app.get('/api/v1/twice', { config: { access: 'read' }, schema: { security: [] } }, async () => 'x'),
    { message: /^GET \/api\/v1\/twice writes security in its schema/ },
    'security written by hand',
  );
  t.doesNotThrow(() => app.get('/pages/naked', async () => 'x'), 'outside /api/v1 access is not required');
  t.doesNotThrow(() => app.get('/api/v1/declared', { config: { access: 'read' } }, async () => 'x'), 'a declared route');
  t.same(
    declaredAccess(app).filter((r) => r.url === '/api/v1/declared'),
    [
      { method: 'GET', url: '/api/v1/declared', access: 'read' },
      { method: 'HEAD', url: '/api/v1/declared', access: 'read' },
    ],
    'the collector saw it (with its HEAD)',
  );
});

eachDatabase(t, async (t, kind) => {
  const inst = await startInstance(t, kind);
  const routes = routesOf(inst.app).filter((r) => r.url.startsWith('/api/v1/') && r.method !== 'HEAD' && r.method !== 'OPTIONS');
  t.ok(routes.length >= 20, `the router has the API's routes (${routes.length})`);
  const access = new Map(declaredAccess(inst.app).map((r) => [`${r.method} ${r.url}`, r.access]));
  const missing = routes.filter((r) => !access.has(`${r.method} ${r.url}`)).map((r) => `${r.method} ${r.url}`);
  t.same(missing, [], 'every API route in the router declares its access (config.access)');

  const admin = await inst.ctx.db.selectFrom('members').select('id').where('username', '=', 'admin').executeTakeFirstOrThrow();
  const app = await registerApp(inst.ctx, { client_name: 'Scope Probe', redirect_uris: 'https://probe.example/cb', scopes: SCOPES.join(' ') });
  const appId = BigInt(app.id);
  const tokenWith = (scopes: readonly string[]) => issueToken(inst.ctx, admin.id, 'api', undefined, { scopes, appId });
  const call = (method: string, url: string, token: string) => inst.api(method, dummyPath(url), { token, ...(method === 'GET' ? {} : { body: {} }) });

  for (const { method, url } of routes) {
    const scope = access.get(`${method} ${url}`);
    if (scope === undefined) continue;
    if (scope === 'public') {
      const r = await call(method, url, await tokenWith([]));
      t.notOk(
        r.status === 403 && /lacks the scope/.test(r.body?.error?.message ?? ''),
        `${method} ${url} is public: a token without scopes is not refused for one`,
      );
      continue;
    }
    const without = await call(method, url, await tokenWith(SCOPES.filter((s) => s !== scope)));
    t.equal(without.status, 403, `${method} ${url} without '${scope}': 403`);
    t.equal(without.body?.error?.code, 'forbidden', `${method} ${url}: forbidden`);
    t.match(without.body?.error?.message, `lacks the scope '${scope}'`, `${method} ${url}: the message names '${scope}'`);
    const only = await call(method, url, await tokenWith([scope]));
    t.notOk(
      only.status === 403 && /lacks the scope/.test(only.body?.error?.message ?? ''),
      `${method} ${url} with only '${scope}' is not refused for a scope (${only.status})`,
    );
  }
});
