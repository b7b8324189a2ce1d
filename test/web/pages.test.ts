/**
 * The pages through app.inject, on PostgreSQL and PGlite: sessions, CSRF, the budget form,
 * flattring from a thing's page, the dashboard's "if the month ended now", the admin's deposit
 * and close, the badge, and errors shown next to their fields with the API's codes and statuses.
 */
import t from 'tap';
import { eachDatabase, rowCount } from '../helpers/databases.ts';
import { thing } from '../helpers/instance.ts';
import { fieldError, startWeb, textOf } from '../helpers/web.ts';

await eachDatabase(t, async (t, kind) => {
  t.test('signing up gives a session cookie; signing out revokes it', async (t) => {
    const inst = await startWeb(t, kind, { env: { FARTHING_REGISTRATION: 'invite' } });
    const ann = inst.browser();
    const form = await ann.get('/signup');
    t.match(form.text, /<label for="invite">Invite code<\/label>/, 'invite-only: the form asks for an invite');
    const refused = await ann.post('/signup', { username: 'ann', password: 'long-password' });
    t.equal(refused.status, 403);
    t.match(fieldError(refused, 'invite'), 'an invite code is required (invite_required)', 'the error is next to the invite field');
    t.match(refused.text, /id="invite"[^>]*aria-invalid="true"/);
    t.match(refused.text, /value="ann"/, 'the username is kept; the password is not');

    const code = (await inst.api('POST', '/api/v1/admin/invites', { token: inst.adminToken })).body.code as string;
    const ok = await ann.post('/signup', { username: 'ann', password: 'long-password', invite: code });
    t.equal(ok.status, 303);
    t.equal(ok.location, '/dashboard?done=welcome');
    const session = ok.setCookies.find((c) => c.name === '__Host-farthing_session');
    t.ok(session, 'https origin: the session cookie has the __Host- prefix');
    t.equal(session?.httpOnly, true);
    t.equal(session?.secure, true);
    t.equal(session?.sameSite, 'Lax');
    t.equal(session?.path, '/');
    const dashboard = await ann.get('/dashboard');
    t.equal(dashboard.status, 200);
    t.match(textOf(dashboard), 'Sign out ann');

    const out = await ann.post('/signout');
    t.equal(out.status, 303);
    const stolen = inst.browser();
    stolen.cookies.set('__Host-farthing_session', session!.value);
    const after = await stolen.get('/dashboard');
    t.equal(after.status, 303, 'the old session no longer works');
    t.equal(after.location, '/signin?next=%2Fdashboard');

    const wrong = await ann.signIn('ann', 'not-the-password');
    t.equal(wrong.status, 401);
    t.match(textOf(wrong), 'the username or the password is wrong (unauthorized)');
    const back = await ann.post('/signin', { username: 'ann', password: 'long-password', next: '//evil.example/x' });
    t.equal(back.location, '/dashboard', 'next never leaves the site');
  });

  t.test("sign-up and sign-in forms are parsed by the API's schemas: a bad field is its error, nothing is made", async (t) => {
    const inst = await startWeb(t, kind);
    const members = () => rowCount(inst.ctx.db, 'members');
    const before = await members();
    const b = inst.browser();
    await b.get('/signup');
    const spaced = await b.post('/signup', { username: 'no spaces', password: 'long-password' });
    t.equal(spaced.status, 400);
    t.equal(fieldError(spaced, 'username'), 'username must be 1 to 30 letters, digits or underscores (invalid_request)', "the rule's words on the page");
    t.match(spaced.text, /value="no spaces"/, 'the username is kept');
    const short = await b.post('/signup', { username: 'ann', password: 'short' });
    t.equal(fieldError(short, 'password'), 'password must be 8 to 256 characters (invalid_request)');
    const twice = await b.postFields('/signup', [
      ['username', 'ann'],
      ['username', 'bob'],
      ['password', 'long-password'],
    ]);
    t.equal(twice.status, 400, 'a repeated field is refused, not a 500');
    t.match(fieldError(twice, 'username'), /^username: .*\(invalid_request\)$/);
    t.notMatch(twice.text, /value="ann"/, 'an array is not written back');
    const overlongInvite = await b.post('/signup', { username: 'ann', password: 'long-password', invite: 'x'.repeat(201) });
    t.equal(overlongInvite.status, 400);
    t.match(textOf(overlongInvite), /invite: .*\(invalid_request\)/, 'open registration has no invite field: the error is shown above the form');
    t.equal(await members(), before, 'no member was made');

    await b.get('/signin');
    const arrayName = await b.postFields('/signin', [
      ['username', 'admin'],
      ['username', 'admin'],
      ['password', 'admin-password'],
    ]);
    t.equal(arrayName.status, 400);
    t.match(fieldError(arrayName, 'username'), /^username: .*\(invalid_request\)$/);
    t.notOk(b.cookies.has('__Host-farthing_session'), 'not signed in');
    const noPassword = await b.post('/signin', { username: 'admin' });
    t.equal(noPassword.status, 400);
    t.equal(fieldError(noPassword, 'password'), 'password is required (invalid_request)');
    const api = await inst.api('POST', '/api/v1/accounts', { body: { username: 'ann', password: 'short' } });
    t.same(api.body.error, { code: 'invalid_request', message: 'password: must be 8 to 256 characters', field: 'password' }, 'the API keeps its words');
  });

  t.test('every form needs its CSRF token', async (t) => {
    const inst = await startWeb(t, kind);
    await inst.member('bob', { deposit: '20.00' });
    const bob = inst.browser();
    await bob.signIn('bob');
    const eve = inst.browser();
    await eve.get('/signin');
    const forms: Record<string, string>[] = [{ amount: '7.00' }, { amount: '7.00', _csrf: 'forged' }, { amount: '7.00', _csrf: eve.csrf! }];
    for (const form of forms) {
      const refused = await bob.post('/dashboard/budget', form, { csrf: false });
      t.equal(refused.status, 403, JSON.stringify(Object.keys(form)));
      t.match(textOf(refused), /this form has expired or was not sent from this site.*\(forbidden\)/);
    }
    const noCookie = inst.browser();
    noCookie.cookies.set('__Host-farthing_session', bob.cookies.get('__Host-farthing_session')!);
    t.equal((await noCookie.post('/dashboard/budget', { amount: '7.00', _csrf: bob.csrf! })).status, 403, 'a token without its secret cookie is refused');
    t.equal((await inst.api('GET', '/api/v1/me', { token: await inst.member('carl') })).status, 200);
    const me = await bob.get('/dashboard');
    t.match(textOf(me), 'Budget for 2026-11 2.00 EUR', 'nothing changed');
    const signIn = await inst.browser().post('/signin', { username: 'bob', password: 'bob-password' });
    t.equal(signIn.status, 403, 'signing in needs a token too (login CSRF)');
  });

  t.test('the budget form: saved, or the service refusal next to the field', async (t) => {
    const inst = await startWeb(t, kind);
    await inst.member('bob', { deposit: '20.00' });
    const bob = inst.browser();
    await bob.signIn('bob');
    await bob.get('/dashboard');
    const saved = await bob.post('/dashboard/budget', { amount: '7.00' });
    t.equal(saved.status, 303);
    const page = await bob.get(saved.location!);
    t.match(textOf(page), 'Budget saved.');
    t.match(textOf(page), 'Budget for 2026-11 7.00 EUR');
    const low = await bob.post('/dashboard/budget', { amount: '1.00' });
    t.equal(low.status, 400);
    t.equal(fieldError(low, 'amount'), 'the monthly budget must be between 2.00 and 100.00 (budget_out_of_range)');
    const junk = await bob.post('/dashboard/budget', { amount: '7,50' });
    t.equal(junk.status, 400);
    t.match(fieldError(junk, 'amount'), /\(invalid_amount\)$/);
    t.equal((await inst.api('GET', '/api/v1/me', { token: await tokenOf(inst, 'bob') })).body.budget, '7.00', 'the page used the same service');
  });

  t.test('flattring from a thing page, and the dashboard prices the month as the close would', async (t) => {
    const inst = await startWeb(t, kind);
    const creators = await Promise.all(Array.from({ length: 10 }, (_, i) => inst.member(`creator${i}`)));
    const ids = await Promise.all(creators.map((token, i) => thing(inst, token, `https://blog.example/post-${i}`, `Post ${i}`)));
    await inst.member('reader', { deposit: '20.00', budget: '5.00' });
    const reader = inst.browser();
    await reader.signIn('reader');

    const before = await reader.get(`/things/${ids[0]}`);
    t.equal(before.status, 200);
    t.match(textOf(before), 'By creator0');
    t.match(textOf(before), 'This month (2026-11) 0 flattrs');
    for (const id of ids) {
      await reader.get(`/things/${id}`);
      const done = await reader.post(`/things/${id}/flattr`);
      t.equal(done.status, 303);
      t.equal(done.location, `/things/${id}?done=flattred`);
    }
    const after = await reader.get(`/things/${ids[0]}`);
    t.match(textOf(after), 'This month (2026-11) 1 flattr');
    t.match(textOf(after), 'All time 1 flattr');
    t.match(textOf(after), 'You flattred this in 2026-11');
    const again = await reader.post(`/things/${ids[0]}/flattr`);
    t.equal(again.status, 409);
    t.match(fieldError(again, 'flattr'), 'you have flattred this thing in 2026-11 already (flattr_once)');

    const dashboard = textOf(await reader.get('/dashboard'));
    t.match(dashboard, 'Budget for 2026-11 5.00 EUR');
    t.match(dashboard, 'Charged at the close 5.00 EUR');
    t.equal(dashboard.match(/creator\d 0\.50 0\.45/g)?.length, 10, "the seeds' example: each share 0.50, each creator receives 0.45");

    const owner = inst.browser();
    await owner.signIn('creator0');
    const own = await owner.get(`/things/${ids[0]}`);
    t.match(textOf(own), 'This is your thing');
    t.match(own.text, /&lt;link rel=&quot;payment&quot; href=&quot;https:\/\/a\.example\/things\//, 'the owner gets the snippets');
    const self = await owner.post(`/things/${ids[0]}/flattr`);
    t.equal(self.status, 409);
    t.match(fieldError(self, 'flattr'), '(flattr_owner)');

    await inst.member('broke');
    const broke = inst.browser();
    await broke.signIn('broke');
    await broke.get(`/things/${ids[1]}`);
    const refused = await broke.post(`/things/${ids[1]}/flattr`);
    t.equal(refused.status, 402);
    t.match(fieldError(refused, 'flattr'), 'does not cover your monthly budget (2.00) (no_means)');

    const visitor = inst.browser();
    const visit = await visitor.get(`/things/${ids[1]}`);
    t.match(visit.text, `href="/signin?next=%2Fthings%2F${ids[1]}"`, 'a visitor is asked to sign in');
    t.equal(visit.setCookies.length, 0, 'a visitor reading a thing gets no cookie');
    t.equal((await visitor.get('/things/00000000-0000-4000-8000-000000000000')).status, 404);
  });

  t.test('GET /flattr confirms, flattrs, and says clearly when a URL is unknown', async (t) => {
    const inst = await startWeb(t, kind);
    const id = await thing(inst, await inst.member('cora'), 'https://cora.example/a', 'Cora A');
    await inst.member('dan', { deposit: '10.00' });
    const dan = inst.browser();
    const url = '/flattr?url=https%3A%2F%2Fcora.example%2Fa&title=A+post';
    const asked = await dan.get(url);
    t.match(asked.text, `href="/signin?next=${encodeURIComponent(url)}"`, 'a visitor signs in and comes back');
    await dan.get(`/signin?next=${encodeURIComponent(url)}`);
    const signedIn = await dan.post('/signin', { username: 'dan', password: 'dan-password', next: url });
    t.equal(signedIn.location, url);
    const confirm = await dan.get(url);
    t.match(textOf(confirm), 'You are about to flattr Cora A by cora');
    const done = await dan.post('/flattr', { url: 'https://cora.example/a' });
    t.equal(done.location, `/things/${id}?done=flattred`);
    const unknown = await dan.get('/flattr?url=https%3A%2F%2Fnobody.example%2F');
    t.equal(unknown.status, 200, 'a URL not known here: the GET only says so (it looks nothing up)');
    t.match(textOf(unknown), 'does not know yet whom it would pay');
    const notFound = await dan.post('/flattr', { url: 'https://nobody.example/' });
    t.equal(notFound.status, 404, 'the confirming POST looks for an owner and says clearly when there is none');
    t.match(fieldError(notFound, 'url'), 'no owner could be found for it (not_found)');
    const ownUnknown = await dan.get(`/flattr?url=${encodeURIComponent('https://a.example/things/00000000-0000-4000-8000-000000000000')}`);
    t.equal(ownUnknown.status, 404, 'one of our own thing URLs that does not exist: nothing to look for');
    t.match(fieldError(ownUnknown, 'url'), 'no thing is known for this URL (not_found)');
    const visitor = await inst.browser().get(`/flattr?url=${encodeURIComponent('javascript:alert(1)')}&title=${encodeURIComponent('<script>x</script>')}`);
    t.notMatch(visitor.text, /href="javascript:|<script>/, 'what a link sends is text, never markup or a script link');
    t.match(visitor.text, '&lt;script&gt;x&lt;/script&gt;');
    const odd = await thing(inst, await inst.member('mallory'), 'https://m.example/"><script>', '<img src=x onerror=alert(1)>');
    const oddPage = await dan.get(`/things/${odd}`);
    t.notMatch(oddPage.text, /<img src=x|<script>/, "a thing's title and URL are escaped");
    const bad = await dan.get('/flattr?url=ftp%3A%2F%2Fx');
    t.equal(bad.status, 400);
    t.match(fieldError(bad, 'url'), 'url must use http or https (invalid_request)');

    const flattrs = () => rowCount(inst.ctx.db, 'flattrs');
    const before = await flattrs();
    await dan.get('/flattr?url=https%3A%2F%2Fcora.example%2Fa');
    const twice = await dan.postFields('/flattr', [
      ['url', 'https://cora.example/a'],
      ['url', 'https://cora.example/a'],
    ]);
    t.equal(twice.status, 400, 'a repeated url is refused by the form schema, not a 500');
    t.match(fieldError(twice, 'url'), /^url: .*\(invalid_request\)$/);
    const none = await dan.post('/flattr', {});
    t.equal(none.status, 400);
    t.equal(fieldError(none, 'url'), 'send either url or thing_id (invalid_request)', "a missing URL: the service's words, as before");
    const long = await dan.post('/flattr', { url: `https://cora.example/${'a'.repeat(2100)}` });
    t.equal(long.status, 400);
    t.equal(fieldError(long, 'url'), 'url must be an http(s) URL of at most 2048 characters (invalid_request)');
    t.equal(await flattrs(), before, 'nothing was flattred');
  });

  t.test('admin: deposit and close from the pages, with errors next to the fields', async (t) => {
    const inst = await startWeb(t, kind);
    const id = await thing(inst, await inst.member('cora', { deposit: '5.00' }), 'https://cora.example/a');
    await inst.member('dan', { deposit: '20.00', budget: '5.00' });
    await inst.api('POST', '/api/v1/flattrs', { token: await tokenOf(inst, 'dan'), body: { thing_id: id } });
    const member = inst.browser();
    await member.signIn('dan');
    t.equal((await member.get('/admin')).status, 403, 'members do not see admin pages');

    const admin = inst.browser();
    await admin.signIn('admin', 'admin-password');
    await admin.get('/admin/deposits');
    const ok = await admin.post('/admin/deposits', { username: 'cora', amount: '12.50', reference: 'BANK-1' });
    t.equal(ok.location, '/admin/deposits?done=deposit');
    const replay = await admin.post('/admin/deposits', { username: 'cora', amount: '12.50', reference: 'BANK-1' });
    t.equal(replay.location, '/admin/deposits?done=replayed', 'the same reference records once');
    const conflict = await admin.post('/admin/deposits', { username: 'dan', amount: '1.00', reference: 'BANK-1' });
    t.equal(conflict.status, 409);
    t.match(fieldError(conflict, 'reference'), '(reference_conflict)');
    const nobody = await admin.post('/admin/deposits', { username: 'nobody', amount: '1.00', reference: 'BANK-2' });
    t.equal(nobody.status, 404);
    t.equal(fieldError(nobody, 'username'), 'no member is called "nobody" (not_found)');
    const twoNames = await admin.postFields('/admin/deposits', [
      ['username', 'cora'],
      ['username', 'dan'],
      ['amount', '1.00'],
      ['reference', 'BANK-3'],
    ]);
    t.equal(twoNames.status, 400, 'a repeated field: its error, not a 500');
    t.match(fieldError(twoNames, 'username'), /^username: .*\(invalid_request\)$/);
    t.match(twoNames.text, /id="reference"[^>]*value="BANK-3"/, 'the other fields are kept');
    const negative = await admin.post('/admin/deposits', { username: 'cora', amount: '-1', reference: 'BANK-3' });
    t.equal(negative.status, 400);
    t.match(fieldError(negative, 'amount'), '(invalid_amount)');
    t.match(textOf(await admin.get('/admin/members')), /cora member 17\.50/);
    t.match(textOf(await admin.get('/admin')), 'Balanced');

    await admin.get('/admin/periods');
    const early = await admin.post('/admin/periods/close', { period: '2026-11' });
    t.equal(early.status, 409);
    t.match(fieldError(early, 'period-any'), '2026-11 has not ended yet');
    t.match(fieldError(early, 'period-any'), '(period_open)');
    const typo = await admin.post('/admin/periods/close', { period: 'November' });
    t.equal(typo.status, 400);
    t.match(fieldError(typo, 'period-any'), 'period must be a month written YYYY-MM, got "November" (invalid_request)');

    inst.clock.set('2026-12-01T00:30:00Z');
    const closed = await admin.post('/admin/periods/close', { period: '2026-11' });
    t.equal(closed.location, '/admin/periods?done=closed#p-2026-11');
    const periods = textOf(await admin.get('/admin/periods'));
    t.match(periods, '2026-11: closed');
    t.match(periods, /Charged 7\.00 Fees 0\.50 Paid to creators 4\.50 To charity 2\.00/, "dan's 5.00 to cora's thing, cora's idle 2.00 to charity");

    const earnings = await (async () => {
      const cora = inst.browser();
      await cora.signIn('cora');
      return cora.get('/creator/earnings?period=2026-11');
    })();
    t.match(earnings.text, /<svg viewBox="0 0 640 262" role="img"/, 'an inline SVG chart');
    t.match(earnings.text, />4\.50<\/text>/, 'the bar of November says 4.50');
    t.match(textOf(earnings), /2026-11 1 4\.50 closed/);
  });

  t.test('the badge and the button: embeddable, cacheable, cookie-free', async (t) => {
    const inst = await startWeb(t, kind);
    const id = await thing(inst, await inst.member('cora'), 'https://cora.example/a');
    for (const name of ['dan', 'eve']) {
      const token = await inst.member(name, { deposit: '5.00' });
      await inst.api('POST', '/api/v1/flattrs', { token, body: { thing_id: id } });
    }
    const badge = await inst.browser().get(`/things/${id}/badge.svg`);
    t.equal(badge.status, 200);
    t.match(badge.headers['content-type'], 'image/svg+xml');
    t.match(badge.headers['cache-control'], /^public, max-age=\d+$/);
    t.equal(badge.headers['cross-origin-resource-policy'], 'cross-origin');
    t.notOk(badge.headers['set-cookie'], 'no cookies');
    t.match(badge.text, '<title>flattr: 2</title>');
    const withCookies = inst.browser();
    await withCookies.signIn('dan');
    t.notOk((await withCookies.get(`/things/${id}/badge.svg`)).headers['set-cookie'], 'not even for a member');
    t.equal((await inst.browser().get('/things/nope/badge.svg')).status, 404);

    const visitorButton = await inst.browser().get(`/things/${id}/button`);
    t.match(visitorButton.headers['content-security-policy'], 'frame-ancestors *');
    t.notOk(visitorButton.headers['x-frame-options'], 'the button may be framed');
    t.match(visitorButton.text, /href="\/signin\?next=%2Fflattr%3Furl%3Dhttps%253A%252F%252Fa\.example%252Fthings%252F[^"]+" target="_blank"/);
    await inst.member('fay', { deposit: '5.00' });
    const fay = inst.browser();
    await fay.signIn('fay');
    const button = await fay.get(`/things/${id}/button`);
    t.match(button.text, `action="/things/${id}/button"`);
    const pressed = await fay.post(`/things/${id}/button`);
    t.equal(pressed.status, 303);
    t.match(textOf(await fay.get(`/things/${id}/button`)), 'Flattred. Thank you! 3 flattrs');

    const page = await inst.browser().get('/');
    t.equal(
      page.headers['content-security-policy'],
      "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    );
    t.equal(page.headers['x-frame-options'], 'DENY');
    t.notMatch(page.text, /<script/i, 'no script anywhere');
    t.match(textOf(page), 'each creator receives 0.45, and the instance keeps 0.50');
  });

  t.test('sign-in and sign-up are rate limited', async (t) => {
    const inst = await startWeb(t, kind, { env: { FARTHING_AUTH_RATE_LIMIT: '3' } });
    const b = inst.browser();
    await b.get('/signin');
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await b.post('/signin', { username: 'x', password: 'wrong-password' })).status);
    t.same(statuses, [401, 401, 401, 429]);
    const limited = await b.post('/signin', { username: 'x', password: 'wrong-password' });
    t.match(textOf(limited), /too many requests: try again in \d+ s \(rate_limited\)/);
    t.ok(limited.headers['retry-after']);
  });
});

async function tokenOf(inst: { api: (m: string, u: string, o: object) => Promise<{ body: { token: string } }> }, username: string): Promise<string> {
  return (await inst.api('POST', '/api/v1/tokens', { body: { username, password: `${username}-password` } })).body.token;
}
