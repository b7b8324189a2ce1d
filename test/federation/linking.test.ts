/**
 * Linking a fediverse account, over real HTTP on loopback: two Farthing instances (A, where ann
 * flattrs; B, where bob lives) and a Mastodon-shaped server where bob's account alice lives.
 * The link needs both directions: alice's profile pointing at bob's actor, and bob's actor
 * listing alice in alsoKnownAs. One direction alone verifies nothing and routes nothing. Once
 * linked, A's flattr of alice's post reaches bob on B as an incoming flattr, A's close owes it
 * to B, and alice's shares held as unclaimed from before the link move to B at that close.
 */
import t from 'tap';
import { CLAIMS_WORKER, refreshClaims } from '../../src/links/claims.ts';
import { wakeWorker } from '../../src/worker.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { AP, mastodon } from '../helpers/mastodon.ts';
import { eventually, openFront, startNetworked } from '../helpers/network.ts';
import { Browser, fieldError, textOf } from '../helpers/web.ts';

await eachDatabase(t, async (t, kind) => {
  const masto = await mastodon(t, ['alice', 'zed']);
  // A web page naming its author by handle, as Mastodon's "author attribution" asks.
  masto.pages['/blog/1'] =
    `<!doctype html><html><head><title>Alice's blog</title><meta name="fediverse:creator" content="@alice@${masto.host}"></head><body>Hello</body></html>`;
  /** What reached the server's inboxes. */
  const received = () => masto.deliveries.map((d) => d.activity);
  // A and B trust each other for settlement (FARTHING_PEERS), as two instances that settle do.
  const [frontA, frontB] = [await openFront(t), await openFront(t)];
  const a = await startNetworked(t, kind, { FARTHING_PEERS: frontB.origin }, frontA);
  const b = await startNetworked(t, kind, { FARTHING_PEERS: frontA.origin }, frontB);
  const ann = await a.member('ann', { deposit: '50.00', budget: '5.00' });
  const bob = await b.member('bob', { deposit: '10.00', budget: '2.00' });
  const alice = `${masto.origin}/users/alice`;
  const bobActor = `${b.origin}/users/bob`;
  const status = (n: number) => `${masto.origin}/users/alice/statuses/${n}`;
  const actorDoc = async (iri: string) => (await fetch(iri, { headers: { accept: AP } })).json() as Promise<any>;
  const aliasesOf = (doc: any): string[] => [doc.alsoKnownAs ?? []].flat();
  let linkId = '';

  t.test('the API refuses what is not an account elsewhere', async (t) => {
    const bad = await b.api('POST', '/api/v1/me/links', { token: bob, body: { account: 'not a handle' } });
    t.equal(bad.status, 400);
    t.equal(bad.body.error.code, 'invalid_request');
    const own = await b.api('POST', '/api/v1/me/links', { token: bob, body: { account: `${b.origin}/users/admin` } });
    t.equal(own.status, 400, 'an account on this instance');
    const nobody = await b.api('POST', '/api/v1/me/links', { token: bob, body: { account: `@nobody@${masto.host}` } });
    t.equal(nobody.status, 404);
    t.equal(nobody.body.error.code, 'not_found');
    const anon = await b.api('GET', '/api/v1/me/links');
    t.equal(anon.status, 401);
  });

  t.test('one direction only (alice names bob, bob does not name alice): nothing is routed', async (t) => {
    masto.profiles.alice!.alsoKnownAs = [bobActor];
    const made = await a.api('POST', '/api/v1/flattrs', { token: ann, body: { url: status(1) } });
    t.equal(made.status, 201, made.text);
    t.equal(made.body.thing.owner.actor, alice);
    const row = await a.ctx.db.selectFrom('remote_actors').select(['claimed_by', 'software']).where('iri', '=', alice).executeTakeFirstOrThrow();
    t.same(row, { claimed_by: null, software: 'mastodon' }, 'not claimed');
    await eventually(async () => received().some((x) => x.type === 'Like' && x.object === status(1)), 20_000, 'the Like reaching Mastodon');
    t.notOk(
      received().some((x) => x.object === status(1) && x.to === bobActor),
      'not sent to bob',
    );
    masto.profiles.alice!.alsoKnownAs = [];
  });

  t.test('the close holds the unclaimed share', async (t) => {
    a.clock.set('2026-12-01T00:30:00Z');
    b.clock.set('2026-12-01T00:30:00Z');
    const closed = await a.api('POST', '/api/v1/admin/periods/2026-11/close', { token: a.adminToken });
    t.equal(closed.status, 200, closed.text);
    t.equal(closed.body.summary.unclaimed, '4.50');
    t.equal(closed.body.summary.owed_to_peers, '0.00');
  });

  t.test("bob links alice by handle: pending, and listed in his actor's alsoKnownAs at once", async (t) => {
    const added = await b.api('POST', '/api/v1/me/links', { token: bob, body: { account: `@alice@${masto.host}` } });
    t.equal(added.status, 201, added.text);
    t.equal(added.body.account, alice);
    t.equal(added.body.handle, `@alice@${masto.host}`);
    t.equal(added.body.state, 'pending');
    t.equal(added.body.verified_at, null);
    linkId = added.body.id;
    const again = await b.api('POST', '/api/v1/me/links', { token: bob, body: { account: alice } });
    t.equal(again.status, 201);
    t.equal(again.body.id, linkId, 'the same account by IRI is the same link');
    t.same(aliasesOf(await actorDoc(bobActor)), [alice]);
    const list = await b.api('GET', '/api/v1/me/links', { token: bob });
    t.equal(list.status, 200);
    t.same(
      list.body.items.map((i: any) => [i.account, i.state]),
      [[alice, 'pending']],
    );
  });

  t.test('verify: alice does not point back yet, so it stays pending', async (t) => {
    const verified = await b.api('POST', `/api/v1/me/links/${linkId}/verify`, { token: bob });
    t.equal(verified.status, 200, verified.text);
    t.equal(verified.body.state, 'pending');
    t.match(verified.body.problem, 'does not point back');
    const other = await b.member('carl');
    const foreign = await b.api('POST', `/api/v1/me/links/${linkId}/verify`, { token: other });
    t.equal(foreign.status, 404, "nobody else's link");
  });

  t.test("verify: a profile field linking to bob's actor proves it", async (t) => {
    masto.profiles.alice!.fields = {
      Farthing: `<a href="${bobActor}" rel="me nofollow noopener" target="_blank">${b.origin.replace('http://', '')}/users/bob</a>`,
    };
    const verified = await b.api('POST', `/api/v1/me/links/${linkId}/verify`, { token: bob });
    t.equal(verified.status, 200, verified.text);
    t.equal(verified.body.state, 'verified');
    t.ok(verified.body.verified_at);
    t.notOk(verified.body.problem);
  });

  t.test("both directions: A's flattr of alice's post reaches bob on B as an incoming flattr", async (t) => {
    masto.profiles.alice!.alsoKnownAs = [bobActor];
    const made = await a.api('POST', '/api/v1/flattrs', { token: ann, body: { url: status(2) } });
    t.equal(made.status, 201, made.text);
    const row = await a.ctx.db.selectFrom('remote_actors').select(['claimed_by']).where('iri', '=', alice).executeTakeFirstOrThrow();
    t.equal(row.claimed_by, bobActor, 'A records that bob claims alice');
    const items = await eventually(
      async () => {
        const list = (await b.api('GET', '/api/v1/me/incoming?period=2026-12', { token: bob })).body.items as any[];
        return list.length === 1 && list;
      },
      20_000,
      'the Like arriving at B',
    );
    t.equal(items[0].from, `${a.origin}/users/ann`);
    t.equal(items[0].state, 'pending');
    const thing = await b.ctx.db
      .selectFrom('things')
      .select(['owner_member_id', 'owner_actor_id', 'uri'])
      .where('uri', '=', status(2))
      .executeTakeFirstOrThrow();
    t.equal(thing.owner_actor_id, null, "on B the post is bob's thing");
    t.ok(thing.owner_member_id);
    // The post's server gets the Like too, so alice sees the favourite (issue 13).
    await eventually(async () => received().some((x) => x.type === 'Like' && x.object === status(2)), 20_000, 'the Like reaching Mastodon as well');
  });

  t.test("A's close owes the share to B, and alice's held unclaimed share moves to B", async (t) => {
    a.clock.set('2027-01-01T00:30:00Z');
    b.clock.set('2027-01-01T00:30:00Z');
    const closed = await a.api('POST', '/api/v1/admin/periods/2026-12/close', { token: a.adminToken });
    t.equal(closed.status, 200, closed.text);
    // December's share (4.50) and November's held unclaimed share (4.50), both now B's.
    t.equal(closed.body.summary.owed_to_peers, '9.00');
    t.equal(closed.body.summary.unclaimed, '0.00');
    const balance = async (code: string) =>
      (
        await a.ctx.db
          .selectFrom('accounts')
          .innerJoin('account_balances', 'account_id', 'accounts.id')
          .select('balance')
          .where('code', '=', code)
          .executeTakeFirst()
      )?.balance ?? 0n;
    t.equal(await balance(`peer:${b.origin}`), 9_000_000n, "December's 4.50 and November's held 4.50");
    t.equal(await balance('unclaimed'), 0n);
    t.equal(await balance(`peer:${masto.origin}`), 0n, 'nothing owed to the Mastodon server');
    const held = await a.ctx.db.selectFrom('unclaimed').select(['state', 'settled_period', 'claimed_peer', 'claimed_creator']).execute();
    t.same(held, [{ state: 'claimed', settled_period: '2026-12', claimed_peer: b.origin, claimed_creator: bobActor }]);
  });

  t.test('A states both shares to B — the claimed one as held shares of alice — B credits bob, and the net settles', async (t) => {
    const onB = await eventually(
      async () => {
        const s = (await b.api('GET', '/api/v1/admin/statements?direction=in&period=2026-12', { token: b.adminToken })).body.items[0];
        return s?.state === 'accepted' && s;
      },
      30_000,
      "A's statement accepted at B",
    );
    t.equal(onB.total, '9.00');
    const doc = JSON.parse((await b.api('GET', `/api/v1/admin/statements/${onB.id.split('/').pop()}`, { token: b.adminToken })).text);
    t.same(
      doc.lines.map((l: any) => [l.n, l.creator, l.account, l.flattrCount, l.amount]),
      [
        [1, bobActor, undefined, 1, '4500000'],
        [2, bobActor, alice, 1, '4500000'],
      ],
      "December's flattr, then November's held share of alice",
    );
    // Credits from a peer are pending until the settlement (issue 12): one pending credit per line.
    const credited = await b.ctx.db
      .selectFrom('pending_credits')
      .select((eb) => eb.fn.sum<bigint>('amount').as('total'))
      .where('member_id', '=', (await b.ctx.db.selectFrom('members').select('id').where('username', '=', 'bob').executeTakeFirstOrThrow()).id)
      .executeTakeFirstOrThrow();
    t.equal(BigInt(credited.total), 9_000_000n, 'bob credited both shares (pending until the settlement)');

    // B closes December too: its (empty) statement to A lets both sides net the month.
    const closedB = await b.api('POST', '/api/v1/admin/periods/2026-12/close', { token: b.adminToken });
    t.equal(closedB.status, 200, closedB.text);
    const settlement = (inst: typeof a, peer: string) =>
      eventually(
        async () => {
          const s = (await inst.api('GET', `/api/v1/admin/settlements?peer=${encodeURIComponent(peer)}&period=2026-12`, { token: inst.adminToken })).body
            .items[0];
          return (s?.state === 'accepted' || s?.state === 'paid' || s?.state === 'settled') && s;
        },
        30_000,
        'the settlement accepted',
      );
    const onA = await settlement(a, b.origin);
    t.match(onA, { payable: '9.00', receivable: '0.00', net: '9.00', debtor: 'us', state: 'accepted' });
    const paid = await a.api('POST', `/api/v1/admin/settlements/${onA.id}/paid`, { token: a.adminToken, body: { reference: 'SEPA-CLAIM' } });
    t.equal(paid.status, 200, paid.text);
    const onBSettlement = await eventually(
      async () => {
        const s = await settlement(b, a.origin);
        return s.state === 'paid' && s;
      },
      20_000,
      'B told of the payment',
    );
    t.equal((await b.api('POST', `/api/v1/admin/settlements/${onBSettlement.id}/confirm`, { token: b.adminToken })).status, 200);
    const peerBalance = async (inst: typeof a, peer: string) =>
      (await inst.api('GET', '/api/v1/admin/peers', { token: inst.adminToken })).body.items.find((p: any) => p.origin === peer)?.balance;
    t.equal(await peerBalance(a, b.origin), '0.00', 'A owes B nothing more: the claimed share left through the settlement');
    await eventually(async () => (await settlement(a, b.origin)).state === 'settled', 20_000, 'settled on both sides');
    t.equal(await peerBalance(b, a.origin), '0.00');
  });

  t.test('refreshClaims sees a claim end (and come back) without a new flattr', async (t) => {
    // Neither an alias nor a profile field names bob now (one proof, issue 13).
    masto.profiles.alice!.alsoKnownAs = [];
    const fields = masto.profiles.alice!.fields;
    masto.profiles.alice!.fields = {};
    t.same(await refreshClaims(a.ctx), { changed: 1, next: 0n });
    const gone = await a.ctx.db.selectFrom('remote_actors').select('claimed_by').where('iri', '=', alice).executeTakeFirstOrThrow();
    t.equal(gone.claimed_by, null, 'alice no longer names bob: not claimed');
    masto.profiles.alice!.alsoKnownAs = [bobActor];
    masto.profiles.alice!.fields = fields;
    // The instance's own worker (every six hours, and when woken) finds it again.
    wakeWorker(a.ctx, CLAIMS_WORKER);
    await eventually(
      async () => (await a.ctx.db.selectFrom('remote_actors').select('claimed_by').where('iri', '=', alice).executeTakeFirstOrThrow()).claimed_by === bobActor,
      20_000,
      'the scheduled refresh',
    );
    t.same(await refreshClaims(a.ctx), { changed: 0, next: 0n }, 'nothing changed since');
    // A page at a time: with a page of one, the next call goes on after that account.
    const one = await refreshClaims(a.ctx, 1);
    const aliceId = (await a.ctx.db.selectFrom('remote_actors').select('id').where('iri', '=', alice).executeTakeFirstOrThrow()).id;
    t.same(one, { changed: 0, next: aliceId });
    t.same(await refreshClaims(a.ctx, 1, one.next), { changed: 0, next: 0n }, 'and then starts over');
  });

  t.test('removing a link takes it out of alsoKnownAs', async (t) => {
    const added = await b.api('POST', '/api/v1/me/links', { token: bob, body: { account: `${masto.origin}/users/zed` } });
    t.equal(added.status, 201, added.text);
    t.same(aliasesOf(await actorDoc(bobActor)).sort(), [alice, `${masto.origin}/users/zed`].sort());
    const removed = await b.api('DELETE', `/api/v1/me/links/${added.body.id}`, { token: bob });
    t.equal(removed.status, 204);
    t.same(aliasesOf(await actorDoc(bobActor)), [alice]);
    const gone = await b.api('DELETE', `/api/v1/me/links/${added.body.id}`, { token: bob });
    t.equal(gone.status, 404);
  });

  t.test('a web page naming its author with fediverse:creator: the flattr goes to that account (here claimed by bob)', async (t) => {
    const made = await a.api('POST', '/api/v1/flattrs', { token: ann, body: { url: `${masto.origin}/blog/1` } });
    t.equal(made.status, 201, made.text);
    t.equal(made.body.thing.title, "Alice's blog");
    const owner = await a.ctx.db
      .selectFrom('things')
      .innerJoin('remote_actors', 'remote_actors.id', 'things.owner_actor_id')
      .select(['remote_actors.iri', 'remote_actors.claimed_by'])
      .where('things.url', '=', `${masto.origin}/blog/1`)
      .executeTakeFirstOrThrow();
    t.same(owner, { iri: alice, claimed_by: bobActor }, 'found through WebFinger');
  });

  t.test('the /settings/links page: list, add with errors next to the field, verify, remove', async (t) => {
    const browser = new Browser(b.app);
    await browser.signIn('bob');
    const list = await browser.get('/settings/links');
    t.equal(list.status, 200);
    t.match(textOf(list), `@alice@${masto.host}`);
    t.match(textOf(list), 'verified');
    t.match(list.text, '<label for="account">Fediverse account</label>');
    t.match(list.text, bobActor, 'says which address to put on the account');
    const bad = await browser.post('/settings/links', { account: `@nobody@${masto.host}` });
    t.equal(bad.status, 404);
    t.match(fieldError(bad, 'account'), 'no fediverse account was found');
    const added = await browser.post('/settings/links', { account: `@zed@${masto.host}` });
    t.equal(added.status, 303);
    t.equal(added.location, '/settings/links?done=added');
    const zed = await b.ctx.db.selectFrom('member_links').select('id').where('actor_iri', '=', `${masto.origin}/users/zed`).executeTakeFirstOrThrow();
    await browser.get('/settings/links');
    const pending = await browser.post(`/settings/links/${zed.id}/verify`);
    t.equal(pending.status, 200);
    t.match(textOf(pending), 'does not point back yet');
    const forged = await browser.post(`/settings/links/${zed.id}/remove`, {}, { csrf: false });
    t.equal(forged.status, 403, 'CSRF-protected');
    const removed = await browser.post(`/settings/links/${zed.id}/remove`);
    t.equal(removed.status, 303);
    t.same(aliasesOf(await actorDoc(bobActor)), [alice]);
  });
});
