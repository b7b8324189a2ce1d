/**
 * "Flattr from your instance" over real HTTP on loopback: a visitor on instance A (where cat's
 * thing lives) names their handle or instance B; A checks B's NodeInfo and sends them (303) to
 * B's confirmation page, where ann, signed in, flattrs and B federates the flattr to A. A host
 * that is not Farthing, or that cannot be reached, is refused next to the field; so is a private
 * address on an instance that does not allow them (in any spelling: nothing even connects); and
 * the form needs its CSRF token. GET /flattr?url= (a link any site can make a member open) only
 * shows what is known: no outbound request, no row; the confirming POST finds the owner.
 */
import { createServer } from 'node:http';
import t from 'tap';
import { eachDatabase } from '../helpers/databases.ts';
import { thing } from '../helpers/instance.ts';
import { close, eventually, freePort, listen, startNetworked } from '../helpers/network.ts';
import { Browser, fieldError, startWeb, textOf } from '../helpers/web.ts';

await eachDatabase(t, async (t, kind) => {
  const a = await startNetworked(t, kind);
  const b = await startNetworked(t, kind);
  const cat = await a.member('cat');
  await b.member('ann', { deposit: '20.00', budget: '5.00' });
  const thingId = await thing(a, cat, 'https://cat.example/drawings/1', 'Cat’s drawing');
  const uri = `${a.origin}/things/${thingId}`;
  const bHost = new URL(b.origin).host;
  const confirmation = `${b.origin}/flattr?${new URLSearchParams({ url: uri, title: 'Cat’s drawing' })}`;

  const notFarthing = createServer((req, res) => {
    const origin = `http://${req.headers.host}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    if (req.url === '/.well-known/nodeinfo')
      return res.end(JSON.stringify({ links: [{ rel: 'http://nodeinfo.diaspora.software/ns/schema/2.0', href: `${origin}/nodeinfo/2.0` }] }));
    return res.end(
      JSON.stringify({
        version: '2.0',
        software: { name: 'mastodon', version: '4.3.0' },
        protocols: ['activitypub'],
        services: { outbound: [], inbound: [] },
        usage: { users: {} },
        openRegistrations: false,
        metadata: {},
      }),
    );
  });
  const mastoPort = await listen(notFarthing);
  t.teardown(() => close(notFarthing));

  t.test("a thing's page leads a visitor to the form, which has a label and a CSRF token", async (t) => {
    const visitor = new Browser(a.app);
    const thingPage = await visitor.get(`/things/${thingId}`);
    const link = `/flattr/remote?${new URLSearchParams({ url: uri, title: 'Cat’s drawing' })}`;
    t.match(thingPage.text, `href="${link.replace(/&/g, '&amp;')}"`);
    t.equal(thingPage.setCookies.length, 0, 'the thing page itself sets no cookie');
    const page = await visitor.get(link);
    t.equal(page.status, 200);
    t.match(page.text, '<form method="post" action="/flattr/remote">');
    t.match(page.text, '<label for="remote-instance">Your handle or instance</label>');
    t.match(page.text, `<input type="hidden" name="url" value="${uri}">`);
    t.ok(visitor.csrf, 'a CSRF token');
    const signedIn = new Browser(a.app);
    await signedIn.signIn('cat');
    t.notMatch((await signedIn.get(`/things/${thingId}`)).text, '/flattr/remote', 'not for a signed-in member');
    const confirm = await visitor.get(`/flattr?${new URLSearchParams({ url: 'https://cat.example/drawings/1' })}`);
    t.match(confirm.text, 'action="/flattr/remote"', 'and on GET /flattr for a visitor');
  });

  t.test("a handle or an instance sends the visitor to their instance's confirmation page", async (t) => {
    const visitor = new Browser(a.app);
    await visitor.get(`/flattr/remote?${new URLSearchParams({ url: uri })}`);
    const byHandle = await visitor.post('/flattr/remote', { url: uri, title: 'Cat’s drawing', instance: `@ann@${bHost}` });
    t.equal(byHandle.status, 303, byHandle.text);
    t.equal(byHandle.location, confirmation);
    const byHost = await visitor.post('/flattr/remote', { url: uri, title: 'Cat’s drawing', instance: bHost });
    t.equal(byHost.location, confirmation);
    // From GET /flattr?url= with the thing's own URL: the visitor's instance gets the thing's uri.
    const byUrl = await visitor.post('/flattr/remote', { url: 'https://cat.example/drawings/1', instance: `ann@${bHost}` });
    t.equal(byUrl.location, `${b.origin}/flattr?${new URLSearchParams({ url: uri })}`);
  });

  t.test('there, signed in, the visitor flattrs and the flattr is federated back', async (t) => {
    const ann = new Browser(b.app);
    await ann.signIn('ann');
    const page = await ann.get(new URL(confirmation).pathname + new URL(confirmation).search);
    t.equal(page.status, 200, 'the confirmation page offers to find the owner of a thing not known here');
    t.match(textOf(page), 'Cat’s drawing');
    t.match(textOf(page), 'this instance looks for its owner');
    t.match(page.text, '<form method="post" action="/flattr">');
    const made = await ann.post('/flattr', { url: uri });
    t.equal(made.status, 303, made.text);
    t.match(made.location, /^\/things\//);
    await eventually(
      async () => {
        const items = (await a.api('GET', '/api/v1/me/incoming?period=2026-11', { token: cat })).body.items as any[];
        return items.some((i) => i.from === `${b.origin}/users/ann`);
      },
      20_000,
      'the Like arriving at A',
    );
    t.pass("cat sees ann's flattr as incoming");
  });

  t.test('a host that is not Farthing, or that does not answer, is refused next to the field', async (t) => {
    const visitor = new Browser(a.app);
    await visitor.get(`/flattr/remote?${new URLSearchParams({ url: uri })}`);
    const masto = await visitor.post('/flattr/remote', { url: uri, instance: `@ann@127.0.0.1:${mastoPort}` });
    t.equal(masto.status, 400);
    t.match(fieldError(masto, 'remote-instance'), `127.0.0.1:${mastoPort} runs mastodon, not Farthing`);
    t.match(masto.text, `value="@ann@127.0.0.1:${mastoPort}"`, 'the field keeps what was typed');
    t.match(masto.text, 'aria-invalid="true"');
    const deadPort = await freePort();
    const dead = await visitor.post('/flattr/remote', { url: uri, instance: `127.0.0.1:${deadPort}` });
    t.equal(dead.status, 404);
    t.match(fieldError(dead, 'remote-instance'), 'could not be reached');
    const nonsense = await visitor.post('/flattr/remote', { url: uri, instance: 'not an instance' });
    t.equal(nonsense.status, 400);
    t.match(fieldError(nonsense, 'remote-instance'), 'give your handle');
    t.match(textOf(nonsense), 'Flattr from your own instance');
  });

  t.test('the form is parsed by its schemas: a bad field is refused next to the instance field, nobody is sent away', async (t) => {
    const visitor = new Browser(a.app);
    await visitor.get(`/flattr/remote?${new URLSearchParams({ url: uri })}`);
    const twice = await visitor.postFields('/flattr/remote', [
      ['url', uri],
      ['instance', bHost],
      ['instance', bHost],
    ]);
    t.equal(twice.status, 400, 'a repeated instance field: 400, not a 500');
    t.match(fieldError(twice, 'remote-instance'), 'give your handle');
    t.equal(twice.location, undefined);
    const long = await visitor.post('/flattr/remote', { url: uri, instance: 'x'.repeat(301) });
    t.equal(long.status, 400);
    t.match(fieldError(long, 'remote-instance'), 'give your handle');
    const lost = await visitor.postFields('/flattr/remote', [
      ['url', uri],
      ['url', uri],
      ['instance', bHost],
    ]);
    t.equal(lost.status, 400);
    t.match(fieldError(lost, 'remote-instance'), 'nothing to flattr: the page lost its URL');
    const longUrl = await visitor.post('/flattr/remote', { url: `https://cat.example/${'a'.repeat(2000)}`, instance: bHost });
    t.match(fieldError(longUrl, 'remote-instance'), 'the page lost its URL', 'an over-long URL is not cut to another one');
    t.notMatch(longUrl.text, 'aaaaaaaaaa', 'nor written back');
    const badTitle = await visitor.postFields('/flattr/remote', [
      ['url', uri],
      ['title', 'a'],
      ['title', 'b'],
      ['instance', bHost],
    ]);
    t.equal(badTitle.status, 303, 'an unusable title is left out, as before');
    t.notMatch(badTitle.location, 'title=');
  });

  t.test('the form needs its CSRF token', async (t) => {
    const visitor = new Browser(a.app);
    await visitor.get(`/flattr/remote?${new URLSearchParams({ url: uri })}`);
    const forged = await visitor.post('/flattr/remote', { url: uri, instance: bHost }, { csrf: false });
    t.equal(forged.status, 403);
    t.equal(forged.location, undefined);
  });

  t.test('without FARTHING_ALLOW_PRIVATE_ADDRESS a private address is never contacted', async (t) => {
    const c = await startWeb(t, kind);
    const cThing = await thing(c, await c.member('dot'), 'https://dot.example/1', 'Dot');
    const visitor = c.browser();
    await visitor.get(`/flattr/remote?${new URLSearchParams({ url: `https://a.example/things/${cThing}` })}`);
    const refused = await visitor.post('/flattr/remote', { url: `https://a.example/things/${cThing}`, instance: `http://${bHost}` });
    t.equal(refused.status, 404);
    t.match(fieldError(refused, 'remote-instance'), 'could not be reached');
    let connections = 0;
    const target = createServer((_req, res) => res.end('{}'));
    target.on('connection', () => connections++);
    const port = await listen(target);
    t.teardown(() => close(target));
    for (const instance of [
      `127.0.0.1:${port}`,
      `http://[::ffff:127.0.0.1]:${port}`,
      `https://[::ffff:7f00:1]:${port}`,
      `@ann@localhost:${port}`,
      `http://[64:ff9b::7f00:1]:${port}`,
      `https://[::ffff:a9fe:a9fe]`,
    ]) {
      const answer = await visitor.post('/flattr/remote', { url: `https://a.example/things/${cThing}`, instance });
      t.ok(answer.status === 404 || answer.status === 400, `${instance}: ${answer.status}`);
      t.equal(answer.location, undefined);
    }
    t.equal(connections, 0, 'no connection was even opened to loopback');
  });

  t.test('GET /flattr?url= makes no outbound request and no row; the confirming POST finds the owner', async (t) => {
    const second = await thing(a, cat, 'https://cat.example/drawings/2', 'Cat’s second drawing');
    const hits: string[] = [];
    const site = createServer((req, res) => {
      hits.push(req.url ?? '');
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end(`<html><head><title>Cat's page</title><link rel="payment" href="${a.origin}/things/${second}"></head></html>`);
    });
    const sitePort = await listen(site);
    t.teardown(() => close(site));
    const pageUrl = `http://127.0.0.1:${sitePort}/drawings/2`;
    const rows = async () => {
      const count = async (table: 'things' | 'remote_actors' | 'flattrs') =>
        Number(
          (
            await b.ctx.db
              .selectFrom(table)
              .select((eb) => eb.fn.countAll().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        );
      return { things: await count('things'), remote_actors: await count('remote_actors'), flattrs: await count('flattrs') };
    };
    const ann = new Browser(b.app);
    await ann.signIn('ann');
    const before = await rows();
    const page = await ann.get(`/flattr?${new URLSearchParams({ url: pageUrl })}`);
    t.equal(page.status, 200);
    t.match(page.text, '<form method="post" action="/flattr">');
    t.same(hits, [], 'the GET fetched nothing');
    t.same(await rows(), before, 'and wrote no row');
    const made = await ann.post('/flattr', { url: pageUrl });
    t.equal(made.status, 303, made.text);
    t.ok(hits.includes('/drawings/2'), 'the confirming POST read the page');
    const after = await rows();
    t.equal(after.flattrs, before.flattrs + 1, 'and flattred the thing it names');
  });
});
