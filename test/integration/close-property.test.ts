/**
 * Random months, closed by the set-based SQL close, must match the rules written as a pure
 * function (close/plan.ts) share for share, and conserve money exactly.
 */
import fc from 'fast-check';
import t from 'tap';
import { setBudget } from '../../src/budgets/service.ts';
import { planClose } from '../../src/close/plan.ts';
import { closePeriod } from '../../src/close/run.ts';
import { testConfig } from '../../src/config.ts';
import type { Caller } from '../../src/context.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { parseAmount } from '../../src/core/money.ts';
import { addMonths, type Period, periodStart } from '../../src/core/period.ts';
import { createFlattr, withdrawFlattr } from '../../src/flattrs/service.ts';
import { createInstance } from '../../src/instance.ts';
import { assertLedgerBalanced } from '../../src/ledger/check.ts';
import { setCharity } from '../../src/members/service.ts';
import { registerThing } from '../../src/things/service.ts';
import { recordDeposit } from '../../src/wallet/service.ts';
import { freshDatabase } from '../helpers/databases.ts';
import { addMember, planInputFromDatabase } from '../helpers/scenario.ts';

const month = fc.record({
  newMembers: fc.array(
    fc.record({
      deposit: fc.bigInt({ min: 0n, max: 30_000_000n }),
      budget: fc.option(fc.bigInt({ min: 2_000_000n, max: 10_000_000n }), { nil: undefined }),
    }),
    { minLength: 1, maxLength: 5 },
  ),
  // (giver index, thing index, withdraw?) — indices wrap around what exists
  clicks: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.boolean()), { maxLength: 25 }),
});

const configs: [string, Record<string, string>, boolean][] = [
  ['fee 10%, idle budgets to charity, a charity named', { FARTHING_FEE_PERCENT: '10' }, true],
  ['fee 7.5%, idle budgets kept, no charity named', { FARTHING_FEE_PERCENT: '7.5', FARTHING_IDLE_BUDGET: 'keep' }, false],
];

for (const [name, env, withCharity] of configs) {
  t.test(name, async (t) => {
    const database = await freshDatabase(t, 'pglite');
    const clock = new ManualClock('2026-01-05T00:00:00Z');
    const inst = await createInstance(testConfig(env), { clock, database });
    t.teardown(() => inst.close());
    const { ctx } = inst;
    const members: Caller[] = [];
    const things: string[] = [];
    let period = '2026-01' as Period;
    let serial = 0;
    if (withCharity) {
      const charity = await addMember(ctx, 'charity');
      members.push(charity);
      things.push((await registerThing(ctx, charity, { url: 'https://charity.example/' })).id);
      await setCharity(ctx, 'charity');
    }

    await fc.assert(
      fc.asyncProperty(month, async ({ newMembers, clicks }) => {
        clock.set(new Date(periodStart(period).getTime() + 3_600_000));
        for (const spec of newMembers) {
          const m = await addMember(ctx, `m${serial++}`);
          members.push(m);
          if (spec.deposit > 0n) {
            await recordDeposit(ctx, { username: m.username, amount: parseAmount((Number(spec.deposit) / 1e6).toFixed(6)), reference: `dep-${m.username}` });
          }
          if (spec.budget !== undefined) await setBudget(ctx, m, parseAmount((Number(spec.budget) / 1e6).toFixed(6)));
          things.push((await registerThing(ctx, m, { url: `https://${m.username}.example/` })).id);
        }
        for (const [g, th, withdraw] of clicks) {
          clock.advance(1000);
          const giver = members[g % members.length] as Caller;
          try {
            const flattr = await createFlattr(ctx, giver, { thing_id: things[th % things.length] });
            if (withdraw) await withdrawFlattr(ctx, giver, flattr.id);
          } catch (error) {
            // the rules refuse some random clicks; those must be the documented refusals
            const code = (error as { code?: string }).code;
            if (!['flattr_once', 'flattr_owner', 'no_means'].includes(code ?? '')) throw error;
          }
        }
        clock.set(periodStart(addMonths(period, 1)));
        const expected = planClose(await planInputFromDatabase(ctx, period));
        await closePeriod(ctx, period);

        const charges = await ctx.db.selectFrom('close_charges').selectAll().where('period', '=', period).execute();
        const byMember = new Map(charges.map((c) => [c.member_id.toString(), c]));
        for (const c of expected.charges) {
          const row = byMember.get(c.member);
          if (!row || row.charged !== c.charged || row.funded !== c.funded) {
            throw new Error(`charge of ${c.member}: planned ${c.charged}/${c.funded}, closed ${row?.charged}/${row?.funded}`);
          }
        }
        if (charges.length !== expected.charges.length) throw new Error('the close charged other members than planned');
        const shares = await ctx.db.selectFrom('shares').selectAll().where('period', '=', period).execute();
        const byFlattr = new Map(shares.map((s) => [s.flattr_id, s]));
        for (const s of expected.shares) {
          const row = byFlattr.get(s.flattrId);
          if (!row || row.gross !== s.gross || row.fee !== s.fee || row.net !== s.net || row.disposition !== s.disposition) {
            throw new Error(
              `share of ${s.flattrId}: planned ${JSON.stringify(s, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}, closed ${JSON.stringify(row, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}`,
            );
          }
        }
        if (shares.length !== expected.shares.length) throw new Error('the close made other shares than planned');
        await assertLedgerBalanced(ctx.db);
        // closing again changes nothing
        const again = await closePeriod(ctx, period);
        if (again.closed_now) throw new Error('a second close did something');
        period = addMonths(period, 1);
      }),
      { numRuns: 14, endOnFailure: true },
    );
    t.pass(`${14} random months closed exactly as planned`);
  });
}
