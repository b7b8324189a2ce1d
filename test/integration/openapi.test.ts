/**
 * The OpenAPI document at /api/openapi.json: it validates against the OpenAPI 3.1 schema (a
 * validator from the registry), lists every route fastify has under /api/v1 (read from the router
 * itself, not from the document) with a schema, and its $refs resolve. The /api/docs page lists
 * every operation without JavaScript under a strict CSP. Requests that do not fit a schema are
 * refused in the API's error shape, after authentication; answers match their schemas (the
 * serializer refuses a mismatch outside production, so every other API test checks that too).
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import Fastify, { type FastifyInstance } from 'fastify';
import t from 'tap';
import { testConfig } from '../../src/config.ts';
import type { Context } from '../../src/context.ts';
import { installOpenApi, isDocumentedPath } from '../../src/http/openapi.ts';
import { validatorCompiler } from '../../src/http/schemas.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { startInstance } from '../helpers/instance.ts';

interface Route {
  method: string;
  path: string;
}

/** Every (method, path) in fastify's router, from printRoutes' tree. */
function routesOf(app: FastifyInstance): Route[] {
  const routes: Route[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^([│ ]*)[├└]── (\S+)(?: \(([A-Z, ]+)\))?/.exec(line);
    if (!match) continue;
    const depth = (match[1] as string).length / 4;
    const path = (depth === 0 ? '' : (stack[depth - 1] ?? '')) + (match[2] as string);
    stack[depth] = path;
    stack.length = depth + 1;
    for (const method of (match[3] ?? '').split(', ').filter(Boolean)) routes.push({ method, path });
  }
  return routes;
}

/** The routes of the JSON API that the document lacks, or has without a schema. */
function undocumented(app: FastifyInstance, doc: any): string[] {
  const problems: string[] = [];
  for (const { method, path } of routesOf(app)) {
    if (!isDocumentedPath(path) || method === 'HEAD' || method === 'OPTIONS') continue;
    const op = doc.paths?.[path.replace(/:([A-Za-z_]+)/g, '{$1}')]?.[method.toLowerCase()];
    if (!op) {
      problems.push(`${method} ${path}: not in the document`);
      continue;
    }
    const success = Object.entries(op.responses ?? {}).filter(([status]) => /^2/.test(status));
    const described = success.some(([status, r]: [string, any]) => status === '204' || r.content?.['application/json']?.schema);
    if (!op.summary || !op.tags?.length || !described) problems.push(`${method} ${path}: no schema (summary, tags and a 2xx answer)`);
    for (const name of [...path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1])) {
      if (!op.parameters?.some((p: any) => p.in === 'path' && p.name === name)) problems.push(`${method} ${path}: {${name}} is not described`);
    }
  }
  return problems;
}

function refsOf(value: unknown, found: string[] = []): string[] {
  if (Array.isArray(value)) for (const v of value) refsOf(v, found);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') found.push(v);
      else refsOf(v, found);
    }
  }
  return found;
}

t.test('the check itself: a route under /api/v1 without a schema is reported', async (t) => {
  const app = Fastify();
  app.setValidatorCompiler(validatorCompiler);
  await installOpenApi(app, { config: testConfig({ FARTHING_ORIGIN: 'https://a.example' }) } as Context);
  app.get('/api/v1/naked', async () => ({ ok: true }));
  app.get('/elsewhere', async () => 'not API');
  await app.ready();
  const doc = JSON.parse((await app.inject({ url: '/api/openapi.json' })).body);
  t.same(undocumented(app, doc), ['GET /api/v1/naked: no schema (summary, tags and a 2xx answer)']);
  t.notOk(doc.paths['/elsewhere'], 'only the JSON API is documented');
  await app.close();
});

await eachDatabase(t, async (t, kind) => {
  t.test('the document lists every route of the API and validates', async (t) => {
    const inst = await startInstance(t, kind);
    const response = await inst.app.inject({ url: '/api/openapi.json' });
    t.equal(response.statusCode, 200);
    t.match(response.headers['content-type'], /application\/json/);
    const doc = JSON.parse(response.body);
    t.equal(doc.openapi, '3.1.0');

    const api = routesOf(inst.app).filter((r) => r.path.startsWith('/api/v1/') && r.method !== 'HEAD');
    t.ok(api.length >= 23, `fastify has ${api.length} routes under /api/v1`);
    t.same(undocumented(inst.app, doc), [], 'every route under /api/v1 is in the document, with a schema');
    const documented = Object.entries(doc.paths).flatMap(([path, ops]: [string, any]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    for (const op of documented) {
      const [method, path] = op.split(' ') as [string, string];
      const fastifyPath = path.replace(/\{([A-Za-z_]+)\}/g, ':$1');
      t.ok(isDocumentedPath(path), `${op} belongs to the API`);
      t.ok(inst.app.hasRoute({ method: method as 'GET', url: fastifyPath }), `${op} is a real route`);
    }
    t.ok(documented.includes('GET /healthz'));

    const validator = new Validator();
    const result = await validator.validate(doc);
    t.same(result.errors ?? [], [], 'no validation errors');
    t.equal(result.valid, true, 'a valid OpenAPI document');
    t.equal(validator.version, '3.1');

    const schemas = doc.components?.schemas ?? {};
    for (const ref of new Set(refsOf(doc))) {
      const name = /^#\/components\/schemas\/(.+)$/.exec(ref)?.[1];
      t.ok(name && schemas[name], `${ref} resolves`);
    }
    t.same(doc.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer', description: doc.components.securitySchemes.bearer.description });
    t.same(doc.paths['/api/v1/me'].get.security, [{ bearer: [] }], 'member routes need the bearer token');
    t.same(doc.paths['/api/v1/things/lookup'].get.security, [], 'lookup is public');
    t.equal(schemas.Amount.pattern, '^(0|[1-9][0-9]{0,12})(\\.[0-9]{1,6})?$');
    t.ok(doc.paths['/api/v1/me/ledger'].get.responses['200'].content['text/csv'], 'reports document their CSV form');
    t.ok(doc.paths['/api/v1/flattrs'].post.responses['409'].content['application/json'].schema.$ref.endsWith('/Error'));
  });

  t.test('/api/docs lists every operation, without JavaScript, under a strict CSP', async (t) => {
    const inst = await startInstance(t, kind);
    const doc = JSON.parse((await inst.app.inject({ url: '/api/openapi.json' })).body);
    const page = await inst.app.inject({ url: '/api/docs' });
    t.equal(page.statusCode, 200);
    t.match(page.headers['content-type'], /text\/html/);
    const csp = String(page.headers['content-security-policy']);
    t.match(csp, /default-src 'none'/);
    t.notMatch(csp, /unsafe-inline|unsafe-eval|script-src/, 'no inline code, no scripts at all');
    t.notMatch(page.body, /<script/i);
    t.notMatch(page.body, /(src|href)="(https?:)?\/\//, 'no external assets');
    const style = /<style>([\s\S]*?)<\/style>/.exec(page.body)?.[1] ?? '';
    const { createHash } = await import('node:crypto');
    t.ok(csp.includes(`'sha256-${createHash('sha256').update(style).digest('base64')}'`), 'the one inline stylesheet is allowed by its hash');
    for (const [path, ops] of Object.entries(doc.paths) as [string, any][]) {
      for (const method of Object.keys(ops)) {
        t.ok(page.body.includes(`<span class="m ${method}">${method}</span><code>${path}</code>`), `${method} ${path} is listed`);
      }
    }
  });

  t.test('requests that do not fit the schema: the API error shape, after authentication', async (t) => {
    const inst = await startInstance(t, kind);
    const { api, adminToken } = inst;
    const ann = await inst.member('ann');

    const unauthenticated = await api('PUT', '/api/v1/me/budget', { body: { amount: 5 } });
    t.equal(unauthenticated.status, 401, 'no token: 401 before the body is looked at');
    t.equal(unauthenticated.body.error.code, 'unauthorized');
    const notAdmin = await api('POST', '/api/v1/admin/deposits', { token: ann, body: { nonsense: true } });
    t.equal(notAdmin.status, 403, 'a member learns 403, not what the body lacks');

    const number = await api('PUT', '/api/v1/me/budget', { token: ann, body: { amount: 5 } });
    t.equal(number.status, 400);
    t.same(
      number.body,
      { error: { code: 'invalid_amount', message: 'amount must be a decimal string such as "5.00", got the number 5 (send it as a string)' } },
      'the same words as the service',
    );
    const missing = await api('PUT', '/api/v1/me/budget', { token: ann, body: {} });
    t.equal(missing.body.error.code, 'invalid_amount', 'a missing amount is an invalid amount');
    const decimals = await api('POST', '/api/v1/admin/deposits', { token: adminToken, body: { username: 'ann', amount: '1.1234567', reference: 'r' } });
    t.equal(decimals.body.error.code, 'invalid_amount');
    t.match(decimals.body.error.message, /at most six decimals/);

    const noRef = await api('POST', '/api/v1/admin/deposits', { token: adminToken, body: { username: 'ann', amount: '1.00' } });
    t.equal(noRef.status, 400);
    t.same(noRef.body.error, { code: 'invalid_request', message: 'reference is required', field: 'reference' });
    const array = await api('POST', '/api/v1/flattrs', { token: ann, body: [1] });
    t.same(array.body.error, { code: 'invalid_request', message: 'the body must be a JSON object' });
    const neither = await api('POST', '/api/v1/flattrs', { token: ann, body: { title: 'x' } });
    t.equal(neither.body.error.code, 'invalid_request');
    t.match(neither.body.error.message, /url or thing_id/);
    const state = await api('GET', '/api/v1/admin/payouts?state=lost', { token: adminToken });
    t.equal(state.status, 400);
    t.equal(state.body.error.code, 'invalid_request');
    t.match(state.body.error.message, /^\?state: /);
    const format = await api('GET', '/api/v1/me/flattrs?format=xml', { token: ann });
    t.equal(format.body.error.code, 'invalid_request');
    const period = await api('POST', '/api/v1/admin/periods/2026-13/close', { token: adminToken });
    t.equal(period.body.error.code, 'invalid_request');
    t.match(period.body.error.message, /\{period\} in the path/);
    const lookup = await api('GET', '/api/v1/things/lookup');
    t.same(lookup.body.error, { code: 'invalid_request', message: '?url is required', field: 'url' });
    const username = await api('POST', '/api/v1/accounts', { body: { username: 'no spaces', password: 'long-password' } });
    t.same(username.body.error, { code: 'invalid_request', message: 'username: must be 1 to 30 letters, digits or underscores', field: 'username' });

    t.equal((await api('GET', '/api/v1/me/flattrs?period=', { token: ann })).status, 200, 'an empty period is this month, as before');
    const extra = await api('PUT', '/api/v1/me/budget', { token: ann, body: { amount: '3.00', unknown: 'ignored' } });
    t.same(extra.body, { amount: '3.00', applies_from: '2026-11' }, 'unknown fields are ignored');
  });
});
