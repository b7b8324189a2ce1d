/**
 * The close at scale: a month of 100,000 members and 2,000,000 flattrs in PostgreSQL.
 * Baseline: one bare INSERT ... SELECT computing the same shares (charges inline, no ledger, no
 * stages, no checks) into an unindexed table. Target: under 60 s, under 300 MB, within 3x.
 */
import { sql } from 'kysely';
import { closePeriod } from '../src/close/run.ts';
import { testConfig } from '../src/config.ts';
import { ManualClock } from '../src/core/clock.ts';
import type { Period } from '../src/core/period.ts';
import { openDatabase } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { createInstance } from '../src/instance.ts';
import { createPostgresDatabase } from '../test/helpers/databases.ts';
import { formatSeconds, verdict, withPeakMemory } from './util.ts';

const MEMBERS = Number(process.env.BENCH_MEMBERS ?? 100_000);
const FLATTRS_PER_MEMBER = Number(process.env.BENCH_FLATTRS_PER_MEMBER ?? 20);
const PERIOD = '2026-11' as Period;

export async function benchClose(): Promise<void> {
  const created = await createPostgresDatabase();
  const handle = await openDatabase({ url: created.url });
  try {
    await migrateToLatest(handle.db);
    const db = handle.db;
    const start = performance.now();
    await buildMonth(db);
    console.log(
      `built ${MEMBERS.toLocaleString('en')} members and ${(MEMBERS * FLATTRS_PER_MEMBER).toLocaleString('en')} flattrs in ${formatSeconds(performance.now() - start)}`,
    );
    await sql`ANALYZE`.execute(db);

    const baseline = await withPeakMemory(() => baselineShares(db));
    console.log(`baseline (bare INSERT ... SELECT of the shares): ${formatSeconds(baseline.ms)}`);

    const clock = new ManualClock('2026-12-01T00:05:00Z');
    const inst = await createInstance(testConfig({ FARTHING_ORIGIN: 'https://bench.example', LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' }), {
      clock,
      database: handle,
    });
    const close = await withPeakMemory(() => closePeriod(inst.ctx, PERIOD));
    await inst.close();
    const ratio = close.ms / baseline.ms;
    console.log(`close: ${formatSeconds(close.ms)}, peak RSS of this process ${close.peakMb.toFixed(0)} MB, ${ratio.toFixed(2)}x the baseline`);
    console.log(`summary: ${JSON.stringify(close.result.summary)}`);
    console.log(`targets: time < 60 s ${verdict(close.ms < 60_000)}; memory < 300 MB ${verdict(close.peakMb < 300)}; within 3x ${verdict(ratio <= 3)}`);
  } finally {
    await handle.close();
    await created.drop();
  }
}

export async function buildMonth(db: import('../src/db/database.ts').Database): Promise<void> {
  const now = '2026-11-01T00:00:00Z';
  await sql`INSERT INTO settings (key, value) VALUES ('first_period', '"2026-11"')`.execute(db);
  await sql`INSERT INTO accounts (code, type, currency, created_at) VALUES ('external', 'external', 'EUR', ${now})`.execute(db);
  await sql`
    INSERT INTO members (username, password_hash, role, created_at)
    SELECT 'm' || g, 'x', 'member', ${now} FROM generate_series(1, ${MEMBERS}) g`.execute(db);
  await sql`
    INSERT INTO accounts (code, type, member_id, currency, created_at)
    SELECT 'wallet:' || id, 'wallet', id, 'EUR', ${now} FROM members`.execute(db);
  // budgets 2.00 to 20.00; deposits of 0 to 30.00 so some wallets cannot cover their budget
  await sql`
    INSERT INTO budgets (member_id, period, amount, set_at)
    SELECT id, '2026-11', 2000000 + (id * 7919 % 19) * 1000000, ${now} FROM members`.execute(db);
  await sql`
    INSERT INTO transfers (debit_account_id, credit_account_id, amount, currency, kind, period, reference, idempotency_key, created_at)
    SELECT (SELECT id FROM accounts WHERE code = 'external'), a.id, (a.member_id * 104729 % 31) * 1000000 + 1, 'EUR', 'deposit', '2026-11',
           'bench-' || a.member_id, 'deposit:bench-' || a.member_id, ${now}
    FROM accounts a WHERE a.type = 'wallet'`.execute(db);
  await sql`
    INSERT INTO things (id, url, title, owner_member_id, created_at)
    SELECT gen_random_uuid(), 'https://m' || id || '.example/', NULL, id, ${now} FROM members`.execute(db);
  await sql`CREATE TEMP TABLE thing_by_owner AS SELECT owner_member_id AS n, id FROM things`.execute(db);
  await sql`CREATE INDEX ON thing_by_owner (n)`.execute(db);
  // member m flattrs the things of members m + k*4999 (mod N): distinct, never their own
  await sql`
    INSERT INTO flattrs (id, member_id, thing_id, period, created_at)
    SELECT gen_random_uuid(), m.id, t.id, '2026-11', timestamptz '2026-11-01' + (m.id * 37 + k) * interval '1 millisecond'
    FROM members m CROSS JOIN generate_series(1, ${FLATTRS_PER_MEMBER}) k
    JOIN thing_by_owner t ON t.n = ((m.id - 1 + k * 4999) % ${MEMBERS}) + 1`.execute(db);
}

async function baselineShares(db: import('../src/db/database.ts').Database): Promise<void> {
  await sql`CREATE TABLE baseline_shares (LIKE shares)`.execute(db);
  await sql`
    INSERT INTO baseline_shares (flattr_id, period, payer_member_id, thing_id, recipient_member_id, gross, fee, net, disposition)
    WITH charge AS (
      SELECT b.member_id, LEAST(b.amount, GREATEST(w.balance, 0)) AS charged, c.n
      FROM budgets b
      JOIN (SELECT credit_account_id AS id, sum(amount)::bigint AS balance FROM transfers GROUP BY 1) w
        ON w.id = (SELECT id FROM accounts WHERE member_id = b.member_id)
      JOIN (SELECT member_id, count(*) AS n FROM flattrs WHERE period = '2026-11' GROUP BY 1) c ON c.member_id = b.member_id
    )
    SELECT q.id, '2026-11', q.member_id, q.thing_id, q.owner, q.gross, q.gross / 10, q.gross - q.gross / 10, 'paid'
    FROM (
      SELECT f.id, f.member_id, f.thing_id, t.owner_member_id AS owner,
             c.charged / c.n + CASE WHEN row_number() OVER (PARTITION BY f.member_id ORDER BY f.created_at, f.seq) <= c.charged % c.n THEN 1 ELSE 0 END AS gross
      FROM flattrs f JOIN charge c ON c.member_id = f.member_id JOIN things t ON t.id = f.thing_id
      WHERE f.period = '2026-11'
    ) q`.execute(db);
}

if (import.meta.url === `file://${process.argv[1]}`) await benchClose();
