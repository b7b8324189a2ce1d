/**
 * Settlement between two instances over real HTTP: a whole month with flattrs both ways, both
 * closes, the signed statements crossing, accepted automatically, creators credited, the net
 * paid and confirmed, and next month's empty statements chained to these; the ledgers balanced
 * on both sides throughout. Disputes, corrections and bad statements are in
 * settlement-disputes.test.ts, an unpaid month carried into the next in settlement-carry-over.test.ts.
 */
import t from 'tap';
import { statementDigest } from '../../src/settlement/digest.ts';
import type { SignedStatement } from '../../src/settlement/statement.ts';
import { eachDatabaseEmbeddedToo } from '../helpers/databases.ts';
import { eventually } from '../helpers/network.ts';
import { balanced, closeBoth, creditedOf, pair, settlementOf } from '../helpers/settlement.ts';

const period = '2026-11';

await eachDatabaseEmbeddedToo(t, async (t, kind) => {
  t.test('a whole month between two instances, and the next one', async (t) => {
    const { a, b, carl, bob } = await pair(t, kind);
    await closeBoth(t, a, b, period, '2026-12-01T00:30:00Z');
    await balanced(t, a, 'after the close');
    await balanced(t, b, 'after the close');

    const out = (await a.api('GET', `/api/v1/admin/statements?direction=out&period=${period}`, { token: a.adminToken })).body.items;
    t.equal(out.length, 1, 'A issued one statement to B');
    t.equal(out[0].total, '4.50', "ann's 5.00 less the 10% fee");
    const document = await a.api('GET', `/api/v1/admin/statements/${out[0].id.split('/').pop()}`, { token: a.adminToken });
    const signed = JSON.parse(document.text) as SignedStatement;
    t.equal(signed.sequence, 1);
    t.equal(signed.previous, null);
    t.equal(signed.lines.length, 1);
    t.equal(signed.lines[0]?.creator, `${b.origin}/users/bob`);
    t.equal(signed.lines[0]?.amount, '4500000');
    t.equal(signed.proof.cryptosuite, 'eddsa-jcs-2022');
    const actor = await (await fetch(`${a.origin}/actor`, { headers: { accept: 'application/activity+json' } })).json();
    t.ok(
      [actor.assertionMethod].flat().some((m: { id: string }) => m.id === signed.proof.verificationMethod),
      'signed with the key the instance actor publishes in assertionMethod',
    );

    // Both statements cross, reconcile and are accepted; both settlements see the same net.
    const settledA = await eventually(
      async () => {
        const s = await settlementOf(a, b, period);
        return s?.state === 'accepted' && s;
      },
      30_000,
      "A's settlement accepted",
    );
    const settledB = await eventually(
      async () => {
        const s = await settlementOf(b, a, period);
        return s?.state === 'accepted' && s;
      },
      30_000,
      "B's settlement accepted",
    );
    t.match(settledA, { payable: '4.50', receivable: '2.70', net: '1.80', debtor: 'us' });
    t.match(settledB, { payable: '2.70', receivable: '4.50', net: '1.80', debtor: 'peer' });
    t.equal(await creditedOf(b, bob), '12.50', 'bob: 10.00 - 2.00 charged + 4.50 from A');
    t.equal(await creditedOf(a, carl), '10.70', 'carl: 10.00 - 2.00 charged + 2.70 from B');
    const incomingB = await b.ctx.db.selectFrom('incoming_flattrs').select('state').execute();
    t.same(incomingB, [{ state: 'paid' }], 'the incoming flattr is paid');
    await balanced(t, a, 'after acceptance');
    await balanced(t, b, 'after acceptance');

    // The creditor cannot record a payment, the debtor cannot confirm one.
    t.equal((await b.api('POST', `/api/v1/admin/settlements/${settledB.id}/paid`, { token: b.adminToken, body: { reference: 'X' } })).status, 403);
    t.equal((await a.api('POST', `/api/v1/admin/settlements/${settledA.id}/confirm`, { token: a.adminToken })).status, 409);
    const paid = await a.api('POST', `/api/v1/admin/settlements/${settledA.id}/paid`, { token: a.adminToken, body: { reference: 'SEPA-2026-11' } });
    t.equal(paid.status, 200, paid.text);
    t.equal(paid.body.state, 'paid');
    await eventually(async () => (await settlementOf(b, a, period))?.state === 'paid', 20_000, 'B told of the payment');
    t.equal((await settlementOf(b, a, period)).reference, 'SEPA-2026-11');
    const confirmed = await b.api('POST', `/api/v1/admin/settlements/${settledB.id}/confirm`, { token: b.adminToken });
    t.equal(confirmed.status, 200, confirmed.text);
    t.equal(confirmed.body.state, 'settled');
    await eventually(async () => (await settlementOf(a, b, period))?.state === 'settled', 20_000, 'A told of the confirmation');
    const peersA = (await a.api('GET', '/api/v1/admin/peers', { token: a.adminToken })).body.items;
    t.same(
      peersA.map((p: { origin: string; balance: string }) => [p.origin, p.balance]),
      [[b.origin, '0.00']],
      'nothing owed either way',
    );
    await balanced(t, a, 'after settling');
    await balanced(t, b, 'after settling');

    // Next month: nothing crosses, but both statements are issued, empty and chained.
    await closeBoth(t, a, b, '2026-12', '2027-01-01T00:30:00Z');
    const next = await eventually(
      async () => {
        const s = await settlementOf(a, b, '2026-12');
        return s?.state === 'settled' && s;
      },
      30_000,
      'the empty month settled',
    );
    t.match(next, { payable: '0.00', receivable: '0.00', net: '0.00' });
    const december = (await a.api('GET', '/api/v1/admin/statements?direction=out&period=2026-12', { token: a.adminToken })).body.items[0];
    const decemberDoc = JSON.parse(
      (await a.api('GET', `/api/v1/admin/statements/${december.id.split('/').pop()}`, { token: a.adminToken })).text,
    ) as SignedStatement;
    t.equal(decemberDoc.sequence, 2);
    t.same(decemberDoc.lines, []);
    t.same(decemberDoc.previous, { id: signed.id, digest: statementDigest(signed) }, "chained to November's");
    const csv = await a.api('GET', '/api/v1/admin/settlements?format=csv', { token: a.adminToken });
    t.match(csv.text, /^"id","peer","period","payable","receivable","net","debtor","state","reference","due","due_debtor","covers","paid_with"\r\n/);
  });
});
