/**
 * Settlement between two instances over real HTTP: a whole month with flattrs both ways, both
 * closes, the signed statements crossing, accepted automatically, creators credited, the net
 * paid and confirmed, and next month's empty statements chained to these; the ledgers balanced
 * on both sides throughout. Then a statement that does not reconcile: disputed with per-line
 * reasons, corrected by its issuer, and settled. And every bad statement refused, changing nothing;
 * claimed lines checked against links; an unpaid month carried into the next; replayed messages.
 */
import t from 'tap';
import type { Period } from '../../src/core/period.ts';
import { statementDigest } from '../../src/settlement/digest.ts';
import type { SignedStatement } from '../../src/settlement/statement.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { eventually } from '../helpers/network.ts';
import { asIssuer, balanced, closeBoth, creditedOf, pair, settlementOf } from '../helpers/settlement.ts';

const period = '2026-11';

await eachDatabase(t, async (t, kind) => {
  t.test('a whole month between two instances, and the next one', async (t) => {
    const { a, b, carl, bob } = await pair(t, kind);
    await closeBoth(t, a, b, period, '2026-12-01T00:30:00Z');
    await balanced(t, a, 'after the close');
    await balanced(t, b, 'after the close');

    const out = (await a.api('GET', `/api/v1/admin/statements?direction=out&period=${period}`, { token: a.adminToken })).body.items;
    t.equal(out.length, 1, 'A issued one statement to B');
    t.equal(out[0].total, '4.50', 'ann\'s 5.00 less the 10% fee');
    const document = await a.api('GET', `/api/v1/admin/statements/${out[0].id.split('/').pop()}`, { token: a.adminToken });
    const signed = JSON.parse(document.text) as SignedStatement;
    t.equal(signed.sequence, 1);
    t.equal(signed.previous, null);
    t.equal(signed.lines.length, 1);
    t.equal(signed.lines[0]?.creator, `${b.origin}/users/bob`);
    t.equal(signed.lines[0]?.amount, '4500000');
    t.equal(signed.proof.cryptosuite, 'eddsa-jcs-2022');
    const actor = await (await fetch(`${a.origin}/actor`, { headers: { accept: 'application/activity+json' } })).json();
    t.ok([actor.assertionMethod].flat().some((m: { id: string }) => m.id === signed.proof.verificationMethod), 'signed with the key the instance actor publishes in assertionMethod');

    // Both statements cross, reconcile and are accepted; both settlements see the same net.
    const settledA = await eventually(async () => {
      const s = await settlementOf(a, b, period);
      return s?.state === 'accepted' && s;
    }, 30_000, 'A\'s settlement accepted');
    const settledB = await eventually(async () => {
      const s = await settlementOf(b, a, period);
      return s?.state === 'accepted' && s;
    }, 30_000, 'B\'s settlement accepted');
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
    t.same(peersA.map((p: { origin: string; balance: string }) => [p.origin, p.balance]), [[b.origin, '0.00']], 'nothing owed either way');
    await balanced(t, a, 'after settling');
    await balanced(t, b, 'after settling');

    // Next month: nothing crosses, but both statements are issued, empty and chained.
    await closeBoth(t, a, b, '2026-12', '2027-01-01T00:30:00Z');
    const next = await eventually(async () => {
      const s = await settlementOf(a, b, '2026-12');
      return s?.state === 'settled' && s;
    }, 30_000, 'the empty month settled');
    t.match(next, { payable: '0.00', receivable: '0.00', net: '0.00' });
    const december = (await a.api('GET', '/api/v1/admin/statements?direction=out&period=2026-12', { token: a.adminToken })).body.items[0];
    const decemberDoc = JSON.parse((await a.api('GET', `/api/v1/admin/statements/${december.id.split('/').pop()}`, { token: a.adminToken })).text) as SignedStatement;
    t.equal(decemberDoc.sequence, 2);
    t.same(decemberDoc.lines, []);
    t.same(decemberDoc.previous, { id: signed.id, digest: statementDigest(signed) }, 'chained to November\'s');
    const csv = await a.api('GET', '/api/v1/admin/settlements?format=csv', { token: a.adminToken });
    t.match(csv.text, /^"id","peer","period","payable","receivable","net","debtor","state","reference","due","due_debtor","covers","paid_with"\r\n/);
  });

  t.test('a statement that does not reconcile is disputed, corrected and settled', async (t) => {
    const { a, b, bob } = await pair(t, kind);
    // B loses the Like from A (as if a delivery had gone astray).
    await b.ctx.db.deleteFrom('incoming_flattrs').execute();
    await closeBoth(t, a, b, period, '2026-12-01T00:30:00Z');
    const disputed = await eventually(async () => {
      const s = (await a.api('GET', `/api/v1/admin/statements?direction=out&period=${period}`, { token: a.adminToken })).body.items[0];
      return s?.state === 'disputed' && s;
    }, 30_000, 'A told of the dispute');
    t.same(disputed.dispute, [{ n: 1, reason: `no flattrs of ${b.origin}/users/bob from your instance arrived here for ${period}` }], 'per-line reasons');
    const onB = (await b.api('GET', `/api/v1/admin/statements?direction=in&period=${period}`, { token: b.adminToken })).body.items[0];
    t.equal(onB.state, 'disputed');
    t.equal((await settlementOf(b, a, period)).state, 'disputed');
    await balanced(t, b, 'with a disputed statement');

    const corrected = await a.api('POST', `/api/v1/admin/statements/${disputed.id.split('/').pop()}/correct`, { token: a.adminToken });
    t.equal(corrected.status, 200, corrected.text);
    t.equal(corrected.body.sequence, 2, 'the correction takes the next sequence number');
    const statementsA = await eventually(async () => {
      const items = (await a.api('GET', `/api/v1/admin/statements?direction=out&period=${period}`, { token: a.adminToken })).body.items;
      return items[0]?.state === 'accepted' && items;
    }, 30_000, 'the correction accepted');
    t.same(statementsA.map((s: { sequence: number; state: string }) => [s.sequence, s.state]), [[2, 'accepted'], [1, 'superseded']]);
    await eventually(async () => (await settlementOf(a, b, period))?.state === 'accepted', 30_000, 'the settlement accepted');
    t.equal(await creditedOf(b, bob), '12.50', 'bob credited once');
    const settlement = await settlementOf(a, b, period);
    t.equal((await a.api('POST', `/api/v1/admin/settlements/${settlement.id}/paid`, { token: a.adminToken, body: { reference: 'FIX-1' } })).status, 200);
    await eventually(async () => (await settlementOf(b, a, period))?.state === 'paid', 20_000, 'B told');
    const onBSettlement = await settlementOf(b, a, period);
    t.equal((await b.api('POST', `/api/v1/admin/settlements/${onBSettlement.id}/confirm`, { token: b.adminToken })).status, 200);
    await eventually(async () => (await settlementOf(a, b, period))?.state === 'settled', 20_000, 'settled on both sides');
    await balanced(t, a, 'at the end');
    await balanced(t, b, 'at the end');
  });

  t.test('bad statements are refused and change nothing', async (t) => {
    const { a, b } = await pair(t, kind);
    await closeBoth(t, a, b, period, '2026-12-01T00:30:00Z');
    await eventually(async () => (await settlementOf(b, a, period))?.state === 'accepted', 30_000, 'the real statements accepted');
    const good = JSON.parse((await b.ctx.db.selectFrom('statements').select('document').where('direction', '=', 'in').executeTakeFirstOrThrow()).document) as SignedStatement;
    const snapshot = async () => ({
      statements: await b.ctx.db.selectFrom('statements').select(['id', 'state']).orderBy('id').execute(),
      transfers: (await b.ctx.db.selectFrom('transfers').select('id').execute()).length,
    });
    const before = await snapshot();
    const { post, sign } = await asIssuer(a, b, good);

    const cases: [string, () => Promise<Response>, number, RegExp][] = [
      ['a changed amount', async () => {
        const tampered = structuredClone(good) as any;
        tampered.id = `${a.origin}/settlement/statements/${crypto.randomUUID()}`;
        return post(JSON.stringify({ ...tampered, lines: tampered.lines.map((l: any) => ({ ...l, amount: '9000000' })), summary: { ...tampered.summary, total: '9000000' } }));
      }, 422, /proof|signature/i],
      ['a broken chain', async () => post(JSON.stringify(await sign({ previous: { id: good.id, digest: 'sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:' } }))), 422, /previous/],
      ['a replayed sequence', async () => post(JSON.stringify(await sign({ sequence: good.sequence, previous: null }))), 422, /sequence|previous/],
      ['a wrong period', async () => post(JSON.stringify(await sign({ period: '2027-01' as never }))), 422, /period/],
      ['a foreign currency', async () => post(JSON.stringify(await sign({ currency: 'USD' }))), 422, /USD/],
      ['no HTTP signature', async () => post(JSON.stringify(await sign({})), false), 401, /signed/],
      ['the same id with other content', async () => post(JSON.stringify({ ...good, issuedAt: '2026-12-01T00:40:00.000Z' })), 422, /./],
    ];
    for (const [name, send, status, message] of cases) {
      const answer = await send();
      const text = await answer.text();
      t.equal(answer.status, status, `${name}: ${text.slice(0, 300)}`);
      t.match(text, message, `${name}: says why`);
    }
    t.same(await snapshot(), before, 'nothing changed');
    const again = await post(JSON.stringify(good).length ? (await b.ctx.db.selectFrom('statements').select('document').where('id', '=', good.id).executeTakeFirstOrThrow()).document : '');
    t.equal(again.status, 200, 'the very same statement again is answered as before');
    t.same(await snapshot(), before, 'and changes nothing');
    await balanced(t, b, 'after the refusals');
  });

  t.test('a line of held shares for an account its creator does not link is disputed, and credits nobody', async (t) => {
    const { a, b, bob } = await pair(t, kind);
    await closeBoth(t, a, b, period, '2026-12-01T00:30:00Z');
    await eventually(async () => (await settlementOf(b, a, period))?.state === 'accepted', 30_000, 'the real statements accepted');
    const good = JSON.parse((await b.ctx.db.selectFrom('statements').select('document').where('direction', '=', 'in').executeTakeFirstOrThrow()).document) as SignedStatement;
    const { post, sign } = await asIssuer(a, b, good);
    b.clock.set('2027-01-01T00:30:00Z');
    const walletBefore = await creditedOf(b, bob);
    const statement = await sign({
      period: '2026-12' as Period,
      creators: [{ creator: `${b.origin}/users/bob`, account: 'https://m.example/users/zoe', flattrIds: [`${a.origin}/flattrs/${crypto.randomUUID()}`], amountMicros: 1_000_000n }],
    });
    const answer = await post(JSON.stringify(statement));
    const body = await answer.json();
    t.equal(answer.status, 200, JSON.stringify(body));
    t.equal(body.state, 'disputed');
    t.match(body.disputes, [{ n: 1, reason: /does not link https:\/\/m\.example\/users\/zoe/ }]);
    t.equal(await creditedOf(b, bob), walletBefore, 'bob is not credited');
    await balanced(t, b, 'after the dispute');
  });

  t.test('a month left unpaid carries into the next: one payment settles both, and replayed messages change nothing', async (t) => {
    const { a, b, ann, bobThing } = await pair(t, kind);
    await closeBoth(t, a, b, period, '2026-12-01T00:30:00Z');
    const november = await eventually(async () => {
      const s = await settlementOf(a, b, period);
      return s?.state === 'accepted' && s;
    }, 30_000, 'November accepted');
    t.match(november, { net: '1.80', debtor: 'us', due: '1.80', due_debtor: 'us', covers: ['2026-11'] });

    // November is left unpaid. In December ann flattrs bob's thing again; bea flattrs nothing across.
    t.equal((await a.api('POST', '/api/v1/flattrs', { token: ann, body: { url: `${b.origin}/things/${bobThing}` } })).status, 201);
    await eventually(async () => (await b.ctx.db.selectFrom('incoming_flattrs').select('id').where('period', '=', '2026-12').execute()).length === 1, 20_000, 'December\'s Like at B');
    await closeBoth(t, a, b, '2026-12', '2027-01-01T00:30:00Z');
    const december = await eventually(async () => {
      const s = await settlementOf(a, b, '2026-12');
      return s?.state === 'accepted' && s;
    }, 30_000, 'December accepted');
    t.match(december, { payable: '4.50', receivable: '0.00', net: '4.50', due: '6.30', due_debtor: 'us', covers: ['2026-11', '2026-12'] }, 'November\'s 1.80 carries into December');
    const onB = await eventually(async () => {
      const s = await settlementOf(b, a, '2026-12');
      return s?.state === 'accepted' && s;
    }, 30_000, 'December accepted at B');
    t.match(onB, { due: '6.30', due_debtor: 'peer', covers: ['2026-11', '2026-12'] }, 'B sees the same sum');

    t.match(await settlementOf(a, b, period), { due: '6.30', covers: ['2026-11', '2026-12'] }, 'November\'s row shows the same payment');
    // B cannot tell A that B paid what A owes.
    const fromB = await asIssuer(b, a);
    const upsideDown = await fromB.post(await fromB.message({ type: 'FlattrSettlementPaid', id: `${b.origin}/settlement/messages/${crypto.randomUUID()}`, issuer: `${b.origin}/actor`, period: '2026-12', periods: ['2026-11', '2026-12'], amount: '-6300000', reference: 'NOPE' }));
    t.equal(upsideDown.status, 403, await upsideDown.text());
    t.equal((await settlementOf(a, b, period)).state, 'accepted', 'nothing changed');
    // Recorded from November's row, the payment covers both months.
    const paid = await a.api('POST', `/api/v1/admin/settlements/${november.id}/paid`, { token: a.adminToken, body: { reference: 'SEPA-NOV-DEC' } });
    t.equal(paid.status, 200, paid.text);
    t.match(paid.body, { period: '2026-11', state: 'paid', due: '6.30', paid_with: '2026-12', covers: ['2026-11', '2026-12'] });
    t.match(await settlementOf(a, b, '2026-12'), { state: 'paid', paid_with: '2026-12', reference: 'SEPA-NOV-DEC' }, 'December is paid with it');
    const again = await a.api('POST', `/api/v1/admin/settlements/${december.id}/paid`, { token: a.adminToken, body: { reference: 'OTHER' } });
    t.equal(again.status, 409, 'December is not paid twice');
    await eventually(async () => (await settlementOf(b, a, period))?.state === 'paid', 20_000, 'B told of the payment of both');
    // B confirms from November's row: the payment it was part of is settled as a whole.
    const novemberOnB = await settlementOf(b, a, period);
    const confirmed = await b.api('POST', `/api/v1/admin/settlements/${novemberOnB.id}/confirm`, { token: b.adminToken });
    t.equal(confirmed.status, 200, confirmed.text);
    t.match(await settlementOf(b, a, '2026-12'), { state: 'settled' });
    await eventually(async () => (await settlementOf(a, b, '2026-12'))?.state === 'settled' && (await settlementOf(a, b, period))?.state === 'settled', 20_000, 'settled on both sides');
    for (const [inst, peer] of [[a, b], [b, a]] as const) {
      const peers = (await inst.api('GET', '/api/v1/admin/peers', { token: inst.adminToken })).body.items;
      t.same(peers.map((p: { origin: string; balance: string }) => [p.origin, p.balance]), [[peer.origin, '0.00']], `${inst.origin}: nothing owed either way`);
      await balanced(t, inst, 'after the carried payment');
    }
    const transfers = await a.ctx.db.selectFrom('transfers').select(['kind', 'amount']).where('kind', 'like', 'settlement_%').execute();
    t.same(transfers.map((x) => [x.kind, x.amount]), [['settlement_paid', 6_300_000n]], 'one payment of 6.30');

    // A keeps B's confirmation as it arrived, with B's proof.
    const kept = await a.ctx.db.selectFrom('settlement_messages_in').select(['type', 'body']).where('type', '=', 'FlattrSettlementConfirmed').executeTakeFirstOrThrow();
    const confirmation = JSON.parse(kept.body);
    t.match(confirmation, { type: 'FlattrSettlementConfirmed', period: '2026-12', periods: ['2026-11', '2026-12'], amount: '6300000', proof: { cryptosuite: 'eddsa-jcs-2022', proofPurpose: 'assertionMethod' } });
    const bActor = await (await fetch(`${b.origin}/actor`, { headers: { accept: 'application/activity+json' } })).json();
    t.ok([bActor.assertionMethod].flat().some((m: { id: string }) => m.id === confirmation.proof.verificationMethod), 'signed with the key B\'s instance actor publishes');

    // Replays: B's confirmation again (same id) changes nothing; a message id on another origin, no
    // proof, or a proof that does not match are refused.
    const { post, message } = await asIssuer(b, a);
    const snapshot = async () => ({
      settlements: await a.ctx.db.selectFrom('settlements').select(['id', 'state', 'paid_with']).orderBy('id').execute(),
      transfers: (await a.ctx.db.selectFrom('transfers').select('id').execute()).length,
    });
    const before = await snapshot();
    const replay = await post(kept.body);
    t.equal(replay.status, 200);
    t.match(await replay.json(), { ok: true, replay: true });
    const { proof: _proof, ...unsigned } = confirmation;
    const foreign = await post(await message({ ...unsigned, id: `${a.origin}/settlement/messages/${crypto.randomUUID()}` }));
    t.equal(foreign.status, 400, 'an id that is not on the sender\'s origin');
    const fresh = { ...unsigned, id: `${b.origin}/settlement/messages/${crypto.randomUUID()}` };
    const inherited = await post(await message({ ...unsigned, type: 'constructor', id: `${b.origin}/settlement/messages/${crypto.randomUUID()}` }));
    t.equal(inherited.status, 400, 'a type that is no message type');
    t.match(await inherited.text(), /unknown settlement message type/);
    const noProof = await post(JSON.stringify(fresh));
    t.equal(noProof.status, 401, 'a message without a proof');
    t.match(await noProof.text(), /no proof/);
    const tampered = JSON.parse(await message(fresh));
    tampered.amount = '1';
    const forged = await post(JSON.stringify(tampered));
    t.equal(forged.status, 401, 'a proof that does not match the message');
    t.match(await forged.text(), /does not verify/);
    const twice = await post(await message({ type: 'FlattrSettlementPaid', id: `${b.origin}/settlement/messages/${crypto.randomUUID()}`, issuer: `${b.origin}/actor`, period: '2026-11', periods: ['2026-11'], amount: '1800000', reference: 'AGAIN' }));
    t.equal(twice.status, 409, 'a payment of a month settled by another payment is refused');
    t.match(await twice.text(), /2026-11 is settled here \(with 2026-12\).*both sides paid it/);
    // A late "disputed" answer (a new message) to a statement B accepted long ago changes nothing.
    const accepted = await a.ctx.db.selectFrom('statements').select('id').where('direction', '=', 'out').where('period', '=', period).executeTakeFirstOrThrow();
    const late = await post(await message({ type: 'FlattrStatementResponse', id: `${b.origin}/settlement/messages/${crypto.randomUUID()}`, issuer: `${b.origin}/actor`, statement: accepted.id, outcome: 'disputed', lines: [{ n: 1, reason: 'changed my mind' }] }));
    t.equal(late.status, 200);
    t.same(await snapshot(), before, 'nothing changed');
    t.equal((await a.ctx.db.selectFrom('statements').select('state').where('id', '=', accepted.id).executeTakeFirstOrThrow()).state, 'accepted');
  });
});
