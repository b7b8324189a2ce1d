/**
 * Settlement between two instances over real HTTP: an unpaid month carries into the next, one payment settles both, and replayed messages change nothing.
 * (Split from settlement.test.ts so that no file comes near tap's per-file timeout.)
 */
import t from 'tap';
import { eachDatabase } from '../helpers/databases.ts';
import { eventually } from '../helpers/network.ts';
import { asIssuer, balanced, closeBoth, pair, settlementOf } from '../helpers/settlement.ts';

const period = '2026-11';

await eachDatabase(t, async (t, kind) => {
  t.test('a month left unpaid carries into the next: one payment settles both, and replayed messages change nothing', async (t) => {
    const { a, b, ann, bobThing } = await pair(t, kind);
    await closeBoth(t, a, b, period, '2026-12-01T00:30:00Z');
    const november = await eventually(
      async () => {
        const s = await settlementOf(a, b, period);
        return s?.state === 'accepted' && s;
      },
      30_000,
      'November accepted',
    );
    t.match(november, { net: '1.80', debtor: 'us', due: '1.80', due_debtor: 'us', covers: ['2026-11'] });

    // November is left unpaid. In December ann flattrs bob's thing again; bea flattrs nothing across.
    t.equal((await a.api('POST', '/api/v1/flattrs', { token: ann, body: { url: `${b.origin}/things/${bobThing}` } })).status, 201);
    await eventually(
      async () => (await b.ctx.db.selectFrom('incoming_flattrs').select('id').where('period', '=', '2026-12').execute()).length === 1,
      20_000,
      "December's Like at B",
    );
    await closeBoth(t, a, b, '2026-12', '2027-01-01T00:30:00Z');
    const december = await eventually(
      async () => {
        const s = await settlementOf(a, b, '2026-12');
        return s?.state === 'accepted' && s;
      },
      30_000,
      'December accepted',
    );
    t.match(
      december,
      { payable: '4.50', receivable: '0.00', net: '4.50', due: '6.30', due_debtor: 'us', covers: ['2026-11', '2026-12'] },
      "November's 1.80 carries into December",
    );
    const onB = await eventually(
      async () => {
        const s = await settlementOf(b, a, '2026-12');
        return s?.state === 'accepted' && s;
      },
      30_000,
      'December accepted at B',
    );
    t.match(onB, { due: '6.30', due_debtor: 'peer', covers: ['2026-11', '2026-12'] }, 'B sees the same sum');

    t.match(await settlementOf(a, b, period), { due: '6.30', covers: ['2026-11', '2026-12'] }, "November's row shows the same payment");
    // B cannot tell A that B paid what A owes.
    const fromB = await asIssuer(b, a);
    const upsideDown = await fromB.post(
      await fromB.message({
        type: 'FlattrSettlementPaid',
        id: `${b.origin}/settlement/messages/${crypto.randomUUID()}`,
        issuer: `${b.origin}/actor`,
        period: '2026-12',
        periods: ['2026-11', '2026-12'],
        amount: '-6300000',
        reference: 'NOPE',
      }),
    );
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
    await eventually(
      async () => (await settlementOf(a, b, '2026-12'))?.state === 'settled' && (await settlementOf(a, b, period))?.state === 'settled',
      20_000,
      'settled on both sides',
    );
    for (const [inst, peer] of [
      [a, b],
      [b, a],
    ] as const) {
      const peers = (await inst.api('GET', '/api/v1/admin/peers', { token: inst.adminToken })).body.items;
      t.same(
        peers.map((p: { origin: string; balance: string }) => [p.origin, p.balance]),
        [[peer.origin, '0.00']],
        `${inst.origin}: nothing owed either way`,
      );
      await balanced(t, inst, 'after the carried payment');
    }
    const transfers = await a.ctx.db.selectFrom('transfers').select(['kind', 'amount']).where('kind', 'like', 'settlement_%').execute();
    t.same(
      transfers.map((x) => [x.kind, x.amount]),
      [['settlement_paid', 6_300_000n]],
      'one payment of 6.30',
    );

    // A keeps B's confirmation as it arrived, with B's proof.
    const kept = await a.ctx.db
      .selectFrom('settlement_messages_in')
      .select(['type', 'body'])
      .where('type', '=', 'FlattrSettlementConfirmed')
      .executeTakeFirstOrThrow();
    const confirmation = JSON.parse(kept.body);
    t.match(confirmation, {
      type: 'FlattrSettlementConfirmed',
      period: '2026-12',
      periods: ['2026-11', '2026-12'],
      amount: '6300000',
      proof: { cryptosuite: 'eddsa-jcs-2022', proofPurpose: 'assertionMethod' },
    });
    const bActor = await (await fetch(`${b.origin}/actor`, { headers: { accept: 'application/activity+json' } })).json();
    t.ok(
      [bActor.assertionMethod].flat().some((m: { id: string }) => m.id === confirmation.proof.verificationMethod),
      "signed with the key B's instance actor publishes",
    );

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
    t.equal(foreign.status, 400, "an id that is not on the sender's origin");
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
    const twice = await post(
      await message({
        type: 'FlattrSettlementPaid',
        id: `${b.origin}/settlement/messages/${crypto.randomUUID()}`,
        issuer: `${b.origin}/actor`,
        period: '2026-11',
        periods: ['2026-11'],
        amount: '1800000',
        reference: 'AGAIN',
      }),
    );
    t.equal(twice.status, 409, 'a payment of a month settled by another payment is refused');
    t.match(await twice.text(), /2026-11 is settled here \(with 2026-12\).*both sides paid it/);
    // A late "disputed" answer (a new message) to a statement B accepted long ago changes nothing.
    const accepted = await a.ctx.db.selectFrom('statements').select('id').where('direction', '=', 'out').where('period', '=', period).executeTakeFirstOrThrow();
    const late = await post(
      await message({
        type: 'FlattrStatementResponse',
        id: `${b.origin}/settlement/messages/${crypto.randomUUID()}`,
        issuer: `${b.origin}/actor`,
        statement: accepted.id,
        outcome: 'disputed',
        lines: [{ n: 1, reason: 'changed my mind' }],
      }),
    );
    t.equal(late.status, 200);
    t.same(await snapshot(), before, 'nothing changed');
    t.equal((await a.ctx.db.selectFrom('statements').select('state').where('id', '=', accepted.id).executeTakeFirstOrThrow()).state, 'accepted');
  });
});
