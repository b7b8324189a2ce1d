/**
 * product rule 7: to be paid you must take part. Shares of a creator without a funded budget are
 * held for up to six closes, released at the first close in which they take part, and given to
 * the charity after that. Idle budgets go to the charity, or stay in the wallet by configuration.
 */
import t from 'tap';
import { addMonths, type Period } from '../../src/core/period.ts';
import { eachDatabaseEmbeddedToo } from '../helpers/databases.ts';
import { startInstance, thing } from '../helpers/instance.ts';

await eachDatabaseEmbeddedToo(t, async (t, kind) => {
  t.test('held while the creator does not take part, released when they do', async (t) => {
    const inst = await startInstance(t, kind, { now: '2026-01-10T00:00:00Z' });
    const { api, adminToken } = inst;
    const reader = await inst.member('reader', { deposit: '50.00', budget: '3.00' });
    const lazy = await inst.member('lazy');
    const lazyThing = await thing(inst, lazy, 'https://lazy.example/');
    t.equal((await api('POST', '/api/v1/flattrs', { token: reader, body: { thing_id: lazyThing } })).status, 201);
    inst.clock.set('2026-02-01T00:00:00Z');
    const jan = await api('POST', '/api/v1/admin/periods/2026-01/close', { token: adminToken });
    t.equal(jan.body.summary.held, '2.70', 'the creator had no funded budget: 3.00 - 10% is held');
    t.equal((await api('GET', '/api/v1/me', { token: lazy })).body.balance, '0.00');
    const incoming = await api('GET', '/api/v1/me/incoming?period=2026-01', { token: lazy });
    t.equal(incoming.body.items[0].state, 'held');
    t.equal((await api('GET', '/api/v1/me/earnings?period=2026-01', { token: lazy })).body.items[0].held, '2.70');

    // In February the creator funds a budget: at February's close the January shares are released.
    await api('POST', '/api/v1/admin/deposits', { token: adminToken, body: { username: 'lazy', amount: '2.00', reference: 'lazy-1' } });
    inst.clock.set('2026-03-01T00:00:00Z');
    const feb = await api('POST', '/api/v1/admin/periods/2026-02/close', { token: adminToken });
    t.equal(feb.body.summary.released, '2.70');
    // 2.00 deposited, 2.00 idle budget to charity (no charity named: kept in reserve), 2.70 released
    t.equal((await api('GET', '/api/v1/me', { token: lazy })).body.balance, '2.70');
    t.equal((await api('GET', '/api/v1/me/incoming?period=2026-01', { token: lazy })).body.items[0].state, 'paid');
  });

  t.test('after six closes without taking part the held shares go to the charity', async (t) => {
    const inst = await startInstance(t, kind, { now: '2026-01-10T00:00:00Z' });
    const { api, adminToken } = inst;
    const reader = await inst.member('reader', { deposit: '50.00', budget: '3.00' });
    const gone = await inst.member('gone');
    await inst.member('charity');
    t.equal((await api('PUT', '/api/v1/admin/charity', { token: adminToken, body: { username: 'charity' } })).status, 200);
    t.equal((await api('PUT', '/api/v1/admin/charity', { token: adminToken, body: { username: 'nobody' } })).status, 404);
    const goneThing = await thing(inst, gone, 'https://gone.example/');
    await api('POST', '/api/v1/flattrs', { token: reader, body: { thing_id: goneThing } });
    let period = '2026-01' as Period;
    const summaries = [];
    for (let i = 0; i <= 6; i++) {
      inst.clock.set(`${addMonths(period, 1)}-01T00:00:00Z`);
      const r = await api('POST', `/api/v1/admin/periods/${period}/close`, { token: adminToken });
      t.equal(r.status, 200);
      summaries.push(r.body.summary);
      period = addMonths(period, 1);
    }
    t.equal(summaries[0].held, '2.70');
    t.same(
      summaries.slice(1, 6).map((s) => s.expired),
      ['0.00', '0.00', '0.00', '0.00', '0.00'],
      'held through five more closes',
    );
    t.equal(summaries[6].expired, '2.70', 'the sixth close after it gives it to the charity');
    t.equal((await api('GET', '/api/v1/me/incoming?period=2026-01', { token: gone })).body.items[0].state, 'expired');
    const charityLedger = await api('GET', '/api/v1/me/ledger?period=2026-07', { token: await tokenOf(inst, 'charity') });
    t.ok(charityLedger.body.items.some((i: any) => i.kind === 'hold_expire' && i.amount === '2.70'));
  });

  t.test('idle budgets: to the charity by default; kept with FARTHING_IDLE_BUDGET=keep', async (t) => {
    for (const [mode, expected] of [
      ['charity', '8.00'],
      ['keep', '10.00'],
    ] as const) {
      const inst = await startInstance(t, kind, { env: { FARTHING_IDLE_BUDGET: mode } });
      const idle = await inst.member('idle', { deposit: '10.00' });
      inst.clock.set('2026-12-01T00:00:00Z');
      const r = await inst.api('POST', '/api/v1/admin/periods/2026-11/close', { token: inst.adminToken });
      t.equal(r.body.summary.to_charity, mode === 'charity' ? '2.00' : '0.00', mode);
      t.equal((await inst.api('GET', '/api/v1/me', { token: idle })).body.balance, expected, mode);
    }
  });

  t.test('shares to the charity pay no fee and need no budget', async (t) => {
    const inst = await startInstance(t, kind);
    const reader = await inst.member('reader', { deposit: '10.00', budget: '4.00' });
    const charity = await inst.member('charity');
    await inst.api('PUT', '/api/v1/admin/charity', { token: inst.adminToken, body: { username: 'charity' } });
    const charityThing = await thing(inst, charity, 'https://charity.example/');
    const other = await inst.member('other', { deposit: '2.00' });
    const otherThing = await thing(inst, other, 'https://other.example/');
    await inst.api('POST', '/api/v1/flattrs', { token: reader, body: { thing_id: charityThing } });
    await inst.api('POST', '/api/v1/flattrs', { token: reader, body: { thing_id: otherThing } });
    inst.clock.set('2026-12-01T00:00:00Z');
    const r = await inst.api('POST', '/api/v1/admin/periods/2026-11/close', { token: inst.adminToken });
    t.equal(r.body.summary.fees, '0.20', 'only the share to the other creator pays the fee');
    // charity: 2.00 fee-free share + other's idle budget 2.00
    t.equal((await inst.api('GET', '/api/v1/me', { token: charity })).body.balance, '4.00');
    t.equal((await inst.api('GET', '/api/v1/me', { token: other })).body.balance, '1.80');
  });

  t.test('a member cannot empty the wallet after flattring: the committed budget is charged in full', async (t) => {
    const inst = await startInstance(t, kind);
    const reader = await inst.member('reader', { deposit: '12.00', budget: '5.00' });
    const a = await inst.member('a', { deposit: '2.00' });
    const b = await inst.member('b', { deposit: '2.00' });
    const ta = await thing(inst, a, 'https://site-a.example/x');
    const tb = await thing(inst, b, 'https://b.example/x');
    await inst.api('POST', '/api/v1/flattrs', { token: reader, body: { thing_id: ta } });
    await inst.api('POST', '/api/v1/flattrs', { token: reader, body: { thing_id: tb } });
    // Issue 12: the budget is committed at the first flattr; a payout may take only what lies above it.
    const payout = await inst.api('POST', '/api/v1/me/payouts', { token: reader, body: { amount: '10.00' } });
    t.equal(payout.status, 409);
    t.equal(payout.body.error.code, 'budget_committed');
    inst.clock.set('2026-12-01T00:00:00Z');
    const r = await inst.api('POST', '/api/v1/admin/periods/2026-11/close', { token: inst.adminToken });
    t.equal(r.body.summary.charged, '9.00', 'reader 5.00 (the whole budget) + a and b idle 2.00 each');
    t.equal((await inst.api('GET', '/api/v1/me', { token: reader })).body.balance, '7.00');
    t.equal((await inst.api('GET', '/api/v1/me', { token: a })).body.balance, '2.25', 'a: 2.50 less the 10% fee');
  });
});

async function tokenOf(inst: Awaited<ReturnType<typeof startInstance>>, username: string): Promise<string> {
  return (await inst.api('POST', '/api/v1/tokens', { body: { username, password: `${username}-password` } })).body.token;
}
