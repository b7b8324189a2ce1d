/**
 * A close killed half-way (SIGKILL, so no cleanup runs) finishes with the same result when run
 * again: the same charges, shares and balances as the same month closed without a crash.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { setBudget } from '../../src/budgets/service.ts';
import { closePeriod } from '../../src/close/run.ts';
import { testConfig } from '../../src/config.ts';
import type { Caller } from '../../src/context.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { parseAmount } from '../../src/core/money.ts';
import type { Period } from '../../src/core/period.ts';
import { createFlattr } from '../../src/flattrs/service.ts';
import { createInstance, type Instance } from '../../src/instance.ts';
import { checkLedger } from '../../src/ledger/check.ts';
import { setCharity } from '../../src/members/service.ts';
import { registerThing } from '../../src/things/service.ts';
import { recordDeposit } from '../../src/wallet/service.ts';
import { freshDatabase, postgresUnavailable } from '../helpers/databases.ts';
import { addMember } from '../helpers/scenario.ts';

const CHILD = fileURLToPath(new URL('../helpers/close-and-die.ts', import.meta.url));
const PERIOD = '2026-11' as Period;
const AFTER = '2026-12-01T00:10:00Z';

/** The same month, built the same way in any database. */
async function buildMonth(inst: Instance, clock: ManualClock): Promise<void> {
  const { ctx } = inst;
  const members: Caller[] = [];
  const things: string[] = [];
  for (let i = 0; i < 12; i++) {
    const m = await addMember(ctx, `m${i}`);
    members.push(m);
    if (i % 4 !== 3) await recordDeposit(ctx, { username: m.username, amount: parseAmount(`${3 + i}.00`), reference: `d${i}` });
    if (i % 3 === 0) await setBudget(ctx, m, parseAmount(`${2 + i}.33`));
    things.push((await registerThing(ctx, m, { url: `https://m${i}.example/` })).id);
  }
  await setCharity(ctx, 'm11');
  for (let i = 0; i < 12; i++) {
    for (let j = 1; j <= i % 5; j++) {
      clock.advance(1000);
      await createFlattr(ctx, members[i]!, { thing_id: things[(i * 7 + j) % 12] }).catch((e) => {
        if (e.code !== 'no_means' && e.code !== 'flattr_owner' && e.code !== 'flattr_once') throw e;
      });
    }
  }
}

async function outcome(inst: Instance) {
  const db = inst.ctx.db;
  const charges = await db.selectFrom('close_charges').select(['member_id', 'charged', 'funded']).orderBy('member_id').execute();
  const shares = await db
    .selectFrom('shares')
    .innerJoin('flattrs', 'flattrs.id', 'shares.flattr_id')
    .select(['flattrs.member_id', 'flattrs.seq', 'shares.gross', 'shares.fee', 'shares.net', 'shares.disposition'])
    .orderBy('flattrs.seq')
    .execute();
  const balances = await db
    .selectFrom('accounts')
    .leftJoin('transfers', (j) =>
      j.on((eb) => eb.or([eb('transfers.credit_account_id', '=', eb.ref('accounts.id')), eb('transfers.debit_account_id', '=', eb.ref('accounts.id'))])),
    )
    .select([
      'accounts.code',
      (eb) =>
        eb.fn
          .sum<string>(
            eb
              .case()
              .when('transfers.credit_account_id', '=', eb.ref('accounts.id'))
              .then(eb.ref('transfers.amount'))
              .else(eb.neg(eb.ref('transfers.amount')))
              .end(),
          )
          .as('balance'),
    ])
    .groupBy('accounts.code')
    .orderBy('accounts.code')
    .execute();
  const close = await db.selectFrom('closes').select(['stage', 'summary']).executeTakeFirstOrThrow();
  return { charges, shares, balances: balances.map((b) => [b.code, String(b.balance)]), close };
}

const why = await postgresUnavailable();
if (why) {
  if (process.env.CI) t.fail(why);
  else t.test('the crash test', { skip: `it needs PostgreSQL (a second process must reach the database): ${why}` }, () => {});
} else {
  // The reference: the month closed without a crash.
  const refDb = await freshDatabase(t, 'postgres');
  const refClock = new ManualClock('2026-11-05T10:00:00Z');
  const ref = await createInstance(testConfig({ FARTHING_ORIGIN: 'https://a.example' }), { clock: refClock, database: refDb });
  t.teardown(() => ref.close());
  await buildMonth(ref, refClock);
  refClock.set(AFTER);
  await closePeriod(ref.ctx, PERIOD);
  const expected = await outcome(ref);
  t.ok(expected.shares.length > 10, 'the month has shares to split');

  for (const dieAt of ['splitting', 'booking']) {
    t.test(`killed once the close has reached "${dieAt}", then run again`, async (t) => {
      const db = await freshDatabase(t, 'postgres');
      const clock = new ManualClock('2026-11-05T10:00:00Z');
      const inst = await createInstance(testConfig({ FARTHING_ORIGIN: 'https://a.example' }), { clock, database: db });
      t.teardown(() => inst.close());
      await buildMonth(inst, clock);
      const child = spawnSync(process.execPath, [CHILD], {
        env: { ...process.env, DATABASE_URL: db.url as string, PERIOD, DIE_AT: dieAt, NOW: AFTER },
        encoding: 'utf8',
      });
      t.equal(child.signal, 'SIGKILL', `the close died (${child.stderr.slice(0, 300)})`);
      const stuck = await inst.ctx.db.selectFrom('closes').select('stage').executeTakeFirstOrThrow();
      t.equal(stuck.stage, dieAt, 'the close stopped half-way');
      clock.set(AFTER);
      const resumed = await closePeriod(inst.ctx, PERIOD);
      t.equal(resumed.closed_now, true);
      const got = await outcome(inst);
      t.same(got.charges, expected.charges, 'the same charges');
      t.same(got.shares, expected.shares, 'the same shares');
      t.same(got.balances, expected.balances, 'the same balance in every account');
      t.same(got.close.summary, expected.close.summary, 'the same summary');
      t.equal((await checkLedger(inst.ctx.db)).balanced, true);
    });
  }
}
