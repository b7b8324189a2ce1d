/**
 * Issue 14: a CSRF cookie planted in a browser (possible on http deployments, or from a sibling
 * subdomain without the __Host- prefix) together with a token made for it passed with another
 * member's session. Now every token is bound to the session it was made for, or to the anonymous
 * pre-session cookie before sign-in (the sign-in and sign-up forms), and each attack below is
 * refused with 403 and changes nothing; the honest forms still work.
 */
import t from 'tap';
import { eachDatabase } from '../helpers/databases.ts';
import { type Browser, startWeb, textOf } from '../helpers/web.ts';

const SESSION = '__Host-farthing_session';
const CSRF = '__Host-farthing_csrf';
const PRESESSION = '__Host-farthing_presession';

/** Copies the attacker's CSRF cookie (and pre-session, if asked) into the victim's browser. */
function plant(victim: Browser, attacker: Browser, cookies: string[]): void {
  for (const name of cookies) {
    const value = attacker.cookies.get(name);
    if (value === undefined) throw new Error(`the attacker has no ${name}`);
    victim.cookies.set(name, value);
  }
}

await eachDatabase(t, async (t, kind) => {
  const inst = await startWeb(t, kind);
  await inst.member('bob', { deposit: '20.00' });
  await inst.member('eve');

  t.test("a planted CSRF cookie and its token do not pass with another member's session", async (t) => {
    const bob = inst.browser();
    await bob.signIn('bob');
    await bob.get('/dashboard');
    const eve = inst.browser();
    await eve.signIn('eve');
    await eve.get('/dashboard');
    const evesToken = eve.csrf as string;
    plant(bob, eve, [CSRF]);
    const refused = await bob.post('/dashboard/budget', { amount: '7.00', _csrf: evesToken }, { csrf: false });
    t.equal(refused.status, 403, "eve's cookie and token with bob's session");
    t.match(textOf(refused), /\(forbidden\)/);

    const visitor = inst.browser();
    await visitor.get('/signin');
    plant(bob, visitor, [CSRF]);
    t.equal(
      (await bob.post('/dashboard/budget', { amount: '7.00', _csrf: visitor.csrf as string }, { csrf: false })).status,
      403,
      "a visitor's cookie and token with bob's session",
    );
    plant(bob, visitor, [CSRF, PRESESSION]);
    t.equal(
      (await bob.post('/dashboard/budget', { amount: '7.00', _csrf: visitor.csrf as string }, { csrf: false })).status,
      403,
      'even with the pre-session cookie: the session decides',
    );
    t.match(textOf(await inst.browser().get('/')), 'Farthing');
    const me = await inst.api('GET', '/api/v1/me', {
      token: (await inst.api('POST', '/api/v1/tokens', { body: { username: 'bob', password: 'bob-password' } })).body.token,
    });
    t.equal(me.body.budget, '2.00', 'the budget did not change');

    const honest = inst.browser();
    await honest.signIn('bob');
    await honest.get('/dashboard');
    const saved = await honest.post('/dashboard/budget', { amount: '7.00' });
    t.equal(saved.status, 303, 'a form from the session itself still works');
  });

  t.test("a token made for one session is refused with the member's next session", async (t) => {
    const bob = inst.browser();
    await bob.signIn('bob');
    await bob.get('/dashboard');
    const old = { csrf: bob.cookies.get(CSRF) as string, token: bob.csrf as string };
    const again = inst.browser();
    await again.signIn('bob');
    again.cookies.set(CSRF, old.csrf);
    t.equal((await again.post('/dashboard/budget', { amount: '8.00', _csrf: old.token }, { csrf: false })).status, 403);
  });

  t.test('sign-in and sign-up tokens are bound to the pre-session', async (t) => {
    const attacker = inst.browser();
    await attacker.get('/signin');
    t.ok(attacker.cookies.get(PRESESSION), 'a visitor gets a pre-session cookie with the form');
    const victim = inst.browser();
    await victim.get('/signin');
    plant(victim, attacker, [CSRF]);
    const login = await victim.post('/signin', { username: 'eve', password: 'eve-password', _csrf: attacker.csrf as string });
    t.equal(login.status, 403, "login CSRF: the attacker's cookie and token with the victim's pre-session");
    t.notOk(victim.cookies.get(SESSION), 'not signed in');
    const bare = inst.browser();
    bare.cookies.set(CSRF, attacker.cookies.get(CSRF) as string);
    t.equal(
      (await bare.post('/signin', { username: 'eve', password: 'eve-password', _csrf: attacker.csrf as string })).status,
      403,
      'without a pre-session at all',
    );
    const signup = inst.browser();
    await signup.get('/signup');
    plant(signup, attacker, [CSRF]);
    t.equal((await signup.post('/signup', { username: 'mallory', password: 'mallory-password', _csrf: attacker.csrf as string })).status, 403, 'sign-up too');
    t.notOk(await inst.ctx.db.selectFrom('members').select('id').where('username', '=', 'mallory').executeTakeFirst(), 'no member made');

    const honest = inst.browser();
    t.equal((await honest.signIn('eve')).status, 303, 'an honest sign-in works');
    t.notOk(honest.cookies.get(PRESESSION), 'the pre-session ends with the sign-in');
    t.equal((await honest.get('/dashboard')).status, 200);
    t.equal((await honest.post('/signout')).status, 303, 'and its forms work');
  });
});
