/**
 * Flattring a plain Mastodon user's post. The "Mastodon" here is test/helpers/mastodon.ts: a
 * small HTTP server serving the documents Mastodon serves and checking each delivery to its
 * inbox as Mastodon does (signature, digest, date, key owner).
 *
 * Then the close: nobody claims the account, so its shares wait as unclaimed for six closes and
 * then go to the charity.
 */
import t from 'tap';
import { addMonths } from '../../src/core/period.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { mastodon } from '../helpers/mastodon.ts';
import { eventually, startNetworked } from '../helpers/network.ts';

await eachDatabase(t, async (t, kind) => {
  const masto = await mastodon(t);
  const a = await startNetworked(t, kind);
  const ann = await a.member('ann', { deposit: '50.00', budget: '5.00' });
  const note = `${masto.origin}/users/alice/statuses/1`;

  t.test('the Like a Mastodon server receives verifies as Mastodon verifies it', async (t) => {
    const made = await a.api('POST', '/api/v1/flattrs', { token: ann, body: { url: note } });
    t.equal(made.status, 201, made.text);
    t.equal(made.body.thing.owner.actor, `${masto.origin}/users/alice`, "the owner is the Note's attributedTo");
    t.equal(made.body.thing.owner.handle, `@alice@127.0.0.1:${new URL(masto.origin).port}`);
    t.equal(made.body.thing.uri, note);
    t.equal(made.body.thing.title, 'A toot worth a flattr');
    const delivery = await eventually(async () => masto.deliveries[0], 20_000, 'the delivery');
    t.same({ verified: delivery.verified, reason: delivery.reason }, { verified: true, reason: undefined }, 'Mastodon accepts the signature');
    const like = delivery.activity;
    t.equal(like.type, 'Like');
    t.equal(like.id, `${a.origin}/flattrs/${made.body.id}`, "its id is the flattr's URL");
    t.equal(like.actor, `${a.origin}/users/ann`);
    t.equal(like.object, note);
    t.equal(like.context, `${a.origin}/periods/2026-11`, 'its context names the period');
    for (const field of ['content', 'name', 'tag', 'contentMap', 'nameMap']) t.notOk(field in like, `no ${field}`);
  });

  t.test("nobody claims the account: its shares are unclaimed for six closes, then the charity's", async (t) => {
    const actor = await a.ctx.db.selectFrom('remote_actors').select(['software']).executeTakeFirstOrThrow();
    t.equal(actor.software, 'mastodon');
    a.clock.set('2026-12-01T00:30:00Z');
    const closed = await a.api('POST', '/api/v1/admin/periods/2026-11/close', { token: a.adminToken });
    t.equal(closed.status, 200, closed.text);
    t.equal(closed.body.summary.unclaimed, '4.50');
    t.equal(closed.body.summary.owed_to_peers, '0.00');
    t.equal(closed.body.summary.fees, '0.50');
    const balance = async (code: string) =>
      (
        await a.ctx.db
          .selectFrom('accounts')
          .innerJoin('account_balances', 'account_id', 'accounts.id')
          .select('balance')
          .where('code', '=', code)
          .executeTakeFirst()
      )?.balance ?? 0n;
    t.equal(await balance('unclaimed'), 4_500_000n);
    // ann keeps no budget going (charity takes idle budgets); the unclaimed shares just wait.
    let period = '2026-11';
    for (let i = 1; i <= 6; i++) {
      period = addMonths(period as never, 1);
      a.clock.set(`${addMonths(period as never, 1)}-01T00:30:00Z`);
      const next = await a.api('POST', `/api/v1/admin/periods/${period}/close`, { token: a.adminToken });
      t.equal(next.status, 200, next.text);
      if (i < 6) t.equal(await balance('unclaimed'), 4_500_000n, `still waiting after ${i} more closes`);
    }
    t.equal(await balance('unclaimed'), 0n, 'after six closes it is gone from unclaimed');
    const expired = await a.ctx.db.selectFrom('transfers').select(['amount']).where('kind', '=', 'unclaimed_expire').execute();
    t.same(
      expired.map((r) => r.amount),
      [4_500_000n],
      'to the charity',
    );
    const rows = await a.ctx.db.selectFrom('unclaimed').select(['state', 'settled_period']).execute();
    t.same(rows, [{ state: 'expired', settled_period: period }]);
  });
});
