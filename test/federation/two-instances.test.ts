/**
 * Two Farthing instances over real HTTP on loopback, each with its own database, signatures
 * verified by Fedify and our key guard: flattring a thing of the other instance by its IRI and by
 * a page's rel=payment link, the Like arriving as an incoming flattr, its withdrawal by Undo,
 * replays counting once, a forged key document refused, a dead peer not failing a click and the
 * delivery retried once it is back, and the close booking the shares as owed to the peer.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { exportJwk, importJwk, signRequest } from '@fedify/fedify';
import t from 'tap';
import { eachDatabaseEmbeddedToo } from '../helpers/databases.ts';
import { startInstance, thing } from '../helpers/instance.ts';
import { close, eventually, listen, type NetworkedInstance, startNetworked } from '../helpers/network.ts';

const AP = 'application/activity+json';

await eachDatabaseEmbeddedToo(t, async (t, kind) => {
  const a = await startNetworked(t, kind);
  const b = await startNetworked(t, kind);
  const ann = await a.member('ann', { deposit: '50.00', budget: '5.00' });
  const amy = await a.member('amy', { deposit: '50.00', budget: '4.00' });
  const bob = await b.member('bob', { deposit: '10.00', budget: '2.00' });
  const postId = await thing(b, bob, 'https://bob.example/posts/1', 'Bob’s first post');
  const postUri = `${b.origin}/things/${postId}`;

  const incoming = async (inst: NetworkedInstance, token: string) =>
    (await inst.api('GET', '/api/v1/me/incoming?period=2026-11', { token })).body.items as any[];
  const remoteIncoming = (items: any[]) => items.filter((i) => !i.from.startsWith(b.origin));

  t.test('a local thing is an ActivityPub object at its uri, and a page for a browser', async (t) => {
    const object = await fetch(postUri, { headers: { accept: AP } });
    t.equal(object.status, 200);
    const body = await object.json();
    t.equal(body.type, 'Page');
    t.equal(body.id, postUri);
    t.equal(body.attributedTo, `${b.origin}/users/bob`);
    t.equal(body.url, 'https://bob.example/posts/1');
    const page = await fetch(postUri, { headers: { accept: 'text/html' } });
    t.equal(page.status, 200);
    t.match(page.headers.get('content-type'), /^text\/html/);
    t.match(await page.text(), 'Bob’s first post');
  });

  let annFlattr = '';
  t.test('a flattr by IRI reaches the owner as an incoming flattr', async (t) => {
    const made = await a.api('POST', '/api/v1/flattrs', { token: ann, body: { url: postUri } });
    t.equal(made.status, 201, made.text);
    annFlattr = made.body.id;
    t.equal(made.body.thing.uri, postUri, 'the thing is known by its own IRI');
    t.equal(made.body.thing.owner.actor, `${b.origin}/users/bob`);
    t.equal(made.body.thing.title, 'Bob’s first post');
    const items = await eventually(
      async () => {
        const list = remoteIncoming(await incoming(b, bob));
        return list.length === 1 && list;
      },
      20_000,
      'the Like arriving',
    );
    t.equal(items[0].from, `${a.origin}/users/ann`);
    t.equal(items[0].state, 'pending');
    t.equal(items[0].thing.id, postId);
    const row = await b.ctx.db.selectFrom('incoming_flattrs').selectAll().executeTakeFirstOrThrow();
    t.equal(row.activity_id, `${a.origin}/flattrs/${annFlattr}`, "the Like's id is the flattr's URL");
    t.equal(row.period, '2026-11', "the period comes from the Like's context");
    t.equal(row.instance_origin, a.origin);
    const again = await a.api('POST', '/api/v1/flattrs', { token: ann, body: { url: postUri } });
    t.equal(again.status, 409);
    t.equal(again.body.error.code, 'flattr_once');
  });

  t.test('a replayed Like counts once, for good', async (t) => {
    // Forget Fedify's own one-day idempotency on B, and relay the same Like again from A.
    await b.ctx.db.deleteFrom('fedify_kv').execute();
    await a.ctx.db.updateTable('outbox').set({ relayed_at: null, claimed_until: null }).execute();
    const delivered = await a.ctx.db
      .selectFrom('fedify_messages')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirstOrThrow();
    t.ok(delivered, 'the queue is readable');
    await new Promise((r) => setTimeout(r, 3_000)); // the relay polls every 2 s; the queue delivers at once
    const rows = await b.ctx.db.selectFrom('incoming_flattrs').select('activity_id').execute();
    t.equal(rows.length, 1, 'still one incoming flattr');
  });

  t.test('a withdrawal sends Undo, and the incoming flattr goes away', async (t) => {
    const withdrawn = await a.api('DELETE', `/api/v1/flattrs/${annFlattr}`, { token: ann });
    t.equal(withdrawn.status, 204);
    await eventually(async () => remoteIncoming(await incoming(b, bob)).length === 0, 20_000, 'the Undo arriving');
    const row = await b.ctx.db.selectFrom('incoming_flattrs').select(['withdrawn_at']).executeTakeFirstOrThrow();
    t.ok(row.withdrawn_at, 'kept, marked withdrawn');
    const undo = await a.ctx.db.selectFrom('outbox').select(['activity_id', 'kind']).where('kind', '=', 'undo').executeTakeFirstOrThrow();
    t.equal(undo.activity_id, `${a.origin}/flattrs/${annFlattr}#undo`);
  });

  t.test('a web page naming a thing with rel=payment', async (t) => {
    const pageThing = await thing(b, bob, 'https://bob.example/posts/2', 'Second post');
    const blog = createServer((_req, res) =>
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end(`<!doctype html><html><head><title>Bob's blog</title><link rel="payment" href="${b.origin}/things/${pageThing}"></head><body>hi</body></html>`),
    );
    const port = await listen(blog);
    t.teardown(() => close(blog));
    const made = await a.api('POST', '/api/v1/flattrs', { token: ann, body: { url: `http://127.0.0.1:${port}/2026/11/post.html` } });
    t.equal(made.status, 201, made.text);
    t.equal(made.body.thing.uri, `${b.origin}/things/${pageThing}`, 'the page pays the thing it names');
    t.equal(made.body.thing.owner.actor, `${b.origin}/users/bob`);
    await eventually(async () => remoteIncoming(await incoming(b, bob)).some((i) => i.thing.id === pageThing), 20_000, 'the Like arriving');
  });

  t.test('without FARTHING_ALLOW_PRIVATE_ADDRESS a page on a private address is never fetched', async (t) => {
    const pageThing = await thing(b, bob, 'https://bob.example/posts/3', 'Third post');
    let hits = 0;
    const blog = createServer((_req, res) => {
      hits++;
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end(`<!doctype html><html><head><title>Bob's</title><link rel="payment" href="${b.origin}/things/${pageThing}"></head></html>`);
    });
    const port = await listen(blog);
    t.teardown(() => close(blog));
    const c = await startInstance(t, kind, { env: { FARTHING_ORIGIN: 'https://c.example' } });
    const cy = await c.member('cy', { deposit: '10.00', budget: '2.00' });
    const made = await c.api('POST', '/api/v1/flattrs', { token: cy, body: { url: `http://127.0.0.1:${port}/post.html` } });
    t.equal(hits, 0, 'nothing was sent to the private address');
    t.equal(made.status, 404, 'so no owner is found');
    t.match(made.body.error, { code: 'not_found', field: 'url' });
    t.equal((await c.ctx.db.selectFrom('flattrs').select('id').execute()).length, 0, 'and nothing is flattred');
  });

  t.test('a dead peer never fails a click; the Like is delivered once it is back', async (t) => {
    b.setDown(true);
    const made = await a.api('POST', '/api/v1/flattrs', { token: amy, body: { url: postUri } });
    t.equal(made.status, 201, 'the click succeeds while the peer is down');
    // The click only wrote the Like to the outbox: nothing was sent in its request.
    const queued = await a.ctx.db.selectFrom('outbox').select(['kind']).where('flattr_id', '=', made.body.id).execute();
    t.same(queued, [{ kind: 'like' }], 'its Like waits in the outbox');
    await new Promise((r) => setTimeout(r, 1_500)); // at least one failed attempt
    const beforeBack = await b.ctx.db.selectFrom('incoming_flattrs').select('id').where('actor_iri', '=', `${a.origin}/users/amy`).execute();
    t.equal(beforeBack.length, 0, 'nothing arrived while down');
    b.setDown(false);
    await eventually(async () => remoteIncoming(await incoming(b, bob)).some((i) => i.from === `${a.origin}/users/amy`), 40_000, 'the retried delivery');
    t.pass('delivered after the peer came back');
  });

  t.test('a key document that only claims the actor is refused', async (t) => {
    // An attacker publishes a key "owned by" ann on A, and signs a Like as ann with it.
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const evil = createServer((req, res) => {
      res.writeHead(200, { 'content-type': AP }).end(
        JSON.stringify({
          '@context': 'https://w3id.org/security/v1',
          id: `http://127.0.0.1:${(evil.address() as { port: number }).port}/key`,
          type: 'Key',
          owner: `${a.origin}/users/ann`,
          publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
        }),
      );
      req.resume();
    });
    const port = await listen(evil);
    t.teardown(() => close(evil));
    const key = await importJwk(
      await exportJwk(
        await crypto.subtle.importKey('pkcs8', privateKey.export({ type: 'pkcs8', format: 'der' }), { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, true, [
          'sign',
        ]),
      ),
      'private',
    );
    const like = {
      '@context': 'https://www.w3.org/ns/activitystreams',
      id: `${a.origin}/flattrs/${randomUUID()}`,
      type: 'Like',
      actor: `${a.origin}/users/ann`,
      object: postUri,
      context: `${a.origin}/periods/2026-11`,
    };
    const request = await signRequest(
      new Request(`${b.origin}/inbox`, { method: 'POST', headers: { 'content-type': AP }, body: JSON.stringify(like) }),
      key,
      new URL(`http://127.0.0.1:${port}/key`),
    );
    const answer = await fetch(request);
    t.equal(answer.status, 401);
    t.match(await answer.text(), 'the signing key is not on the actor');
    const forged = await b.ctx.db.selectFrom('incoming_flattrs').select('id').where('activity_id', '=', like.id).execute();
    t.same(forged, [], 'nothing recorded');
  });

  t.test('unsigned, malformed and oversized bodies are refused', async (t) => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      fetch(`${b.origin}/inbox`, { method: 'POST', headers: { 'content-type': AP, ...headers }, body });
    const unsigned = await post(JSON.stringify({ type: 'Like', id: `${a.origin}/x`, actor: `${a.origin}/users/ann`, object: postUri }));
    t.equal(unsigned.status, 401);
    t.equal((await unsigned.json()).error.code, 'unauthorized');
    const malformed = await post('{"type": "Like",');
    t.equal(malformed.status, 400);
    const big = await post(JSON.stringify({ type: 'Like', padding: 'x'.repeat(300 * 1024) }));
    t.equal(big.status, 413);
    t.equal((await big.json()).error.code, 'payload_too_large');
  });

  t.test("the close books shares for the peer's creators as owed to that instance", async (t) => {
    const peer = await a.ctx.db.selectFrom('remote_actors').select(['software', 'instance_origin']).executeTakeFirstOrThrow();
    t.equal(peer.software, 'farthing', 'NodeInfo said so');
    a.clock.set('2026-12-01T00:30:00Z');
    const closed = await a.api('POST', '/api/v1/admin/periods/2026-11/close', { token: a.adminToken });
    t.equal(closed.status, 200, closed.text);
    // ann: 5.00 over one flattr (the page's thing); amy: 4.00 over one (bob's post). Fee 10%.
    t.equal(closed.body.summary.owed_to_peers, '8.10');
    t.equal(closed.body.summary.fees, '0.90');
    const account = await a.ctx.db
      .selectFrom('accounts')
      .innerJoin('account_balances', 'account_balances.account_id', 'accounts.id')
      .select(['accounts.type', 'account_balances.balance'])
      .where('accounts.code', '=', `peer:${b.origin}`)
      .executeTakeFirstOrThrow();
    t.same(account, { type: 'peer', balance: 8_100_000n });
  });
});
