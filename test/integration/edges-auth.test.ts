/**
 * Issue 14's attacks on sign-in, each as a test: tokens that lived for ever and could be neither
 * listed nor revoked (now GET/DELETE /api/v1/tokens and /settings/sessions, an idle end, last use
 * written at most once a minute), no password change (PUT /api/v1/me/password and its page revoke
 * every other session and token; an admin sets a lost one by page and CLI), and guesses counted per
 * route (now one limiter for every password entry point, per address and per account, a window
 * and not a lock).
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import t from 'tap';
import { issueToken } from '../../src/members/tokens.ts';
import { registerApp } from '../../src/oauth/apps.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { fieldError, startWeb, textOf } from '../helpers/web.ts';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url));
const LIMIT = 5;

await eachDatabase(t, async (t, kind) => {
  const inst = await startWeb(t, kind, { env: { FARTHING_AUTH_RATE_LIMIT: String(LIMIT), FARTHING_TOKEN_IDLE_HOURS: '1' } });
  const { api } = inst;
  const signInFrom = (remoteAddress: string, username: string, password: string) =>
    inst.app.inject({ method: 'POST', url: '/api/v1/tokens', remoteAddress, payload: { username, password } });
  const lastUsed = async (token: string) => {
    const items = (await api('GET', '/api/v1/tokens', { token })).body.items as { id: string; current?: true; last_used_at: string | null }[];
    return items.find((i) => i.current);
  };

  t.test('members list their sessions and tokens and revoke any', async (t) => {
    const ann = await inst.member('ann');
    const second = (await api('POST', '/api/v1/tokens', { body: { username: 'ann', password: 'ann-password' } })).body.token as string;
    const browser = inst.browser();
    t.equal((await browser.signIn('ann')).status, 303);
    const list = await api('GET', '/api/v1/tokens', { token: ann });
    t.equal(list.status, 200);
    t.same(
      list.body.items.map((i: { kind: string }) => i.kind),
      ['session', 'api', 'api'],
      'newest first',
    );
    const current = list.body.items.filter((i: { current?: boolean }) => i.current);
    t.equal(current.length, 1, 'the calling token is marked current');
    t.equal(current[0].id, list.body.items[2].id);
    t.ok(current[0].last_used_at, 'its use was written');
    t.ok(
      list.body.items.every((i: { expires_at: string | null }) => i.expires_at),
      'password tokens and sessions end when idle',
    );

    const secondId = list.body.items[1].id as string;
    t.equal((await api('GET', '/api/v1/me', { token: second })).status, 200, 'in the cache');
    t.equal((await api('DELETE', `/api/v1/tokens/${secondId}`, { token: ann })).status, 204);
    t.equal((await api('GET', '/api/v1/me', { token: second })).status, 401, 'that token answers 401 at once');
    t.equal((await api('DELETE', `/api/v1/tokens/${secondId}`, { token: ann })).status, 404, 'revoked already');
    const bob = await inst.member('bob');
    const bobsId = (await lastUsed(bob))?.id as string;
    t.equal((await api('DELETE', `/api/v1/tokens/${bobsId}`, { token: ann })).status, 404, "another member's token is not found");
    t.equal((await api('DELETE', '/api/v1/tokens/abc', { token: ann })).status, 404);
    t.equal((await api('GET', '/api/v1/me', { token: bob })).status, 200, 'and keeps working');

    const page = await browser.get('/settings/sessions');
    t.equal(page.status, 200);
    t.match(textOf(page), 'Browser session (this browser)');
    t.notMatch(page.text, `id="token-${secondId}"`, 'a revoked token is not listed');
    const sessionId = list.body.items[0].id as string;
    const revokeMine = await browser.post(`/settings/sessions/${sessionId}/revoke`);
    t.equal(revokeMine.status, 303);
    t.equal(revokeMine.location, '/signin?done=signedout', 'revoking this browser signs it out');
    t.equal((await browser.get('/settings/sessions')).status, 303, 'the session is gone');
    t.equal((await api('GET', '/api/v1/me', { token: ann })).status, 200, 'the other token stays');
  });

  t.test('last use is written at most once a minute; password tokens and sessions end when idle', async (t) => {
    const cid = await inst.member('cid');
    const first = (await lastUsed(cid))?.last_used_at;
    t.ok(first);
    inst.clock.advance(30_000);
    t.equal((await lastUsed(cid))?.last_used_at, first, 'used again within the minute: not written');
    inst.clock.advance(31_000);
    const later = (await lastUsed(cid))?.last_used_at;
    t.not(later, first, 'a minute on: written');
    t.equal(later, inst.clock.now().toISOString());

    const row = await inst.ctx.db.selectFrom('members').select('id').where('username', '=', 'cid').executeTakeFirstOrThrow();
    const oauthApp = await registerApp(inst.ctx, { client_name: 'Reader', redirect_uris: 'https://reader.example/cb', scopes: 'read' });
    const appToken = await issueToken(inst.ctx, row.id, 'api', undefined, { scopes: ['read'], appId: BigInt(oauthApp.id) });
    const browser = inst.browser();
    await browser.signIn('cid');
    t.equal((await browser.get('/dashboard')).status, 200);
    t.equal((await api('GET', '/api/v1/me', { token: appToken })).status, 200);
    inst.clock.advance(60 * 60 * 1000 + 61_000); // FARTHING_TOKEN_IDLE_HOURS=1, and a minute
    t.equal((await api('GET', '/api/v1/me', { token: cid })).status, 401, 'an idle password token has ended (even in the cache)');
    t.equal((await browser.get('/dashboard')).status, 303, 'an idle session too');
    t.equal((await api('GET', '/api/v1/me', { token: appToken })).status, 200, "an app's token is revoked with the app, not by idling");
  });

  t.test('changing the password needs the current one and revokes every other session and token', async (t) => {
    const dee = await inst.member('dee');
    const other = (await api('POST', '/api/v1/tokens', { body: { username: 'dee', password: 'dee-password' } })).body.token as string;
    const browser = inst.browser();
    await browser.signIn('dee');
    const wrong = await api('PUT', '/api/v1/me/password', { token: dee, body: { current: 'nope-nope', new: 'dee-new-password' } });
    t.equal(wrong.status, 403);
    t.equal(wrong.body.error.field, 'current');
    const short = await api('PUT', '/api/v1/me/password', { token: dee, body: { current: 'dee-password', new: 'short' } });
    t.equal(short.status, 400);
    t.equal(short.body.error.field, 'new');
    const row = await inst.ctx.db.selectFrom('members').select('id').where('username', '=', 'dee').executeTakeFirstOrThrow();
    const oauthApp = await registerApp(inst.ctx, { client_name: 'Helper', redirect_uris: 'https://helper.example/cb', scopes: 'account' });
    const appToken = await issueToken(inst.ctx, row.id, 'api', undefined, { scopes: ['account'], appId: BigInt(oauthApp.id) });
    const byApp = await api('PUT', '/api/v1/me/password', { token: appToken, body: { current: 'dee-password', new: 'dee-app-password' } });
    t.equal(byApp.status, 403, 'an app cannot change the password');

    const changed = await api('PUT', '/api/v1/me/password', { token: dee, body: { current: 'dee-password', new: 'dee-new-password' } });
    t.equal(changed.status, 200);
    t.same(changed.body, { revoked: 3 }, 'the other token, the session and the app token');
    t.equal((await api('GET', '/api/v1/me', { token: dee })).status, 200, 'the calling token stays');
    t.equal((await api('GET', '/api/v1/me', { token: other })).status, 401);
    t.equal((await api('GET', '/api/v1/me', { token: appToken })).status, 401);
    t.equal((await browser.get('/dashboard')).status, 303, 'the browser is signed out');
    inst.clock.advance(61_000); // five password attempts on dee's account so far: a fresh window
    t.equal((await api('POST', '/api/v1/tokens', { body: { username: 'dee', password: 'dee-password' } })).status, 401, 'the old password is gone');

    // the page: the current password again, then every other sign-in goes
    await browser.signIn('dee', 'dee-new-password');
    const form = await browser.get('/settings/password');
    t.equal(form.status, 200);
    const bad = await browser.post('/settings/password', { current: 'not-it-at-all', new: 'dee-third-password' });
    t.equal(bad.status, 403);
    t.match(fieldError(bad, 'current') ?? '', 'the current password is wrong');
    const good = await browser.post('/settings/password', { current: 'dee-new-password', new: 'dee-third-password' });
    t.equal(good.status, 303);
    t.equal((await browser.get('/settings/password?done=changed')).status, 200, 'this browser stays signed in');
    t.equal((await api('GET', '/api/v1/me', { token: dee })).status, 401, 'the API token is revoked');
  });

  t.test('an admin sets a new password for a member, on a page', async (t) => {
    const eve = await inst.member('eve');
    const member = inst.browser();
    await member.signIn('eve');
    t.equal((await member.get('/admin/members/password')).status, 403, 'not for members');
    const admin = inst.browser();
    await admin.signIn('admin', 'admin-password');
    await admin.get('/admin/members/password');
    const unknown = await admin.post('/admin/members/password', { username: 'nobody', password: 'whatever-it-is' });
    t.equal(unknown.status, 404);
    const short = await admin.post('/admin/members/password', { username: 'eve', password: 'x' });
    t.equal(short.status, 400);
    const set = await admin.post('/admin/members/password', { username: 'eve', password: 'eve-reset-password' });
    t.equal(set.status, 303);
    t.equal((await api('GET', '/api/v1/me', { token: eve })).status, 401, "the member's tokens are revoked");
    t.equal((await member.get('/dashboard')).status, 303, 'and their sessions');
    t.equal((await api('POST', '/api/v1/tokens', { body: { username: 'eve', password: 'eve-reset-password' } })).status, 201);
  });

  t.test('one sign-in limiter for every password entry point, per address', async (t) => {
    inst.clock.advance(61_000); // the failures above are out of the window
    const fay = await inst.member('fay');
    // four wrong passwords on the API and one on the page, from the browser's address
    for (let i = 0; i < 4; i++) t.equal((await signInFrom('127.0.0.1', 'nobody', `guess-${i}`)).statusCode, 401);
    const browser = inst.browser();
    await browser.get('/signin');
    t.equal((await browser.post('/signin', { username: 'fay', password: 'guess-page' })).status, 401);
    const right = await signInFrom('127.0.0.1', 'fay', 'fay-password');
    t.equal(right.statusCode, 429, 'the right password too: the password is not looked at');
    t.equal(JSON.parse(right.body).error.code, 'rate_limited');
    t.ok(Number(right.headers['retry-after']) > 0 && Number(right.headers['retry-after']) <= 60, `Retry-After ${right.headers['retry-after']}`);
    const page = await browser.post('/signin', { username: 'fay', password: 'fay-password' });
    t.equal(page.status, 429, 'the page counts with the API');
    t.ok(page.headers['retry-after']);
    const change = await api('PUT', '/api/v1/me/password', { token: fay, body: { current: 'fay-password', new: 'fay-other-password' } });
    t.equal(change.status, 429, 'and the password change');
    t.equal((await signInFrom('192.0.2.50', 'fay', 'fay-password')).statusCode, 201, 'another address is not limited by this one');
    inst.clock.advance(61_000);
    t.equal((await signInFrom('127.0.0.1', 'fay', 'fay-password')).statusCode, 201, 'a window, not a lock: a minute later it works');
    for (let i = 0; i < 10; i++)
      t.equal(
        (await signInFrom('127.0.0.1', 'fay', 'fay-password')).statusCode === 429,
        i >= LIMIT - 1,
        `success ${i} ${i >= LIMIT - 1 ? 'over' : 'within'} the account's limit`,
      );
    inst.clock.advance(61_000);
  });

  t.test('per account: guesses from many addresses add up', async (t) => {
    await inst.member('gil');
    inst.clock.advance(61_000); // gil's own sign-in above counted for the account
    for (let i = 1; i <= LIMIT; i++) t.equal((await signInFrom(`198.51.100.${i}`, 'gil', `guess-${i}`)).statusCode, 401);
    const right = await signInFrom('198.51.100.99', 'gil', 'gil-password');
    t.equal(right.statusCode, 429, 'the owner waits, from a fresh address too');
    t.match(JSON.parse(right.body).error.message, /this account/);
    t.equal((await signInFrom('198.51.100.99', 'admin', 'admin-password')).statusCode, 201, 'another account from that address is fine');
    inst.clock.advance(61_000);
    t.equal((await signInFrom('198.51.100.99', 'gil', 'gil-password')).statusCode, 201, 'never locked out for good');
  });

  t.test('IPv6 addresses count by their /64; parallel guesses cannot pass the count', async (t) => {
    for (let i = 1; i <= LIMIT; i++) t.equal((await signInFrom(`2001:db8:0:0::${i}`, 'nobody', 'x-guess-x')).statusCode, 401);
    t.equal((await signInFrom('2001:db8::ffff:1', 'nobody', 'x-guess-x')).statusCode, 429, 'another address of the /64');
    t.equal((await signInFrom('2001:db8:0:1::1', 'nobody', 'x-guess-x')).statusCode, 401, 'another /64');
    const burst = await Promise.all(Array.from({ length: 12 }, (_, i) => signInFrom('203.0.113.9', 'nobody', `burst-${i}`)));
    const statuses = burst.map((r) => r.statusCode);
    t.equal(statuses.filter((s) => s === 401).length, LIMIT, `exactly ${LIMIT} checked (${statuses.join(',')})`);
    t.equal(statuses.filter((s) => s === 429).length, 12 - LIMIT);
    inst.clock.advance(61_000);
  });

  if (kind === 'postgres') {
    t.test('the CLI sets a member password from FARTHING_NEW_PASSWORD', async (t) => {
      const hal = await inst.member('hal');
      const env = {
        PATH: process.env.PATH ?? '',
        DATABASE_URL: inst.database.url ?? '',
        FARTHING_NEW_PASSWORD: 'hal-cli-password',
        LOG_LEVEL: 'warn',
        FARTHING_TEST_FAST_HASHING: '1',
        FARTHING_AUTO_CLOSE: 'off',
      };
      const { stdout } = await run(process.execPath, [CLI, 'password', 'hal'], { env, cwd: '/' });
      t.same(JSON.parse(stdout), { username: 'hal', revoked: 1 });
      t.equal((await api('GET', '/api/v1/me', { token: hal })).status, 401, 'the CLI revoked the token (this process re-reads it from the database)');
      t.equal((await api('POST', '/api/v1/tokens', { body: { username: 'hal', password: 'hal-cli-password' } })).status, 201);
      const bad = await run(process.execPath, [CLI, 'password', 'nobody'], { env, cwd: '/' }).catch((error: { code: number; stderr: string }) => error);
      t.equal((bad as { code: number }).code, 2);
      t.match((bad as { stderr: string }).stderr, /not_found/);
    });
  }
});
