/**
 * The honest path between two instances that trust each other (FARTHING_PEERS), over real HTTP:
 * after both closes the statements cross and are accepted, the creators' credits are pending
 * (not spendable: no payout takes them), the debtor pays the net and the creditor confirms it,
 * and then both sides' credits are spendable — the creditor's because the money arrived, the
 * debtor's because its payment netted what the peer owed it. Both ledgers balanced at every step.
 */
import t from 'tap';
import { eachDatabase } from '../helpers/databases.ts';
import { eventually } from '../helpers/network.ts';
import { balanced, closeBoth, pair, settlementOf } from '../helpers/settlement.ts';

const period = '2026-11';

await eachDatabase(t, async (t, kind) => {
  t.test('statements from a trusted peer: credits pending until the settlement, then spendable', async (t) => {
    const { a, b, carl, bob } = await pair(t, kind);
    const me = async (inst: typeof a, token: string) => (await inst.api('GET', '/api/v1/me', { token })).body;
    await closeBoth(t, a, b, period, '2026-12-01T00:30:00Z');
    const onA = await eventually(
      async () => {
        const s = await settlementOf(a, b, period);
        return s?.state === 'accepted' && s;
      },
      30_000,
      "A's settlement accepted",
    );
    const onB = await eventually(
      async () => {
        const s = await settlementOf(b, a, period);
        return s?.state === 'accepted' && s;
      },
      30_000,
      "B's settlement accepted",
    );
    t.match(onA, { net: '1.80', debtor: 'us' });
    await balanced(t, a, 'after acceptance');
    await balanced(t, b, 'after acceptance');

    t.match(
      await me(b, bob),
      { balance: '8.00', pending: '4.50', pending_credits: [{ peer: a.origin, period, amount: '4.50' }] },
      'bob: 10.00 - 2.00 charged; 4.50 from A pending',
    );
    t.match(await me(a, carl), { balance: '8.00', pending: '2.70' }, 'carl: 2.70 from B pending');
    const peersB = (await b.api('GET', '/api/v1/admin/peers', { token: b.adminToken })).body.items;
    t.match(peersB, [{ origin: a.origin, state: 'trusted', pending: '4.50', credit_line: '0.00', balance: '-1.80', software: 'farthing' }]);
    const early = await b.api('POST', '/api/v1/me/payouts', { token: bob, body: { amount: '12.00' } });
    t.equal(early.body.error.code, 'insufficient_funds', 'pending credits are not paid out');
    const dashboard = (await b.api('GET', `/api/v1/me/earnings?period=${period}`, { token: bob })).body;
    t.same(dashboard.from_peers, [{ peer: a.origin, amount: '4.50', state: 'pending' }]);

    const paid = await a.api('POST', `/api/v1/admin/settlements/${onA.id}/paid`, { token: a.adminToken, body: { reference: 'SEPA-1' } });
    t.equal(paid.status, 200, paid.text);
    await eventually(async () => (await settlementOf(b, a, period))?.state === 'paid', 20_000, 'B told of the payment');
    t.equal((await me(b, bob)).pending, '4.50', 'still pending: paid is not received');
    await balanced(t, a, 'after paying');
    await balanced(t, b, 'after being told of the payment');

    const confirmed = await b.api('POST', `/api/v1/admin/settlements/${onB.id}/confirm`, { token: b.adminToken });
    t.equal(confirmed.status, 200, confirmed.text);
    t.match(await me(b, bob), { balance: '12.50', pending: '0.00', pending_credits: [] }, "the money arrived: bob's credit is spendable");
    await balanced(t, b, 'after confirming');
    await eventually(async () => (await settlementOf(a, b, period))?.state === 'settled', 20_000, 'A told of the confirmation');
    t.match(await me(a, carl), { balance: '10.70', pending: '0.00' }, "A's payment netted what B owed it: carl's credit is spendable");
    await balanced(t, a, 'after settling');
    t.same((await b.api('GET', `/api/v1/me/earnings?period=${period}`, { token: bob })).body.from_peers, [
      { peer: a.origin, amount: '4.50', state: 'spendable' },
    ]);
    const payout = await b.api('POST', '/api/v1/me/payouts', { token: bob, body: { amount: '12.50' } });
    t.equal(payout.status, 201, `spendable now: ${payout.text}`);
    await balanced(t, b, 'after the payout');
  });
});
