/**
 * Settlement between two instances over real HTTP: a statement that does not reconcile is disputed with per-line reasons, corrected by its issuer and settled; every bad statement is refused and changes nothing; claimed lines are checked against links.
 * (Split from settlement.test.ts so that no file comes near tap's per-file timeout.)
 */
import t from 'tap';
import type { Period } from '../../src/core/period.ts';
import type { SignedStatement } from '../../src/settlement/statement.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { eventually } from '../helpers/network.ts';
import { asIssuer, balanced, closeBoth, creditedOf, pair, settlementOf } from '../helpers/settlement.ts';

const period = '2026-11';

await eachDatabase(t, async (t, kind) => {
  t.test('a statement that does not reconcile is disputed, corrected and settled', async (t) => {
    const { a, b, bob } = await pair(t, kind);
    // B loses the Like from A (as if a delivery had gone astray).
    await b.ctx.db.deleteFrom('incoming_flattrs').execute();
    await closeBoth(t, a, b, period, '2026-12-01T00:30:00Z');
    const disputed = await eventually(
      async () => {
        const s = (await a.api('GET', `/api/v1/admin/statements?direction=out&period=${period}`, { token: a.adminToken })).body.items[0];
        return s?.state === 'disputed' && s;
      },
      30_000,
      'A told of the dispute',
    );
    t.same(disputed.dispute, [{ n: 1, reason: `no flattrs of ${b.origin}/users/bob from your instance arrived here for ${period}` }], 'per-line reasons');
    const onB = (await b.api('GET', `/api/v1/admin/statements?direction=in&period=${period}`, { token: b.adminToken })).body.items[0];
    t.equal(onB.state, 'disputed');
    t.equal((await settlementOf(b, a, period)).state, 'disputed');
    await balanced(t, b, 'with a disputed statement');

    const corrected = await a.api('POST', `/api/v1/admin/statements/${disputed.id.split('/').pop()}/correct`, { token: a.adminToken });
    t.equal(corrected.status, 200, corrected.text);
    t.equal(corrected.body.sequence, 2, 'the correction takes the next sequence number');
    const statementsA = await eventually(
      async () => {
        const items = (await a.api('GET', `/api/v1/admin/statements?direction=out&period=${period}`, { token: a.adminToken })).body.items;
        return items[0]?.state === 'accepted' && items;
      },
      30_000,
      'the correction accepted',
    );
    t.same(
      statementsA.map((s: { sequence: number; state: string }) => [s.sequence, s.state]),
      [
        [2, 'accepted'],
        [1, 'superseded'],
      ],
    );
    await eventually(async () => (await settlementOf(a, b, period))?.state === 'accepted', 30_000, 'the settlement accepted');
    t.equal(await creditedOf(b, bob), '12.50', 'bob credited once');
    const settlement = await settlementOf(a, b, period);
    t.equal((await a.api('POST', `/api/v1/admin/settlements/${settlement.id}/paid`, { token: a.adminToken, body: { reference: 'FIX-1' } })).status, 200);
    // A relay's retry waits for the instance clock, which the test holds still: a failed attempt
    // shows here with its status.
    const deliveries = (x: typeof a) => async () =>
      x.ctx.db.selectFrom('settlement_deliveries').select(['id', 'attempts', 'last_status', 'delivered_at']).where('delivered_at', 'is', null).execute();
    await eventually(async () => (await settlementOf(b, a, period))?.state === 'paid', 30_000, 'B told', deliveries(a));
    const onBSettlement = await settlementOf(b, a, period);
    t.equal((await b.api('POST', `/api/v1/admin/settlements/${onBSettlement.id}/confirm`, { token: b.adminToken })).status, 200);
    await eventually(async () => (await settlementOf(a, b, period))?.state === 'settled', 30_000, 'settled on both sides', deliveries(b));
    await balanced(t, a, 'at the end');
    await balanced(t, b, 'at the end');
  });

  t.test('bad statements are refused and change nothing', async (t) => {
    const { a, b } = await pair(t, kind);
    await closeBoth(t, a, b, period, '2026-12-01T00:30:00Z');
    await eventually(async () => (await settlementOf(b, a, period))?.state === 'accepted', 30_000, 'the real statements accepted');
    const good = JSON.parse(
      (await b.ctx.db.selectFrom('statements').select('document').where('direction', '=', 'in').executeTakeFirstOrThrow()).document,
    ) as SignedStatement;
    const snapshot = async () => ({
      statements: await b.ctx.db.selectFrom('statements').select(['id', 'state']).orderBy('id').execute(),
      transfers: (await b.ctx.db.selectFrom('transfers').select('id').execute()).length,
    });
    const before = await snapshot();
    const { post, sign } = await asIssuer(a, b, good);

    const cases: [string, () => Promise<Response>, number, RegExp][] = [
      [
        'a changed amount',
        async () => {
          const tampered = structuredClone(good) as any;
          tampered.id = `${a.origin}/settlement/statements/${crypto.randomUUID()}`;
          return post(
            JSON.stringify({
              ...tampered,
              lines: tampered.lines.map((l: any) => ({ ...l, amount: '9000000' })),
              summary: { ...tampered.summary, total: '9000000' },
            }),
          );
        },
        422,
        /proof|signature/i,
      ],
      [
        'a broken chain',
        async () => post(JSON.stringify(await sign({ previous: { id: good.id, digest: 'sha-256=:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:' } }))),
        422,
        /previous/,
      ],
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
    const again = await post(
      JSON.stringify(good).length
        ? (await b.ctx.db.selectFrom('statements').select('document').where('id', '=', good.id).executeTakeFirstOrThrow()).document
        : '',
    );
    t.equal(again.status, 200, 'the very same statement again is answered as before');
    t.same(await snapshot(), before, 'and changes nothing');
    await balanced(t, b, 'after the refusals');
  });

  t.test('a line of held shares for an account its creator does not link is disputed, and credits nobody', async (t) => {
    const { a, b, bob } = await pair(t, kind);
    await closeBoth(t, a, b, period, '2026-12-01T00:30:00Z');
    await eventually(async () => (await settlementOf(b, a, period))?.state === 'accepted', 30_000, 'the real statements accepted');
    const good = JSON.parse(
      (await b.ctx.db.selectFrom('statements').select('document').where('direction', '=', 'in').executeTakeFirstOrThrow()).document,
    ) as SignedStatement;
    const { post, sign } = await asIssuer(a, b, good);
    b.clock.set('2027-01-01T00:30:00Z');
    const walletBefore = await creditedOf(b, bob);
    const statement = await sign({
      period: '2026-12' as Period,
      creators: [
        {
          creator: `${b.origin}/users/bob`,
          account: 'https://m.example/users/zoe',
          flattrIds: [`${a.origin}/flattrs/${crypto.randomUUID()}`],
          amountMicros: 1_000_000n,
        },
      ],
    });
    const answer = await post(JSON.stringify(statement));
    const body = await answer.json();
    t.equal(answer.status, 200, JSON.stringify(body));
    t.equal(body.state, 'disputed');
    t.match(body.disputes, [{ n: 1, reason: /does not link https:\/\/m\.example\/users\/zoe/ }]);
    t.equal(await creditedOf(b, bob), walletBefore, 'bob is not credited');
    await balanced(t, b, 'after the dispute');
  });
});
