/**
 * The JSON API for other origins and its rate limits: CORS on /api/** only (any origin, never
 * credentials, preflight answered with Authorization allowed), none for pages; FARTHING_API_RATE_LIMIT
 * requests per minute per bearer token, or per IP address without a valid one, then 429 rate_limited with
 * Retry-After (readable cross-origin); sign-in and sign-up keep their own limit.
 */
import t from 'tap';
import { eachDatabase } from '../helpers/databases.ts';
import { startInstance } from '../helpers/instance.ts';

const ORIGIN = 'https://addon.example';

await eachDatabase(t, async (t, kind) => {
  t.test('CORS for the API, not for pages', async (t) => {
    const inst = await startInstance(t, kind);
    const ann = await inst.member('ann');

    const preflight = await inst.app.inject({
      method: 'OPTIONS',
      url: '/api/v1/me/budget',
      headers: { origin: ORIGIN, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'authorization, content-type' },
    });
    t.equal(preflight.statusCode, 204, 'preflight answered');
    t.equal(preflight.headers['access-control-allow-origin'], '*');
    t.match(String(preflight.headers['access-control-allow-methods']), /PUT/);
    t.match(String(preflight.headers['access-control-allow-headers']), /Authorization/);
    t.match(String(preflight.headers['access-control-allow-headers']), /Content-Type/);
    t.notOk(preflight.headers['access-control-allow-credentials'], 'never credentials');
    t.ok(Number(preflight.headers['access-control-max-age']) > 0);

    const me = await inst.api('GET', '/api/v1/me', { token: ann, headers: { origin: ORIGIN } });
    t.equal(me.status, 200);
    t.equal(me.headers['access-control-allow-origin'], '*');
    t.notOk(me.headers['access-control-allow-credentials']);
    t.match(String(me.headers['access-control-expose-headers']), /Retry-After/);
    const error = await inst.api('GET', '/api/v1/me', { headers: { origin: ORIGIN } });
    t.equal(error.status, 401);
    t.equal(error.headers['access-control-allow-origin'], '*', 'errors are readable cross-origin too');
    const unknown = await inst.api('GET', '/api/v1/nothing-here', { headers: { origin: ORIGIN } });
    t.equal(unknown.status, 404);
    t.equal(unknown.body.error.code, 'not_found');
    t.equal(unknown.headers['access-control-allow-origin'], '*');
    const doc = await inst.api('GET', '/api/openapi.json', { headers: { origin: ORIGIN } });
    t.equal(doc.headers['access-control-allow-origin'], '*', 'the document too');

    const page = await inst.api('GET', '/', { headers: { origin: ORIGIN } });
    t.notOk(page.headers['access-control-allow-origin'], 'pages: no CORS');
    const pagePreflight = await inst.app.inject({
      method: 'OPTIONS',
      url: '/signin',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST' },
    });
    t.not(pagePreflight.statusCode, 204, 'no preflight for pages');
    t.notOk(pagePreflight.headers['access-control-allow-origin']);
    t.notOk(pagePreflight.headers['access-control-allow-methods']);
  });

  t.test('rate limits per token and per IP address', async (t) => {
    const inst = await startInstance(t, kind, { env: { FARTHING_API_RATE_LIMIT: '5' } });
    // each member's token comes from POST /tokens, which has its own (sign-in) limit, not this one
    const ann = await inst.member('ann');
    const bob = await inst.member('bob');

    for (let i = 0; i < 5; i++) t.equal((await inst.api('GET', '/api/v1/me', { token: ann })).status, 200);
    const limited = await inst.api('GET', '/api/v1/me', { token: ann, headers: { origin: ORIGIN } });
    t.equal(limited.status, 429);
    t.equal(limited.body.error.code, 'rate_limited');
    t.match(limited.body.error.message, /try again in \d+ s/);
    t.ok(Number(limited.headers['retry-after']) > 0, `Retry-After: ${limited.headers['retry-after']}`);
    t.equal(limited.headers['access-control-allow-origin'], '*', 'a browser app can read the 429');
    t.equal((await inst.api('PUT', '/api/v1/me/budget', { token: ann, body: { amount: '3.00' } })).status, 429, 'every route of the token counts');

    t.equal((await inst.api('GET', '/api/v1/me', { token: bob })).status, 200, 'another token has its own budget of requests');

    // without a token: the IP address (inject comes from 127.0.0.1)
    for (let i = 0; i < 5; i++) t.equal((await inst.api('GET', '/api/v1/things/lookup?url=https%3A%2F%2Fx.example%2F')).status, 404);
    const byIp = await inst.api('GET', '/api/v1/things/lookup?url=https%3A%2F%2Fx.example%2F');
    t.equal(byIp.status, 429);
    t.equal(byIp.body.error.code, 'rate_limited');
    const other = await inst.app.inject({ url: '/api/v1/things/lookup?url=https%3A%2F%2Fx.example%2F', remoteAddress: '192.0.2.7' });
    t.equal(other.statusCode, 404, 'another address is not limited');
    const forged = await inst.api('GET', '/api/v1/me', { token: 'fth_made-up' });
    t.equal(forged.status, 429, 'a made-up token counts against the address, not a bucket of its own');
    t.equal((await inst.api('GET', '/api/v1/me', { token: bob })).status, 200, 'a real token from the same address is not limited by it');
    for (let i = 0; i < 5; i++) {
      const r = await inst.app.inject({ url: '/api/v1/me', remoteAddress: '192.0.2.8', headers: { authorization: `Bearer fth_forged${i}` } });
      t.equal(r.statusCode, 401);
    }
    const sixth = await inst.app.inject({ url: '/api/v1/me', remoteAddress: '192.0.2.8', headers: { authorization: 'Bearer fth_forged-again' } });
    t.equal(sixth.statusCode, 429, 'forged tokens from one address share its limit');

    // sign-in keeps only its own limit (FARTHING_AUTH_RATE_LIMIT, high in tests)
    for (let i = 0; i < 7; i++) {
      t.equal((await inst.api('POST', '/api/v1/tokens', { body: { username: 'ann', password: 'ann-password' } })).status, 201);
    }
    t.equal((await inst.api('GET', '/healthz')).status, 200, 'health is not an API call');
    t.equal((await inst.api('GET', '/api/docs')).status, 200, 'nor are the docs');
  });

  t.test('the sign-in limit still applies on its own', async (t) => {
    const inst = await startInstance(t, kind, { env: { FARTHING_AUTH_RATE_LIMIT: '3', FARTHING_API_RATE_LIMIT: '1000' } });
    // startInstance signed in the admin once already
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await inst.api('POST', '/api/v1/tokens', { body: { username: 'admin', password: 'admin-password' } })).status);
    t.same(statuses, [201, 201, 429]);
  });
});
