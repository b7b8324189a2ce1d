/**
 * Unclaimed money is visible and its creators are told (issue 13): after a close holds a share
 * for the Mastodon account alice, the admin sees it (GET /api/v1/admin/unclaimed and the page),
 * a public page says how much waits, until when and how to claim it, and the instance actor
 * sends alice one direct message — a Create of a Note addressed to alice only, mentioning her —
 * which the Mastodon-shaped server verifies and reads as a direct message. Deciding again sends
 * nothing more; a month before the money expires, one reminder. The ledger is checked after it.
 */
import t from 'tap';
import { relayOutbox } from '../../src/activitypub/outbox.ts';
import { loadConfig } from '../../src/config.ts';
import { addMonths } from '../../src/core/period.ts';
import { noticeUnclaimed } from '../../src/links/unclaimed.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { mastodon } from '../helpers/mastodon.ts';
import { eventually, startNetworked } from '../helpers/network.ts';
import { Browser, textOf } from '../helpers/web.ts';

t.test('FARTHING_NOTIFY_UNCLAIMED is on or off, nothing else', async (t) => {
  t.equal(loadConfig({}).notifyUnclaimed, true, 'on by default');
  t.equal(loadConfig({ FARTHING_NOTIFY_UNCLAIMED: 'off' }).notifyUnclaimed, false);
  t.throws(() => loadConfig({ FARTHING_NOTIFY_UNCLAIMED: 'maybe' }), /FARTHING_NOTIFY_UNCLAIMED/);
});

await eachDatabase(t, async (t, kind) => {
  const masto = await mastodon(t, ['alice']);
  const a = await startNetworked(t, kind);
  const cat = await a.member('cat', { deposit: '50.00', budget: '5.00' });
  const alice = masto.actor('alice');
  const handle = `@alice@${masto.host}`;
  const dms = () => masto.deliveries.filter((d) => d.activity?.type === 'Create');

  t.test("the close holds alice's share; the admin and a public page show it", async (t) => {
    const made = await a.api('POST', '/api/v1/flattrs', { token: cat, body: { url: masto.status('alice', 1) } });
    t.equal(made.status, 201, made.text);
    a.clock.set('2026-12-01T00:30:00Z');
    const closed = await a.api('POST', '/api/v1/admin/periods/2026-11/close', { token: a.adminToken });
    t.equal(closed.status, 200, closed.text);
    t.equal(closed.body.summary.unclaimed, '4.50');

    const list = await a.api('GET', '/api/v1/admin/unclaimed', { token: a.adminToken });
    t.equal(list.status, 200, list.text);
    t.match(list.body.items, [{ account: alice, handle, amount: '4.50', flattrs: 1, periods: ['2026-11'], expires: '2027-05' }]);
    t.equal(list.body.items.length, 1);
    t.equal((await a.api('GET', '/api/v1/admin/unclaimed', { token: cat })).status, 403, 'admins only');
    t.equal((await a.api('GET', '/api/v1/admin/unclaimed')).status, 401);

    const publicPage = await a.app.inject({ url: `/unclaimed/${encodeURIComponent(alice)}` });
    t.equal(publicPage.statusCode, 200);
    t.match(publicPage.body, '4.50 EUR');
    t.match(publicPage.body, 'until the close of 2027-05');
    t.match(publicPage.body, 'How to claim it');
    const nothing = await a.app.inject({ url: `/unclaimed/${encodeURIComponent('https://nobody.example/users/x')}` });
    t.equal(nothing.statusCode, 404);
    t.match(nothing.body, 'No money waits');

    const admin = new Browser(a.app);
    await admin.signIn('admin');
    const adminPage = await admin.get('/admin/unclaimed');
    t.equal(adminPage.status, 200);
    t.match(textOf(adminPage), handle);
    t.match(textOf(adminPage), '2027-05');
  });

  t.test('alice gets one direct message, as Mastodon reads it', async (t) => {
    const delivery = await eventually(async () => dms()[0], 30_000, 'the message at Mastodon');
    t.same({ verified: delivery.verified, reason: delivery.reason }, { verified: true, reason: undefined }, 'signed by the instance actor');
    t.equal(delivery.inbox, '/users/alice/inbox', "to alice's own inbox");
    const create = delivery.activity;
    t.equal(create.actor, `${a.origin}/actor`);
    t.same([create.to].flat(), [alice], 'the Create is addressed to alice only');
    t.notOk(create.cc, 'no cc');
    const note = create.object;
    t.equal(note.type, 'Note');
    t.equal(note.attributedTo, `${a.origin}/actor`);
    t.same([note.to].flat(), [alice], 'the Note is addressed to alice only: no Public, no followers');
    t.notOk(note.cc);
    t.same([note.tag].flat(), [{ type: 'Mention', href: alice, name: handle }]);
    t.same(delivery.status, { visibility: 'direct', mentions: [alice], accepted: true }, 'a direct message Mastodon accepts');
    t.match(note.content, '4.50 EUR');
    t.match(note.content, 'until the close of 2027-05');
    t.match(note.content, `${a.origin}/unclaimed/${encodeURIComponent(alice)}`);
    t.match(note.content, 'link this account to your profile on any Farthing instance');

    // Its id dereferences, as a direct message does: for alice's server, signed; for nobody else.
    const signed = await masto.signedGet(note.id, 'alice');
    t.equal(signed.status, 200, "alice's server, signed: the Note");
    const served = (await signed.json()) as Record<string, unknown>;
    t.match(served, { id: note.id, type: 'Note', attributedTo: `${a.origin}/actor`, content: note.content, to: alice });
    t.ok(served.published, 'with the time it was written');
    t.equal((await fetch(note.id, { headers: { accept: 'application/activity+json' } })).status, 401, 'unsigned: 401');
    const stranger = await mastodon(t, ['eve']);
    t.equal((await stranger.signedGet(note.id, 'eve')).status, 401, 'another server, signed: 401');
    t.equal((await masto.signedGet(`${a.origin}/notices/999999`, 'alice')).status, 404, 'no such message: 404');

    t.equal(await noticeUnclaimed(a.ctx), 0, 'deciding again this month: nothing');
    a.clock.set('2027-01-01T00:30:00Z');
    t.equal((await a.api('POST', '/api/v1/admin/periods/2026-12/close', { token: a.adminToken })).status, 200);
    t.equal(await noticeUnclaimed(a.ctx), 0, 'told already; not expiring yet');
    await relayOutbox(a.ctx);
    t.equal(dms().length, 1, 'one message');
    const rows = await a.ctx.db.selectFrom('unclaimed_notices').select(['kind', 'month', 'since', 'amount', 'expires']).execute();
    t.same(rows, [{ kind: 'first', month: '2026-12', since: '2026-11', amount: 4_500_000n, expires: '2027-05' }]);
  });

  t.test('a month before it expires: one reminder; switched off: none', async (t) => {
    let period = '2026-12';
    while (period < '2027-04') {
      period = addMonths(period as never, 1);
      a.clock.set(`${addMonths(period as never, 1)}-01T00:30:00Z`);
      const closed = await a.api('POST', `/api/v1/admin/periods/${period}/close`, { token: a.adminToken });
      t.equal(closed.status, 200, closed.text);
    }
    const reminder = await eventually(async () => dms()[1], 30_000, 'the reminder at Mastodon');
    t.equal(reminder.verified, true);
    t.match(reminder.activity.object.content, 'last reminder');
    t.equal(reminder.status?.visibility, 'direct');
    t.equal(await noticeUnclaimed(a.ctx), 0);
    const kinds = await a.ctx.db.selectFrom('unclaimed_notices').select(['kind', 'month']).orderBy('id').execute();
    t.same(kinds, [
      { kind: 'first', month: '2026-12' },
      { kind: 'expiring', month: '2027-05' },
    ]);
    await a.ctx.db.deleteFrom('outbox').where('kind', '=', 'notice').execute();
    await a.ctx.db.deleteFrom('unclaimed_notices').execute();
    t.equal(await noticeUnclaimed({ ...a.ctx, config: { ...a.ctx.config, notifyUnclaimed: false } }), 0, 'FARTHING_NOTIFY_UNCLAIMED=off decides nothing');
    t.equal(
      await a.ctx.db
        .selectFrom('unclaimed_notices')
        .select('id')
        .execute()
        .then((r) => r.length),
      0,
    );
  });
});
