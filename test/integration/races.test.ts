/**
 * Races on PostgreSQL with a real pool: what many clients do at once must come out as if they
 * had queued up. (PGlite has one connection, so it cannot race; these run on PostgreSQL only.)
 */
import t from 'tap';
import { setBudget } from '../../src/budgets/service.ts';
import { closePeriod } from '../../src/close/run.ts';
import { parseAmount } from '../../src/core/money.ts';
import type { Period } from '../../src/core/period.ts';
import { createFlattr } from '../../src/flattrs/service.ts';
import { checkLedger } from '../../src/ledger/check.ts';
import { registerThing } from '../../src/things/service.ts';
import { recordDeposit, requestPayout } from '../../src/wallet/service.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { startInstance } from '../helpers/instance.ts';
import { addMember } from '../helpers/scenario.ts';

await eachDatabase(
  t,
  async (t, kind) => {
    t.test('the same flattr 40 times at once counts once', async (t) => {
      const inst = await startInstance(t, kind, { poolSize: 20 });
      const ann = await inst.member('ann', { deposit: '10.00' });
      const bob = await inst.member('bob');
      const thingId = (await inst.api('POST', '/api/v1/things', { token: bob, body: { url: 'https://bob.example/' } })).body.id;
      const replies = await Promise.all(Array.from({ length: 40 }, () => inst.api('POST', '/api/v1/flattrs', { token: ann, body: { thing_id: thingId } })));
      const created = replies.filter((r) => r.status === 201);
      t.equal(created.length, 1, 'one flattr');
      t.equal(replies.filter((r) => r.status === 409 && r.body.error.code === 'flattr_once').length, 39);
      t.ok(
        replies.every((r) => (r.status !== 201 ? r.body.error.existing_id === created[0]?.body.id : true)),
        'each repeat names the flattr',
      );
      const count = await inst.ctx.db
        .selectFrom('flattrs')
        .select((eb) => eb.fn.countAll<bigint>().as('n'))
        .executeTakeFirstOrThrow();
      t.equal(count.n, 1n);
    });

    t.test('payouts racing for one wallet never overdraw it', async (t) => {
      const inst = await startInstance(t, kind, { poolSize: 20 });
      const ann = await addMember(inst.ctx, 'ann');
      await recordDeposit(inst.ctx, { username: 'ann', amount: parseAmount('100.00'), reference: 'd' });
      const results = await Promise.allSettled(Array.from({ length: 25 }, () => requestPayout(inst.ctx, ann, parseAmount('10.00'))));
      t.equal(results.filter((r) => r.status === 'fulfilled').length, 10, 'exactly ten payouts of 10.00 fit in 100.00');
      t.ok(results.every((r) => r.status === 'fulfilled' || (r.reason as { code?: string }).code === 'insufficient_funds'));
      const check = await checkLedger(inst.ctx.db);
      t.equal(check.balanced, true);
    });

    t.test("a month's first flattr and a payout of the whole wallet at once: never both", async (t) => {
      // The flattr commits the month's budget (product rule 5) exactly when the payout would take
      // it: one of the two must lose, whichever statement the database runs first.
      const inst = await startInstance(t, kind, { poolSize: 20 });
      const owner = await addMember(inst.ctx, 'owner');
      const thingId = (await registerThing(inst.ctx, owner, { url: 'https://owner.example/' })).id;
      const outcomes = new Map<string, number>();
      for (let i = 0; i < 40; i++) {
        const giver = await addMember(inst.ctx, `g${i}`);
        await recordDeposit(inst.ctx, { username: giver.username, amount: parseAmount('10.00'), reference: `d${i}` });
        await setBudget(inst.ctx, giver, parseAmount('5.00'));
        const [flattr, payout] = await Promise.allSettled([
          createFlattr(inst.ctx, giver, { thing_id: thingId }),
          requestPayout(inst.ctx, giver, parseAmount('10.00')),
        ]);
        const outcome = `${flattr.status === 'fulfilled' ? 'flattr' : (flattr.reason as { code?: string }).code}+${payout.status === 'fulfilled' ? 'payout' : (payout.reason as { code?: string }).code}`;
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
      t.notOk(outcomes.has('flattr+payout'), `never both: ${JSON.stringify(Object.fromEntries(outcomes))}`);
      t.same(
        [...outcomes.keys()].filter((o) => o !== 'flattr+budget_committed' && o !== 'no_means+payout'),
        [],
        'each round one wins and the other says why',
      );
      inst.clock.set('2026-12-01T00:00:00Z');
      const closed = await closePeriod(inst.ctx, '2026-11' as Period);
      t.equal(closed.summary.charged, `${(outcomes.get('flattr+budget_committed') ?? 0) * 5}.00`, 'every flattr made is paid in full');
    });

    t.test('five closes at once close once', async (t) => {
      const inst = await startInstance(t, kind, { poolSize: 20 });
      const { ctx } = inst;
      const givers = [];
      const things = [];
      for (let i = 0; i < 8; i++) {
        const m = await addMember(ctx, `m${i}`);
        await recordDeposit(ctx, { username: m.username, amount: parseAmount('7.00'), reference: `d${i}` });
        givers.push(m);
        things.push((await registerThing(ctx, m, { url: `https://m${i}.example/` })).id);
      }
      for (let i = 0; i < 8; i++) {
        for (let j = 1; j <= 3; j++) await createFlattr(ctx, givers[i]!, { thing_id: things[(i + j) % 8] });
      }
      inst.clock.set('2026-12-01T00:00:00Z');
      const results = await Promise.all(Array.from({ length: 5 }, () => closePeriod(ctx, '2026-11' as Period)));
      t.equal(results.filter((r) => r.closed_now).length, 1, 'one of the five did the work');
      for (const r of results) t.same(r.summary, results[0]!.summary, 'all five answer the same summary');
      t.equal(results[0]!.summary.flattrs, 24);
      t.equal(results[0]!.summary.charged, '16.00');
      const charges = await ctx.db
        .selectFrom('transfers')
        .select((eb) => eb.fn.countAll<bigint>().as('n'))
        .where('kind', '=', 'budget_charge')
        .executeTakeFirstOrThrow();
      t.equal(charges.n, 8n, 'each member charged once');
    });
  },
  ['postgres'],
);
