/**
 * No input makes a 500 (issue 14): a property-based walk (fast-check) over EVERY operation of the
 * OpenAPI document (/api/openapi.json) and every page route of the router, with random bodies,
 * queries and path parameters — huge, deeply nested, NUL and other controls, lone surrogates, wrong
 * types, odd unicode — as a visitor, a member and an admin (pages: their sessions, with a valid CSRF
 * token so the forms are really read). It asserts that no answer is a 5xx, that every error is in
 * the format of its surface ({"error":{code,message}} on the API, an HTML page on pages), and that
 * the ledger self-check still balances afterwards.
 *
 * Bounded: RUNS requests per route and database, through inject; outbound addresses in the inputs
 * are refused or unreachable at once (port 1 on loopback), so nothing waits on the network.
 */

import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import { checkLedger } from '../../src/ledger/check.ts';
import { authenticateToken, issueToken } from '../../src/members/tokens.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { thing } from '../helpers/instance.ts';
import { startWeb } from '../helpers/web.ts';

const RUNS = 6;
/** Pages are more numerous and each form needs a fresh CSRF token: fewer runs each. */
const PAGE_RUNS = 4;

/** Every (method, path) in fastify's router, from printRoutes' tree. */
function routesOf(app: FastifyInstance): { method: string; path: string }[] {
  const routes: { method: string; path: string }[] = [];
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

/** Each byte as it stands in a URL: itself when unreserved, else percent-encoded. */
const URL_BYTES = Array.from({ length: 256 }, (_, b) =>
  /[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
);

/** Percent-encodes the UTF-8 bytes of any string (a lone surrogate becomes U+FFFD's bytes, as in a browser). */
function encode(text: string): string {
  let encoded = '';
  for (const b of Buffer.from(text, 'utf8')) encoded += URL_BYTES[b];
  return encoded;
}

const SPECIALS = [
  '\u0000',
  '\ud800',
  '\udfff',
  '\r\n',
  '\t',
  '\u007f',
  '\u0085',
  '\u202e',
  '\ufeff',
  '\uffff',
  '💸',
  'é',
  'ł',
  '../..',
  '%00',
  '%',
  '-1',
  '0',
  '1',
  '1e308',
  'NaN',
  'null',
  '[]',
  '{}',
  '2026-11',
  '2026-13',
  '5.00',
  '-1.50',
  '0.0000001',
  '99999999999999999999',
  'https://127.0.0.1:1/x',
  'http://[::ffff:127.0.0.1]:1/',
  'javascript:alert(1)',
  '=cmd|',
  '@admin',
  'admin',
  'ann',
];

const weirdString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 20 }) },
  {
    weight: 2,
    arbitrary: fc.array(fc.oneof(fc.constantFrom(...SPECIALS), fc.string({ unit: 'binary', maxLength: 4 })), { maxLength: 5 }).map((parts) => parts.join('')),
  },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(300), 'y'.repeat(5_000), 'z'.repeat(70_000)) },
);

const deep = fc.integer({ min: 50, max: 3_000 }).map((n) => JSON.parse(`${'['.repeat(n)}${']'.repeat(n)}`) as unknown);

const anyValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: weirdString },
  { weight: 1, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.boolean(), fc.constant(null)) },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 1, arbitrary: deep },
);

const FORM_FIELDS = [
  'username',
  'password',
  'invite',
  'amount',
  'url',
  'title',
  'thing_id',
  'instance',
  'next',
  'q',
  'page',
  'state',
  'reference',
  'current',
  'new',
  'listed',
  'handle',
  'peer',
  'credit_line',
  'owe_limit',
  'reason',
  'line',
  'n',
  'period',
  'code',
  'client_id',
  'redirect_uri',
  'scope',
  'code_challenge',
  'code_challenge_method',
  'response_type',
  'decision',
  'done',
  'format',
];

/** An object with some of `names` (and maybe a random key) set to anything. */
function fields(names: string[], value: fc.Arbitrary<unknown>): fc.Arbitrary<Record<string, unknown>> {
  const known = names.length ? fc.subarray(names) : fc.constant([] as string[]);
  return fc
    .tuple(known, fc.array(value, { minLength: names.length, maxLength: names.length }), fc.option(fc.tuple(weirdString, value), { nil: undefined }))
    .map(([keys, values, extra]) => {
      const out: Record<string, unknown> = {};
      for (const k of keys) out[k] = values[names.indexOf(k)];
      if (extra) out[extra[0]] = extra[1];
      return out;
    });
}

function queryString(values: Record<string, unknown>): string {
  const parts = Object.entries(values).flatMap(([k, v]) =>
    (Array.isArray(v) ? v : [v]).map((item) => `${encode(k)}=${encode(typeof item === 'string' ? item : (JSON.stringify(item) ?? ''))}`),
  );
  return parts.length ? `?${parts.join('&')}` : '';
}

await eachDatabase(t, async (t, kind) => {
  const inst = await startWeb(t, kind);
  const app = inst.app;
  await inst.member('ann', { deposit: '20.00', budget: '5.00' });
  const bob = await inst.member('bob');
  const thingId = await thing(inst, bob, 'https://bob.example/post', 'A post');
  const ids = await inst.ctx.db.selectFrom('members').select(['id', 'username']).execute();
  const idOf = (username: string) => (ids.find((m) => m.username === username) as { id: bigint }).id;

  /** A working token for the role, issued again if a fuzzed request revoked it. */
  const tokens = new Map<string, string>();
  const tokenFor = async (role: 'member' | 'admin'): Promise<string> => {
    const known = tokens.get(role);
    if (
      known &&
      (await authenticateToken(inst.ctx, known, 'api').then(
        () => true,
        () => false,
      ))
    )
      return known;
    const fresh = await issueToken(inst.ctx, idOf(role === 'admin' ? 'admin' : 'ann'), 'api');
    tokens.set(role, fresh);
    return fresh;
  };
  /**
   * A browser for the role; for a form (`fresh`), signed in again if a fuzzed form signed it out,
   * with a CSRF token of its current session.
   */
  const browsers = new Map<string, ReturnType<typeof inst.browser>>();
  const browserFor = async (role: 'visitor' | 'member' | 'admin', fresh: boolean) => {
    let b = browsers.get(role);
    if (b && !fresh) return b;
    if (b && role !== 'visitor' && (await b.get('/settings/profile')).status === 200) return b;
    if (b && role === 'visitor') return b;
    b = inst.browser();
    if (role === 'visitor') await b.get('/signin');
    else {
      await b.signIn(role === 'admin' ? 'admin' : 'ann', role === 'admin' ? 'admin-password' : 'ann-password');
      await b.get('/settings/profile');
    }
    browsers.set(role, b);
    return b;
  };

  const doc = JSON.parse((await app.inject({ url: '/api/openapi.json' })).body) as {
    paths: Record<
      string,
      Record<
        string,
        { parameters?: { in: string; name: string }[]; requestBody?: { content?: Record<string, { schema?: { properties?: Record<string, unknown> } }> } }
      >
    >;
  };
  const operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({ path, method: method.toUpperCase(), op })),
  );
  t.ok(operations.length >= 40, `the document has the API's operations (${operations.length})`);

  t.test('every API operation: never a 5xx, always {"error":{code,message}}', async (t) => {
    for (const { path, method, op } of operations) {
      const params = (op.parameters ?? []).filter((p) => p.in === 'path').map((p) => p.name);
      const queryNames = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
      const bodyNames = Object.keys(op.requestBody?.content?.['application/json']?.schema?.properties ?? {});
      const input = fc.record({
        role: fc.constantFrom('visitor', 'member', 'admin'),
        params: fc.array(fc.oneof(weirdString, fc.constant(thingId), fc.constant('1')), { minLength: params.length, maxLength: params.length }),
        query: fields(queryNames, fc.oneof(weirdString, fc.array(weirdString, { maxLength: 3 }))),
        body: fc.oneof({ weight: 4, arbitrary: fields(bodyNames, anyValue) }, { weight: 1, arbitrary: anyValue }),
        raw: fc.option(fc.constantFrom('{', '{"a":', '\u0000', '[1,2', 'null', '"\\ud800"', '{"__proto__":{"x":1}}', '{"constructor":{"prototype":{"x":1}}}'), {
          nil: undefined,
          freq: 6,
        }),
      });
      let failure: string | undefined;
      await fc
        .assert(
          fc.asyncProperty(input, async ({ role, params: values, query, body, raw }) => {
            let url = path;
            for (const [i, name] of params.entries()) url = url.replace(`{${name}}`, encode(String(values[i])));
            url += queryString(query);
            const headers: Record<string, string> = {};
            if (role !== 'visitor') headers.authorization = `Bearer ${await tokenFor(role as 'member' | 'admin')}`;
            const hasBody = method !== 'GET' && method !== 'DELETE';
            if (hasBody) headers['content-type'] = 'application/json';
            const payload = hasBody ? (raw ?? JSON.stringify(body)) : undefined;
            const r = await app.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload }) });
            const where = `${method} ${url.slice(0, 200)} as ${role}: ${r.statusCode} ${r.body.slice(0, 200)}`;
            if (r.statusCode >= 500) failure = where;
            if (r.statusCode >= 400) {
              let parsed: { error?: { code?: unknown; message?: unknown } } | undefined;
              try {
                parsed = JSON.parse(r.body);
              } catch {
                parsed = undefined;
              }
              if (typeof parsed?.error?.code !== 'string' || typeof parsed.error.message !== 'string') failure = `not the API's error format: ${where}`;
            }
            return failure === undefined;
          }),
          { numRuns: RUNS },
        )
        .catch((error: Error) => t.fail(`${method} ${path}: ${failure ?? error.message.slice(0, 500)}`));
    }
    t.pass(`${operations.length} operations, ${RUNS} requests each`);
  });

  t.test('every page route and form: never a 5xx, errors as HTML pages', async (t) => {
    const pages = routesOf(app).filter(
      (r) =>
        (r.method === 'GET' || r.method === 'POST') &&
        !/^\/(api|oauth\/(token|revoke)$|healthz|\.well-known|nodeinfo|settlement|stripe|inbox|users\/[^/]+\/inbox|actor$)/.test(r.path) &&
        r.path !== '/api',
    );
    t.ok(pages.length >= 30, `the router has the pages (${pages.length})`);
    for (const { method, path } of pages) {
      const params = [...path.matchAll(/:([A-Za-z_]+)/g)].map((m) => m[1] as string);
      const input = fc.record({
        role: fc.constantFrom('visitor', 'member', 'admin'),
        params: fc.array(fc.oneof(weirdString, fc.constant(thingId), fc.constant('ann'), fc.constant('2026-11')), {
          minLength: params.length,
          maxLength: params.length,
        }),
        query: fields(
          ['next', 'url', 'title', 'period', 'page', 'q', 'state', 'done', 'invite', 'client_id', 'redirect_uri', 'response_type', 'code_challenge'],
          fc.oneof(weirdString, fc.array(weirdString, { maxLength: 3 })),
        ),
        form: fields(FORM_FIELDS, fc.oneof(weirdString, fc.array(weirdString, { maxLength: 3 }))),
        json: fc.boolean(),
      });
      let failure: string | undefined;
      await fc
        .assert(
          fc.asyncProperty(input, async ({ role, params: values, query, form, json }) => {
            let url = path;
            for (const [i, name] of params.entries()) url = url.replace(`:${name}`, encode(String(values[i])));
            url += queryString(query);
            const b = await browserFor(role as 'visitor' | 'member' | 'admin', method === 'POST');
            const headers: Record<string, string> = { accept: 'text/html', cookie: [...b.cookies].map(([k, v]) => `${k}=${v}`).join('; ') };
            let payload: string | undefined;
            if (method === 'POST') {
              const withToken = { ...form, _csrf: b.csrf ?? '' };
              if (json) {
                headers['content-type'] = 'application/json';
                payload = JSON.stringify(withToken);
              } else {
                headers['content-type'] = 'application/x-www-form-urlencoded';
                payload = queryString(withToken).slice(1);
              }
            }
            const r = await app.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload }) });
            const where = `${method} ${url.slice(0, 200)} as ${role}: ${r.statusCode} ${r.body.slice(0, 300)}`;
            if (r.statusCode >= 500) failure = where;
            // The badge lives in other sites' <img>: it answers an image ("flattr: 0") even for an unknown thing.
            const image = path.endsWith('/badge.svg') && String(r.headers['content-type']).startsWith('image/svg+xml');
            if (r.statusCode >= 400 && !image && !String(r.headers['content-type']).startsWith('text/html')) failure = `not an HTML error page: ${where}`;
            return failure === undefined;
          }),
          { numRuns: PAGE_RUNS },
        )
        .catch((error: Error) => t.fail(`${method} ${path}: ${failure ?? error.message.slice(0, 500)}`));
    }
  });

  t.test('the ledger still balances', async (t) => {
    const check = await checkLedger(inst.ctx.db);
    t.equal(check.balanced, true, JSON.stringify(check.checks.filter((c) => !c.ok)));
  });
});
