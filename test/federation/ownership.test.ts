/**
 * Ownership is proven by the content, not by who registers first (issue 13): registering a URL
 * reads it. Another actor's post, another Farthing instance's thing, a page naming someone else:
 * refused, not_owner, saying whose it is. Actor IRIs and this instance's own URLs: refused. A page
 * naming the caller: verified. A page naming nobody, or one that cannot be read: registered,
 * unverified, and said so in the API, on its page and on the confirmation page before a flattr.
 * Two instances (A, B) and the Mastodon-shaped server, over loopback.
 */
import t from 'tap';
import { eachDatabase } from '../helpers/databases.ts';
import { mastodon } from '../helpers/mastodon.ts';
import { startNetworked } from '../helpers/network.ts';
import { Browser, textOf } from '../helpers/web.ts';

const html = (head: string) => `<!doctype html><html><head><title>A page</title>${head}</head><body><p>Words.</p></body></html>`;

await eachDatabase(t, async (t, kind) => {
  const masto = await mastodon(t, ['alice']);
  const a = await startNetworked(t, kind);
  const b = await startNetworked(t, kind);
  const ann = await a.member('ann', { deposit: '20.00', budget: '5.00' });
  const cat = await a.member('cat', { deposit: '20.00', budget: '5.00' });
  const bob = await b.member('bob');
  const aHost = new URL(a.origin).host;
  const register = (url: string, token = ann) => a.api('POST', '/api/v1/things', { token, body: { url } });

  t.test("squatting is refused: another actor's post, another instance's thing, a page naming someone else", async (t) => {
    const post = await register(masto.status('alice', 1));
    t.equal(post.status, 403, post.text);
    t.equal(post.body.error.code, 'not_owner');
    t.match(post.body.error.message, `@alice@${masto.host}`, 'says whose it is');
    t.equal(post.body.error.owner, masto.actor('alice'));

    const onB = await b.api('POST', '/api/v1/things', { token: bob, body: { url: 'https://bob.example/essay', title: "Bob's essay" } });
    t.equal(onB.status, 201, onB.text);
    const foreign = await register(onB.body.uri);
    t.equal(foreign.status, 403, foreign.text);
    t.equal(foreign.body.error.code, 'not_owner');
    t.match(foreign.body.error.message, `@bob@${new URL(b.origin).host}`);

    masto.pages['/blog/alice'] = html(`<meta name="fediverse:creator" content="@alice@${masto.host}">`);
    const page = await register(`${masto.origin}/blog/alice`);
    t.equal(page.status, 403, page.text);
    t.equal(page.body.error.code, 'not_owner');
    t.match(page.body.error.message, `@alice@${masto.host}`);

    masto.pages['/blog/pays-bob'] = html(`<link rel="payment" href="${onB.body.uri}">`);
    const paysBob = await register(`${masto.origin}/blog/pays-bob`);
    t.equal(paysBob.status, 403, "a page paying another member's thing names that member");

    masto.pages['/blog/cat'] = html(`<link rel="author" href="${a.origin}/users/cat">`);
    const cats = await register(`${masto.origin}/blog/cat`);
    t.equal(cats.status, 403, 'a page naming another member here');
    t.match(cats.body.error.message, `@cat@${aHost}`);

    t.equal(
      await a.ctx.db
        .selectFrom('things')
        .select('id')
        .execute()
        .then((r) => r.length),
      0,
      'nothing was registered on A',
    );
  });

  t.test("actor IRIs and this instance's own URLs are not things", async (t) => {
    const actor = await register(masto.actor('alice'));
    t.equal(actor.status, 400, actor.text);
    t.equal(actor.body.error.code, 'invalid_request');
    t.match(actor.body.error.message, 'fediverse account');
    const own = await register(`${a.origin}/users/ann`);
    t.equal(own.status, 400);
    t.match(own.body.error.message, 'on this instance');
    const ownThing = await register(`${a.origin}/things/00000000-0000-4000-8000-000000000000`);
    t.equal(ownThing.status, 400);
  });

  t.test('a page naming the caller is verified: rel=payment, fediverse:creator, rel=me', async (t) => {
    masto.pages['/ann/1'] = html(`<link rel="payment" href="${a.origin}/users/ann">`);
    masto.pages['/ann/2'] = html(`<meta name="fediverse:creator" content="@ann@${aHost}">`);
    masto.pages['/ann/3'] = `<!doctype html><html><head><title>Ann's page</title></head><body><a rel="me" href="${a.origin}/users/ann">me</a></body></html>`;
    for (const n of [1, 2, 3]) {
      const made = await register(`${masto.origin}/ann/${n}`);
      t.equal(made.status, 201, made.text);
      t.equal(made.body.verified, true, `page ${n} names ann`);
      t.equal(made.body.owner.username, 'ann');
    }
    const third = await a.api('GET', `/api/v1/things/lookup?url=${encodeURIComponent(`${masto.origin}/ann/3`)}`);
    t.equal(third.body.title, "Ann's page", "the page's title when none is given");
    t.equal(third.body.verified, true);
  });

  t.test('a page naming nobody, or one that cannot be read: unverified, and said so', async (t) => {
    masto.pages['/nobody'] = html('');
    const plain = await register(`${masto.origin}/nobody`);
    t.equal(plain.status, 201, plain.text);
    t.equal(plain.body.verified, false);
    const gone = await register('https://gone.example/post');
    t.equal(gone.status, 201, gone.text);
    t.equal(gone.body.verified, false, 'cannot be fetched: unverified');
    const looked = await a.api('GET', `/api/v1/things/lookup?url=${encodeURIComponent('https://gone.example/post')}`);
    t.equal(looked.body.verified, false);

    const visitor = await a.app.inject({ url: `/things/${plain.body.id}` });
    t.match(visitor.body, 'Unverified:');
    const verifiedPage = await a.app.inject({
      url: `/things/${(await a.api('GET', `/api/v1/things/lookup?url=${encodeURIComponent(`${masto.origin}/ann/1`)}`)).body.id}`,
    });
    t.notMatch(verifiedPage.body, 'Unverified:');
    t.match(verifiedPage.body, 'verified: the page names its owner');

    const browser = new Browser(a.app);
    await browser.signIn('cat');
    const confirm = await browser.get(`/flattr?url=${encodeURIComponent(`${masto.origin}/nobody`)}`);
    t.equal(confirm.status, 200);
    t.match(textOf(confirm), 'Unverified: the page at this URL does not name ann as its owner');
    const flattred = await a.api('POST', '/api/v1/flattrs', { token: cat, body: { url: `${masto.origin}/nobody` } });
    t.equal(flattred.status, 201, 'an unverified thing can still be flattred');
    t.equal(flattred.body.thing.verified, false);

    const owner = new Browser(a.app);
    await owner.signIn('ann');
    const creator = await owner.get('/creator');
    t.match(creator.text, `&lt;link rel=&quot;payment&quot; href=&quot;${a.origin}/users/ann&quot;&gt;`, 'the snippet to add');
    t.match(textOf(creator), 'unverified');
    const mine = await owner.get(`/things/${plain.body.id}`);
    t.match(textOf(mine), 'Prove it is yours');
  });

  t.test('a flattr of a post finds its owner by content: verified', async (t) => {
    const made = await a.api('POST', '/api/v1/flattrs', { token: cat, body: { url: masto.status('alice', 2) } });
    t.equal(made.status, 201, made.text);
    t.equal(made.body.thing.verified, true);
    t.equal(made.body.thing.owner.actor, masto.actor('alice'));
  });

  t.test('the form says not_owner next to the URL field and registers nothing', async (t) => {
    const browser = new Browser(a.app);
    await browser.signIn('ann');
    await browser.get('/creator');
    const refused = await browser.post('/creator/things', { url: masto.status('alice', 1) });
    t.equal(refused.status, 403);
    t.match(textOf(refused), 'its content names them as its owner');
  });
});
