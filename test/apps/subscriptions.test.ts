/**
 * Subscriptions (issue 6): a member who flattred a thing subscribes to flattr it again at the
 * start of each of the next months. The instance makes those flattrs (ordinary flattrs, charged at
 * each close), pause skips a month, cancel ends it, and a wallet that no longer covers the budget
 * stops it with a notice and a webhook event.
 */

import type { Test } from 'tap';
import t from 'tap';
import type { Period } from '../../src/core/period.ts';
import { runSubscriptions } from '../../src/subscriptions/runner.ts';
import { subscriptionsDue } from '../../src/subscriptions/schedule.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { startInstance, type TestInstance, thing } from '../helpers/instance.ts';

async function close(t: Test, inst: TestInstance, period: string) {
  const r = await inst.api('POST', `/api/v1/admin/periods/${period}/close`, { token: inst.adminToken });
  t.equal(r.status, 200, `close ${period}: ${r.text.slice(0, 200)}`);
  return r.body;
}

async function flattrsOf(inst: TestInstance, token: string, period: string): Promise<string[]> {
  const r = await inst.api('GET', `/api/v1/me/flattrs?period=${period}`, { token });
  return r.body.items.map((i: { thing: { id: string } }) => i.thing.id);
}

await eachDatabase(t, async (t, kind) => {
  t.test('a subscription flattrs at each period start, is charged at each close, and stops at no_means', async (t) => {
    const inst = await startInstance(t, kind, { now: '2026-01-10T12:00:00Z' });
    const { api } = inst;
    const reader = await inst.member('reader', { deposit: '10.00', budget: '3.00' });
    const creator = await inst.member('creator', { deposit: '5.00' });
    const blog = await thing(inst, creator, 'https://creator.example/blog');
    const other = await thing(inst, creator, 'https://creator.example/other');

    t.equal(
      (await api('POST', '/api/v1/subscriptions', { token: reader, body: { thing_id: blog, months: 3 } })).body.error.code,
      'not_flattred',
      'only what one has flattred',
    );
    t.equal((await api('POST', '/api/v1/flattrs', { token: reader, body: { thing_id: blog } })).status, 201);
    const badMonths = await api('POST', '/api/v1/subscriptions', { token: reader, body: { thing_id: blog, months: 4 } });
    t.equal(badMonths.status, 400);
    t.equal(badMonths.body.error.code, 'invalid_request');
    t.match(badMonths.body.error.message, /months/);
    t.equal((await api('POST', '/api/v1/subscriptions', { body: { thing_id: blog, months: 3 } })).status, 401);

    const created = await api('POST', '/api/v1/subscriptions', { token: reader, body: { thing_id: blog, months: 3 } });
    t.equal(created.status, 201, created.text);
    t.match(created.body, { thing: { id: blog }, months: 3, first_period: '2026-02', last_period: '2026-04', state: 'active', runs: [] });
    const again = await api('POST', '/api/v1/subscriptions', { token: reader, body: { thing_id: blog, months: 6 } });
    t.equal(again.status, 409);
    t.equal(again.body.error.code, 'subscription_exists');
    t.equal((await api('POST', '/api/v1/subscriptions', { token: reader, body: { thing_id: other, months: 3 } })).body.error.code, 'not_flattred');
    const hook = await api('POST', '/api/v1/webhooks', { token: reader, body: { url: 'https://hooks.example/farthing', events: ['subscription.stopped'] } });
    t.equal(hook.status, 201, hook.text);

    t.match(await runSubscriptions(inst.ctx), { flattred: 0 }, 'nothing in the month of subscribing');

    // February: once January is closed (the reader is charged 3.00), the subscribed flattr is made.
    inst.clock.set('2026-02-01T00:05:00Z');
    t.equal(await subscriptionsDue(inst.ctx), false, 'the scheduler waits for the previous close');
    await close(t, inst, '2026-01');
    t.equal(await subscriptionsDue(inst.ctx), true);
    t.match(await runSubscriptions(inst.ctx), { period: '2026-02', flattred: 1 });
    t.match(await runSubscriptions(inst.ctx), { flattred: 0 }, 'a second run changes nothing');
    t.same(await flattrsOf(inst, reader, '2026-02'), [blog]);
    t.equal((await api('GET', '/api/v1/me', { token: reader })).body.balance, '7.00');

    // March: paused, the run skips it; resumed in the same month, the next run flattrs.
    inst.clock.set('2026-03-01T00:05:00Z');
    await close(t, inst, '2026-02');
    t.equal((await api('GET', '/api/v1/me', { token: reader })).body.balance, '4.00', 'the subscribed flattr is charged like any');
    const earned = await api('GET', '/api/v1/me/incoming?period=2026-02', { token: creator });
    t.equal(earned.body.items.length, 1, "the creator's share of the subscribed flattr");
    const id = created.body.id as string;
    t.equal((await api('POST', `/api/v1/subscriptions/${id}/pause`, { token: reader })).body.state, 'paused');
    t.equal((await api('POST', `/api/v1/subscriptions/${id}/pause`, { token: reader })).body.state, 'paused', 'pausing twice is a no-op');
    t.match(await runSubscriptions(inst.ctx), { flattred: 0 });
    t.same(await flattrsOf(inst, reader, '2026-03'), []);
    t.equal((await api('POST', `/api/v1/subscriptions/${id}/resume`, { token: reader })).body.state, 'active');
    t.match(await runSubscriptions(inst.ctx), { flattred: 1 });
    t.same(await flattrsOf(inst, reader, '2026-03'), [blog]);

    // April: after the third close the wallet (1.00) no longer covers the budget: stopped.
    inst.clock.set('2026-04-01T00:05:00Z');
    await close(t, inst, '2026-03');
    t.equal((await api('GET', '/api/v1/me', { token: reader })).body.balance, '1.00');
    t.match(await runSubscriptions(inst.ctx), { flattred: 0, stopped: 1 });
    t.match(await runSubscriptions(inst.ctx), { stopped: 0 }, 'stopped once');
    t.same(await flattrsOf(inst, reader, '2026-04'), []);
    const list = await api('GET', '/api/v1/subscriptions', { token: reader });
    t.equal(list.status, 200, list.text);
    t.match(list.body.items[0], {
      id,
      state: 'stopped',
      stop_reason: 'no_means',
      runs: [
        { period: '2026-02', outcome: 'flattred' },
        { period: '2026-03', outcome: 'flattred' },
        { period: '2026-04', outcome: 'stopped', detail: 'no_means' },
      ],
    });
    t.match(list.body.notices, [{ subscription_id: id, period: '2026-04', code: 'no_means', message: /stopped/ }]);
    const events = await inst.ctx.db.selectFrom('webhook_deliveries').select(['event', 'body']).execute();
    t.equal(events.length, 1, 'one subscription.stopped event for the hook');
    t.match(JSON.parse(events[0]?.body ?? '{}'), { event: 'subscription.stopped', data: { subscription_id: id, reason: 'no_means', period: '2026-04' } });
    t.equal((await api('POST', `/api/v1/subscriptions/${id}/resume`, { token: reader })).body.error.code, 'subscription_ended');
    // A stopped subscription no longer blocks a new one.
    t.equal((await api('POST', '/api/v1/subscriptions', { token: reader, body: { thing_id: blog, months: 3 } })).status, 201);
  });

  t.test('cancel ends it; a flattr already made this month counts as done; the last month ends it', async (t) => {
    const inst = await startInstance(t, kind, { now: '2026-05-20T12:00:00Z' });
    const { api } = inst;
    const reader = await inst.member('reader', { deposit: '50.00', budget: '2.00' });
    const creator = await inst.member('creator');
    const a = await thing(inst, creator, 'https://creator.example/a');
    const b = await thing(inst, creator, 'https://creator.example/b');
    for (const id of [a, b]) t.equal((await api('POST', '/api/v1/flattrs', { token: reader, body: { thing_id: id } })).status, 201);
    const subA = (await api('POST', '/api/v1/subscriptions', { token: reader, body: { thing_id: a, months: 3 } })).body.id as string;
    const subB = (await api('POST', '/api/v1/subscriptions', { token: reader, body: { thing_id: b, months: 3 } })).body.id as string;

    t.equal((await api('DELETE', `/api/v1/subscriptions/${subA}`, { token: reader })).status, 204);
    t.equal((await api('DELETE', `/api/v1/subscriptions/${subA}`, { token: reader })).status, 204, 'cancelling again changes nothing');
    t.equal((await api('DELETE', '/api/v1/subscriptions/00000000-0000-4000-8000-000000000000', { token: reader })).status, 404);
    const stranger = await inst.member('stranger');
    t.equal((await api('POST', `/api/v1/subscriptions/${subB}/pause`, { token: stranger })).status, 404, "another member's subscription is not found");

    inst.clock.set('2026-06-01T00:05:00Z');
    await close(t, inst, '2026-05');
    // The member clicked before the run (or a process died after the flattr, before its record).
    t.equal((await api('POST', '/api/v1/flattrs', { token: reader, body: { thing_id: b } })).status, 201);
    t.match(await runSubscriptions(inst.ctx), { flattred: 1 });
    t.same((await flattrsOf(inst, reader, '2026-06')).sort(), [b], 'nothing for the cancelled one, one flattr for the other');
    const list = (await api('GET', '/api/v1/subscriptions', { token: reader })).body.items as {
      id: string;
      state: string;
      runs: { detail: string | null }[];
    }[];
    t.equal(list.find((s) => s.id === subA)?.state, 'cancelled');
    t.match(list.find((s) => s.id === subB)?.runs, [{ detail: 'already flattred this month' }]);

    for (const period of ['2026-07', '2026-08'] as Period[]) {
      inst.clock.set(`${period}-01T00:05:00Z`);
      await runSubscriptions(inst.ctx);
    }
    inst.clock.set('2026-09-01T00:05:00Z');
    t.match(await runSubscriptions(inst.ctx), { flattred: 0, finished: 1 }, 'after its last month it is finished');
    t.same(await flattrsOf(inst, reader, '2026-08'), [b]);
    await close(t, inst, '2026-08');
  });
});
