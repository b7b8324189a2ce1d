/**
 * The relay of every outbox (src/jobs/relay.ts) on both databases, on a table of its own: two
 * relays racing never deliver a row twice; a lease runs on the database's clock (moving the
 * instance clock does not free it) and, once run out, the row is taken again; a failing
 * delivery is retried on its schedule (instance clock) and then failed; rows of one group go
 * strictly in order, even with two relays racing. No sleeps: clocks are driven, or conditions
 * waited for with a deadline.
 */
import { sql } from 'kysely';
import t from 'tap';
import type { Context } from '../../src/context.ts';
import { ManualClock } from '../../src/core/clock.ts';
import { openDatabase } from '../../src/db/database.ts';
import { type Attempt, claim, type Outcome, type RelaySpec, relayDue } from '../../src/jobs/relay.ts';
import { eachDatabaseEmbeddedToo, freshDatabase } from '../helpers/databases.ts';

interface Row {
  id: bigint;
  grp: string;
  attempts: number;
}

const quiet = { error() {}, warn() {}, info() {}, debug() {} };

/** A spec over relay_test, delivering with `deliver` (default: success). */
function spec(ctx: Context, options: Partial<RelaySpec<Row>> & { outcomes?: Outcome[] } = {}): RelaySpec<Row> {
  return {
    name: 'test relay',
    table: 'relay_test',
    pending: (r) => `${r}.done_at IS NULL AND NOT ${r}.failed`,
    orderBy: 'r.id',
    batch: 10,
    leaseSeconds: 60,
    load: async (ids) => (await sql<Row>`SELECT id, grp, attempts FROM relay_test WHERE id IN (${sql.join(ids)}) ORDER BY id`.execute(ctx.db)).rows,
    deliver: async () => ({ ok: true }),
    record: (_row, outcome, attempt: Attempt) => {
      options.outcomes?.push(outcome);
      return {
        last_status: attempt.status ?? null,
        ...(outcome.kind === 'done' ? { done_at: ctx.clock.now() } : outcome.kind === 'failed' ? { failed: true } : {}),
      };
    },
    ...options,
  };
}

async function until(check: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Lets other promises (the other relay) run. */
const yieldTurn = () => new Promise((resolve) => setImmediate(resolve));

await eachDatabaseEmbeddedToo(t, async (t, kind) => {
  const handle = await freshDatabase(t, kind);
  await sql`CREATE TABLE relay_test (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    grp text NOT NULL DEFAULT 'x',
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    claimed_until timestamptz,
    last_status text,
    done_at timestamptz,
    failed boolean NOT NULL DEFAULT false)`.execute(handle.db);
  const clock = new ManualClock('2026-11-10T12:00:00Z');
  const ctx = { db: handle.db, clock, log: quiet } as unknown as Context;
  // A second process on the same database (PostgreSQL); PGlite has one connection, shared.
  let other = ctx;
  if (kind === 'postgres') {
    const second = await openDatabase({ url: handle.url, poolSize: 4 });
    t.teardown(() => second.close());
    other = { db: second.db, clock: new ManualClock('2026-11-10T12:00:00Z'), log: quiet } as unknown as Context;
  }
  const rows = async (values: { grp?: string; next_attempt_at?: Date }[]) => {
    await handle.db.deleteFrom('relay_test' as never).execute();
    for (const v of values)
      await sql`INSERT INTO relay_test (grp, next_attempt_at) VALUES (${v.grp ?? 'x'}, ${v.next_attempt_at ?? clock.now()})`.execute(handle.db);
  };

  t.test('two relays racing never deliver a row twice', async (t) => {
    await rows(Array.from({ length: 120 }, () => ({})));
    const delivered = new Map<bigint, number>();
    const deliver = async (row: Row) => {
      delivered.set(row.id, (delivered.get(row.id) ?? 0) + 1);
      await yieldTurn();
      return { ok: true } as const;
    };
    const passes = await Promise.all([relayDue(ctx, spec(ctx, { deliver })), relayDue(other, spec(other, { deliver })), relayDue(ctx, spec(ctx, { deliver }))]);
    // A relay whose claim found rows locked by another's may stop short; one more pass ends it.
    passes.push(await relayDue(ctx, spec(ctx, { deliver })));
    t.equal(delivered.size, 120, 'every row delivered');
    t.same(
      [...delivered.values()].filter((n) => n !== 1),
      [],
      'none twice',
    );
    t.equal(
      passes.reduce((n, p) => n + p.done, 0),
      120,
      'and counted once',
    );
    const left = await sql<{ n: number }>`SELECT count(*)::int AS n FROM relay_test WHERE done_at IS NULL OR claimed_until IS NOT NULL`.execute(handle.db);
    t.equal(left.rows[0]?.n, 0, 'all recorded, every lease released');
    t.same(await relayDue(ctx, spec(ctx, { deliver })), { claimed: 0, done: 0 }, 'nothing left');
  });

  /** Moves the database's clock for the leases: as if `seconds` had passed there. */
  const leasesAge = (seconds: number) =>
    sql`UPDATE relay_test SET claimed_until = claimed_until - make_interval(secs => ${seconds}) WHERE claimed_until IS NOT NULL`.execute(handle.db);

  t.test('a lease runs on the database clock; once it runs out the row is taken again', async (t) => {
    clock.set('2026-11-10T12:00:00Z');
    await rows([{}, {}]);
    // A relay that dies mid-batch: it claimed, and never recorded anything.
    const claimed = await claim(ctx, spec(ctx));
    t.equal(claimed.length, 2);
    const seen: bigint[] = [];
    const deliver = async (row: Row) => {
      seen.push(row.id);
      return { ok: true } as const;
    };
    clock.advance(3_600_000);
    t.same(await relayDue(other, spec(other, { deliver })), { claimed: 0, done: 0 }, 'held while its lease runs, whatever the instance clock says');
    await leasesAge(61);
    t.same(await relayDue(other, spec(other, { deliver })), { claimed: 2, done: 2 }, 'taken again once it ran out');
    t.same(seen, claimed, 'both delivered');
    // A delivery that throws is a relay dying: its lease is kept, and runs out.
    await rows([{}]);
    let throws = true;
    const flaky = async (row: Row) => {
      if (throws) throw new Error('the process died');
      seen.push(row.id);
      return { ok: true } as const;
    };
    t.same(await relayDue(ctx, spec(ctx, { deliver: flaky })), { claimed: 1, done: 0 });
    throws = false;
    t.same(await relayDue(ctx, spec(ctx, { deliver: flaky })), { claimed: 0, done: 0 }, 'not while its lease runs');
    await leasesAge(61);
    t.same(await relayDue(ctx, spec(ctx, { deliver: flaky })), { claimed: 1, done: 1 }, 'taken again once it ran out');
    // And in real time: a one-second lease runs out by itself.
    await rows([{}]);
    await claim(ctx, spec(ctx, { leaseSeconds: 1 }));
    await until(async () => (await relayDue(other, spec(other, { deliver }))).done === 1, 30_000, 'a short lease running out');
    t.pass('taken again after a second');
  });

  t.test('a failing delivery is retried on its schedule (instance clock), then failed', async (t) => {
    clock.set('2026-11-10T12:00:00Z');
    await rows([{ next_attempt_at: new Date('2030-01-01T00:00:00Z') }]);
    const outcomes: Outcome[] = [];
    let calls = 0;
    const failing = spec(ctx, {
      outcomes,
      schedule: { dueColumn: 'next_attempt_at', attemptsColumn: 'attempts', retrySeconds: (n) => [10, 60][n - 1] },
      deliver: async () => {
        calls++;
        return { ok: false, status: `500 #${calls}` };
      },
    });
    t.same(await relayDue(ctx, failing), { claimed: 1, done: 0 }, 'never attempted: due at once, whatever its due time');
    const row = async () =>
      (
        await sql<{
          attempts: number;
          next_attempt_at: Date;
          claimed_until: Date | null;
          last_status: string;
          failed: boolean;
        }>`SELECT attempts, next_attempt_at, claimed_until, last_status, failed FROM relay_test`.execute(handle.db)
      ).rows[0];
    t.match(await row(), { attempts: 1, last_status: '500 #1', claimed_until: null, failed: false });
    t.equal((await row())?.next_attempt_at.toISOString(), '2026-11-10T12:00:10.000Z', 'retried 10 s after on the instance clock');
    clock.set('2026-11-10T12:00:09.999Z');
    await relayDue(ctx, failing);
    t.equal(calls, 1, 'not before its time');
    clock.set('2026-11-10T12:00:10Z');
    await relayDue(ctx, failing);
    t.equal(calls, 2, 'at its time');
    t.equal((await row())?.next_attempt_at.toISOString(), '2026-11-10T12:01:10.000Z', 'then 60 s after');
    clock.advance(60_000);
    await relayDue(ctx, failing);
    t.match(await row(), { attempts: 3, last_status: '500 #3', failed: true, claimed_until: null }, 'failed after the schedule');
    t.same(
      outcomes.map((o) => o.kind),
      ['retry', 'retry', 'failed'],
    );
    clock.advance(86_400_000);
    await relayDue(ctx, failing);
    t.equal(calls, 3, 'never again');
    clock.set('2026-11-10T12:00:00Z');
  });

  t.test('rows of one group go strictly in order; other groups do not wait', async (t) => {
    clock.set('2026-11-10T12:00:00Z');
    await rows([{ grp: 'a' }, { grp: 'a' }, { grp: 'b' }, { grp: 'a' }]);
    const order: string[] = [];
    let failFirst = true;
    const grouped = spec(ctx, {
      group: 'grp',
      schedule: { dueColumn: 'next_attempt_at', attemptsColumn: 'attempts', retrySeconds: () => 2 },
      deliver: async (row) => {
        order.push(`${row.grp}${row.id}`);
        if (failFirst && row.grp === 'a') {
          failFirst = false;
          return { ok: false, status: 'down' };
        }
        return { ok: true };
      },
    });
    const ids = (await sql<{ id: bigint }>`SELECT id FROM relay_test ORDER BY id`.execute(handle.db)).rows.map((r) => r.id);
    const [a1, a2, b, a3] = ids;
    await relayDue(ctx, grouped);
    t.same(order, [`a${a1}`, `b${b}`], 'the first of a fails; b goes; the rest of a waits behind it');
    clock.advance(1_000);
    await relayDue(ctx, grouped);
    t.equal(order.length, 2, 'a waits while its first backs off');
    clock.advance(1_000);
    await relayDue(ctx, grouped);
    t.same(order, [`a${a1}`, `b${b}`, `a${a1}`, `a${a2}`, `a${a3}`], 'then a goes in order, in one pass');
    clock.set('2026-11-10T12:00:00Z');
  });

  t.test('two relays racing keep each group in order and one at a time', async (t) => {
    const values = [];
    for (let i = 0; i < 8; i++) for (const grp of ['p', 'q', 'r', 's']) values.push({ grp });
    await rows(values);
    const last = new Map<string, bigint>();
    const busy = new Set<string>();
    const problems: string[] = [];
    let delivered = 0;
    const deliver = async (row: Row) => {
      if (busy.has(row.grp)) problems.push(`${row.grp}: two at a time`);
      if ((last.get(row.grp) ?? 0n) >= row.id) problems.push(`${row.grp}: ${row.id} after ${last.get(row.grp)}`);
      busy.add(row.grp);
      await yieldTurn();
      busy.delete(row.grp);
      last.set(row.grp, row.id);
      delivered++;
      return { ok: true } as const;
    };
    const race = (c: Context) => relayDue(c, spec(c, { group: 'grp', concurrent: true, deliver }));
    // A relay may find nothing while the other holds every group's head; both go again until done.
    await until(
      async () => {
        await Promise.all([race(ctx), race(other)]);
        return delivered === 32;
      },
      60_000,
      'all delivered',
    );
    t.same(problems, [], 'in order, one at a time per group');
    t.equal(delivered, 32, 'each once');
  });
});
