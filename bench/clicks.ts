/**
 * Clicks: authenticated POST /api/v1/flattrs from many members at 64 concurrent connections,
 * against PostgreSQL. Baseline: a bare fastify route doing one idempotent INSERT through the same
 * pool, measured in the same run. Target: at least half the bare rate, p99 under 25 ms.
 */

import { spawn } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import autocannon from 'autocannon';
import { sql } from 'kysely';
import { periodOf } from '../src/core/period.ts';
import { openDatabase } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { createPostgresDatabase } from '../test/helpers/databases.ts';
import { verdict } from './util.ts';

const MEMBERS = Number(process.env.BENCH_CLICK_MEMBERS ?? 2_000);
const THINGS = 500;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = 64;

interface Result {
  rate: number;
  p50: number;
  p99: number;
  non2xx: number;
}

async function load(url: string, bodies: () => { body: string; token: string }): Promise<Result> {
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: SECONDS,
    requests: [
      {
        method: 'POST',
        setupRequest: (request) => {
          const next = bodies();
          return { ...request, body: next.body, headers: { 'content-type': 'application/json', authorization: `Bearer ${next.token}` } };
        },
      },
    ],
  });
  return { rate: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, non2xx: result.non2xx };
}

let nextPort = 39_500;

/** Starts `node <args>` with PORT set and answers once it serves. */
async function startServer(args: string[], env: Record<string, string>): Promise<{ port: number; stop(): Promise<void> }> {
  const port = nextPort++;
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env, PORT: String(port) }, stdio: ['ignore', 'ignore', 'inherit'] });
  for (let i = 0; i < 100; i++) {
    if (
      await fetch(`http://127.0.0.1:${port}/`).then(
        () => true,
        () => false,
      )
    )
      break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    port,
    stop: async () => {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** The round with the median rate. */
function median(results: Result[]): Result {
  return [...results].sort((a, b) => a.rate - b.rate)[Math.floor(results.length / 2)] as Result;
}

export async function benchClicks(keep = false): Promise<void> {
  const created = await createPostgresDatabase();
  const handle = await openDatabase({ url: created.url, poolSize: 4 });
  try {
    await migrateToLatest(handle.db);
    const db = handle.db;
    // The server runs as in production (NODE_ENV=production, the system clock), so the month is this one.
    const now = new Date();
    const period = periodOf(now);
    // members with wallets that cover their budget, API tokens, and things to flattr
    await sql`INSERT INTO accounts (code, type, currency, created_at) VALUES ('external', 'external', 'EUR', ${now})`.execute(db);
    await sql`INSERT INTO members (username, password_hash, role, created_at) SELECT 'm' || g, 'x', 'member', ${now} FROM generate_series(1, ${MEMBERS}) g`.execute(
      db,
    );
    await sql`INSERT INTO accounts (code, type, member_id, currency, created_at) SELECT 'wallet:' || id, 'wallet', id, 'EUR', ${now} FROM members`.execute(db);
    await sql`INSERT INTO budgets (member_id, period, amount, set_at) SELECT id, ${period}, 5000000, ${now} FROM members`.execute(db);
    await sql`
      INSERT INTO transfers (debit_account_id, credit_account_id, amount, currency, kind, period, idempotency_key, created_at)
      SELECT (SELECT id FROM accounts WHERE code = 'external'), id, 50000000, 'EUR', 'deposit', ${period}, 'deposit:b' || id, ${now}
      FROM accounts WHERE type = 'wallet'`.execute(db);
    const tokens: string[] = [];
    for (let i = 1; i <= MEMBERS; i++) {
      const token = `fth_${randomBytes(24).toString('base64url')}`;
      tokens.push(token);
      await db
        .insertInto('tokens')
        .values({
          member_id: BigInt(i),
          secret_hash: createHash('sha256').update(token).digest(),
          kind: 'api',
          created_at: now,
          expires_at: null,
          revoked_at: null,
        })
        .execute();
    }
    const thingIds: string[] = [];
    for (let i = 0; i < THINGS; i++) {
      const id = randomUUID();
      thingIds.push(id);
      // owned by the last members, who do not click
      await db
        .insertInto('things')
        .values({ id, url: `https://t${i}.example/`, title: null, owner_member_id: BigInt(MEMBERS - (i % 10)), created_at: now })
        .execute();
    }
    await sql`CREATE TABLE bare_clicks (id uuid PRIMARY KEY, member_id bigint NOT NULL, thing_id uuid NOT NULL, created_at timestamptz NOT NULL, UNIQUE (member_id, thing_id))`.execute(
      db,
    );
    await sql`ANALYZE`.execute(db);

    // Each request is a new (member, thing) pair, so every click is a real first flattr.
    let n = 0;
    const pairs = () => {
      const i = n++;
      const member = i % (MEMBERS - 10);
      const thing = Math.floor(i / (MEMBERS - 10)) % THINGS;
      return { body: JSON.stringify({ thing_id: thingIds[thing] }), token: tokens[member] as string, member: member + 1 };
    };

    // Both servers run as processes of their own, as they would in production, so that the
    // load generator (this process) does not take their CPU. The machine is noisy, so the two
    // are measured in alternating rounds and the medians compared.
    const bare = await startServer(['bench/bare-server.ts'], { DATABASE_URL: created.url });
    const app = await startServer(['src/main.ts'], {
      DATABASE_URL: created.url,
      NODE_ENV: 'production',
      FARTHING_AUTO_CLOSE: 'off',
      FARTHING_ORIGIN: 'https://bench.example',
      LOG_LEVEL: 'warn',
    });
    const baselines: Result[] = [];
    const clicks: Result[] = [];
    try {
      for (let round = 0; round < ROUNDS; round++) {
        baselines.push(await load(`http://127.0.0.1:${bare.port}/bare`, pairs));
        clicks.push(await load(`http://127.0.0.1:${app.port}/api/v1/flattrs`, pairs));
      }
    } finally {
      await bare.stop();
      await app.stop();
    }
    const made = await db
      .selectFrom('flattrs')
      .select((eb) => eb.fn.countAll<bigint>().as('n'))
      .executeTakeFirstOrThrow();
    const baseline = median(baselines);
    const click = median(clicks);
    const ratio = click.rate / baseline.rate;
    console.log(
      `rounds of ${SECONDS} s: bare ${baselines.map((r) => r.rate.toFixed(0)).join(', ')} req/s; flattrs ${clicks.map((r) => r.rate.toFixed(0)).join(', ')} /s`,
    );
    console.log(`baseline (bare insert route), median: ${baseline.rate.toFixed(0)} req/s, p50 ${baseline.p50} ms, p99 ${baseline.p99} ms`);
    console.log(
      `flattrs, median: ${click.rate.toFixed(0)} flattrs/s, p50 ${click.p50} ms, p99 ${click.p99} ms, ${clicks.reduce((a, r) => a + r.non2xx, 0)} non-2xx, ${made.n} flattrs recorded; ${ratio.toFixed(2)}x the baseline rate`,
    );
    console.log(`targets: at least half the bare rate ${verdict(ratio >= 0.5)}; p99 < 25 ms ${verdict(click.p99 < 25)}`);
  } finally {
    await handle.close();
    if (keep) console.log(`kept ${created.url}`);
    else await created.drop();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await benchClicks(process.env.BENCH_KEEP === '1');
