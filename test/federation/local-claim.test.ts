/**
 * A claim moves money wherever it waits (issue 13), for a member of this instance: ann links the
 * Mastodon account alice by a profile field (no alias at all) and her actor lists it. The one
 * proof that verifies the link also routes money: alice's things become ann's, the share held
 * as unclaimed for alice is paid to ann at the next close, new flattrs of alice's posts are
 * booked to ann, and their Likes still reach alice's server. The ledger is checked after it.
 */
import t from 'tap';
import { eachDatabase } from '../helpers/databases.ts';
import { mastodon } from '../helpers/mastodon.ts';
import { eventually, startNetworked } from '../helpers/network.ts';

await eachDatabase(t, async (t, kind) => {
  const masto = await mastodon(t, ['alice']);
  const a = await startNetworked(t, kind, { FARTHING_NOTIFY_UNCLAIMED: 'off' });
  const ann = await a.member('ann', { deposit: '20.00', budget: '2.00' });
  const cat = await a.member('cat', { deposit: '20.00', budget: '5.00' });
  const alice = masto.actor('alice');
  const annActor = `${a.origin}/users/ann`;
  const balance = async (code: string) =>
    (
      await a.ctx.db
        .selectFrom('accounts')
        .innerJoin('account_balances', 'account_id', 'accounts.id')
        .select('balance')
        .where('code', '=', code)
        .executeTakeFirst()
    )?.balance ?? 0n;
  const annId = (await a.ctx.db.selectFrom('members').select('id').where('username', '=', 'ann').executeTakeFirstOrThrow()).id;
  let linkId = '';

  t.test("November: cat flattrs alice's post; the close holds the share as unclaimed", async (t) => {
    const made = await a.api('POST', '/api/v1/flattrs', { token: cat, body: { url: masto.status('alice', 1) } });
    t.equal(made.status, 201, made.text);
    t.equal(made.body.thing.owner.actor, alice);
    a.clock.set('2026-12-01T00:30:00Z');
    const closed = await a.api('POST', '/api/v1/admin/periods/2026-11/close', { token: a.adminToken });
    t.equal(closed.status, 200, closed.text);
    t.equal(closed.body.summary.unclaimed, '4.50');
    t.equal(await balance('unclaimed'), 4_500_000n);
  });

  t.test('verify says exactly which half is missing', async (t) => {
    const added = await a.api('POST', '/api/v1/me/links', { token: ann, body: { account: `@alice@${masto.host}` } });
    t.equal(added.status, 201, added.text);
    linkId = added.body.id;
    const pending = await a.api('POST', `/api/v1/me/links/${linkId}/verify`, { token: ann });
    t.equal(pending.status, 200, pending.text);
    t.equal(pending.body.state, 'pending');
    t.same(pending.body.proof, { account_points_to_member: false, member_lists_account: true });
    t.match(pending.body.problem, `does not point back yet: add ${annActor}`);
    const row = await a.ctx.db.selectFrom('remote_actors').select('claimed_member_id').where('iri', '=', alice).executeTakeFirstOrThrow();
    t.equal(row.claimed_member_id, null, 'one half proves nothing');
  });

  t.test("a profile field linking to ann's profile completes the proof: the account's things are ann's", async (t) => {
    masto.profiles.alice!.fields = { Flattr: `<a href="${annActor}" rel="me nofollow noopener" target="_blank">${annActor.replace('http://', '')}</a>` };
    const verified = await a.api('POST', `/api/v1/me/links/${linkId}/verify`, { token: ann });
    t.equal(verified.status, 200, verified.text);
    t.equal(verified.body.state, 'verified');
    t.same(verified.body.proof, { account_points_to_member: true, member_lists_account: true });
    const row = await a.ctx.db.selectFrom('remote_actors').select(['id', 'claimed_member_id', 'claimed_by']).where('iri', '=', alice).executeTakeFirstOrThrow();
    t.equal(row.claimed_member_id, annId, 'claimed by ann');
    const thing = await a.api('GET', `/api/v1/things/lookup?url=${encodeURIComponent(masto.status('alice', 1))}`);
    t.equal(thing.body.owner.username, 'ann', "alice's post is ann's thing now");
    t.equal(thing.body.verified, true);
    const registered = await a.api('POST', '/api/v1/things', { token: ann, body: { url: masto.status('alice', 3) } });
    t.equal(registered.status, 201, "a post of a linked, verified account is the member's to register");
    t.equal(registered.body.verified, true);
    const someoneElse = await a.api('POST', '/api/v1/things', { token: cat, body: { url: masto.status('alice', 4) } });
    t.equal(someoneElse.status, 403, "but nobody else's");
    t.equal(someoneElse.body.error.code, 'not_owner');
  });

  t.test("December: a new flattr of alice's post is booked to ann, and its Like still reaches alice's server", async (t) => {
    const made = await a.api('POST', '/api/v1/flattrs', { token: cat, body: { url: masto.status('alice', 2) } });
    t.equal(made.status, 201, made.text);
    t.equal(made.body.thing.owner.username, 'ann');
    const like = await eventually(
      async () => masto.deliveries.find((d) => d.activity?.type === 'Like' && d.activity.object === masto.status('alice', 2)),
      30_000,
      'the Like at Mastodon',
    );
    t.equal(like.verified, true, like.reason ?? 'verified');
    t.equal(like.activity.actor, `${a.origin}/users/cat`);
    const own = await a.api('POST', '/api/v1/flattrs', { token: ann, body: { url: masto.status('alice', 2) } });
    t.equal(own.status, 409);
    t.equal(own.body.error.code, 'flattr_owner', "ann cannot flattr her own account's post");
  });

  t.test("the December close pays ann the held unclaimed share and December's share", async (t) => {
    a.clock.set('2027-01-01T00:30:00Z');
    const closed = await a.api('POST', '/api/v1/admin/periods/2026-12/close', { token: a.adminToken });
    t.equal(closed.status, 200, closed.text);
    t.equal(closed.body.summary.unclaimed, '0.00');
    t.equal(closed.body.summary.unclaimed_released, '4.50');
    t.equal(closed.body.summary.owed_to_peers, '0.00');
    t.equal(closed.body.summary.paid, '4.50', "December's share to ann (funded)");
    t.equal(await balance('unclaimed'), 0n);
    // 20.00 - 2.00 - 2.00 (her own idle budgets, to the charity) + 4.50 held + 4.50 December.
    t.equal(await balance(`wallet:${annId}`), 25_000_000n);
    const held = await a.ctx.db.selectFrom('unclaimed').select(['state', 'settled_period', 'claimed_member_id', 'claimed_peer']).execute();
    t.same(held, [{ state: 'claimed', settled_period: '2026-12', claimed_member_id: annId, claimed_peer: null }]);
    const again = await a.api('POST', '/api/v1/admin/periods/2026-12/close', { token: a.adminToken });
    t.equal(again.status, 200);
    t.equal(await balance(`wallet:${annId}`), 25_000_000n, 'closing twice changes nothing');
    const check = await a.api('GET', '/api/v1/admin/ledger/check', { token: a.adminToken });
    t.equal(check.body.balanced, true);
  });

  t.test("removing the link gives the account's things back to it", async (t) => {
    const removed = await a.api('DELETE', `/api/v1/me/links/${linkId}`, { token: ann });
    t.equal(removed.status, 204);
    const thing = await a.api('GET', `/api/v1/things/lookup?url=${encodeURIComponent(masto.status('alice', 2))}`);
    t.equal(thing.body.owner.actor, alice);
    t.notOk(thing.body.owner.username);
  });
});
