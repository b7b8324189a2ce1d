/**
 * KyselyMessageQueue against PostgreSQL and PGlite: Fedify's conformance suite, then what the
 * suite does not check — wake-up without polling, delays by the database clock, ordering keys
 * under concurrency, exactly-once across two "processes" (two pools on one PostgreSQL database),
 * leases that bring back the message of a dead worker, failing handlers, depth.
 */
import { testMessageQueue } from '@fedify/testing';
import { sql } from 'kysely';
import t, { type Test } from 'tap';
import { KyselyMessageQueue, type KyselyMessageQueueOptions } from '../../src/activitypub/message-queue.ts';
import { duration } from '../../src/activitypub/temporal.ts';
import { type Database, type DatabaseHandle, type DatabaseKind, openDatabase } from '../../src/db/database.ts';
import { eachDatabaseEmbeddedToo, freshDatabase } from '../helpers/databases.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const ms = (milliseconds: number) => duration({ milliseconds });

async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Starts a listener; `stop()` aborts it and waits until listen() has returned (also at teardown). */
function listening(t: Test, queue: KyselyMessageQueue, handler: (message: any) => Promise<void> | void) {
  const controller = new AbortController();
  const done = queue.listen(handler, { signal: controller.signal });
  const stop = async () => {
    controller.abort();
    await done;
  };
  t.teardown(stop);
  return { stop, done };
}

await eachDatabaseEmbeddedToo(t, async (t, kind: DatabaseKind) => {
  const main = await freshDatabase(t, kind, { manage: false });
  const others: DatabaseHandle[] = [];
  t.teardown(async () => {
    for (const other of others) await other.close().catch(() => {});
    await main.dispose();
  });
  /** Another process's database: its own pool on PostgreSQL; PGlite has only the one connection. */
  const otherProcess = async (): Promise<{ db: Database; kill: () => Promise<void> }> => {
    if (kind === 'pglite') return { db: main.db, kill: async () => {} };
    const handle = await openDatabase({ url: main.url });
    others.push(handle);
    return { db: handle.db, kill: () => handle.close() };
  };
  const errors: unknown[] = [];
  const queue = (db: Database, options: KyselyMessageQueueOptions = {}) =>
    new KyselyMessageQueue(db, {
      pollIntervalMs: 200,
      leaseMs: 2_000,
      onError: (error) => errors.push(error),
      ...(kind === 'postgres' ? { listenConnection: main.url } : {}),
      ...options,
    });
  /**
   * Resolves once `n` connections LISTEN for the queue (PostgreSQL; other than `except`), so a
   * test acts when a listener is waiting, not after a guessed pause. PGlite listeners wake
   * in-process and are waiting as soon as listen() is called.
   */
  const listeners = async (n: number, except: number[] = []): Promise<number[]> => {
    if (kind === 'pglite') return [];
    let pids: number[] = [];
    await waitFor(
      `${n} LISTEN connection(s)`,
      async () => {
        const { rows } = await sql<{ pid: number }>`
        SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN fedify_messages' AND pid <> pg_backend_pid()`.execute(main.db);
        pids = rows.map((r) => r.pid).filter((pid) => !except.includes(pid));
        return pids.length >= n;
      },
      5_000,
    );
    return pids;
  };
  const remaining = async () => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM fedify_messages`.execute(main.db)).rows[0]!.n;
  t.beforeEach(async () => {
    errors.length = 0;
    await main.db.deleteFrom('fedify_messages').execute();
  });

  await t.test("Fedify's conformance suite (testMessageQueue, with ordering keys)", async (t) => {
    // Two queue instances on the same table; on PostgreSQL each has its own pool and LISTEN.
    const dbs = [main.db, (await otherProcess()).db];
    let made = 0;
    await testMessageQueue(
      () => queue(dbs[made++ % 2]!),
      ({ controller }) => controller.abort(),
      { testOrderingKey: true },
    );
    t.equal(made, 2, 'the suite ran with two queue instances');
    t.equal(await remaining(), 0, 'every message was removed once handled');
    t.same(errors, [], 'no errors reported');
  });

  await t.test('an enqueue wakes a listener at once, not at the next poll', async (t) => {
    // On PostgreSQL the listener is in another "process" (pool), so only NOTIFY can wake it.
    const other = await otherProcess();
    const received: number[] = [];
    listening(t, queue(other.db, { pollIntervalMs: 60_000 }), () => void received.push(Date.now()));
    await listeners(1);
    const sent = Date.now();
    await queue(main.db).enqueue('ping');
    await waitFor('the message', () => received.length === 1, 5_000);
    t.ok(received[0]! - sent < 3_000, `delivered in ${received[0]! - sent} ms with a 60 s poll interval`);
  });

  await t.test('a delayed message waits for its delay, and only for it', async (t) => {
    const received: { message: string; at: number }[] = [];
    const mq = queue(main.db, { pollIntervalMs: 60_000 });
    listening(t, mq, (message: string) => void received.push({ message, at: Date.now() }));
    await listeners(1);
    const sent = Date.now();
    await mq.enqueue('late', { delay: ms(1_500) });
    await mq.enqueue('now');
    await waitFor('both messages', () => received.length === 2, 8_000);
    t.same(
      received.map((r) => r.message),
      ['now', 'late'],
      'the undelayed message does not wait behind the delayed one',
    );
    const late = received[1]!.at - sent;
    t.ok(late >= 1_500, `not before its delay (${late} ms)`);
    t.ok(late < 4_500, `soon after its delay despite a 60 s poll interval (${late} ms)`);
  });

  await t.test('messages sharing an ordering key are handled one at a time, in order', async (t) => {
    const keys = ['k0', 'k1', 'k2'];
    const perKey = 8;
    const handled = new Map<string, number[]>(keys.map((k) => [k, []]));
    const inFlight = new Map<string, number>();
    let unkeyed = 0;
    let busy = 0;
    let maxBusy = 0;
    let overlapped = false;
    const handler = async (message: { key: string | null; n: number }) => {
      busy++;
      maxBusy = Math.max(maxBusy, busy);
      const key = message.key ?? 'none';
      inFlight.set(key, (inFlight.get(key) ?? 0) + 1);
      if (message.key && inFlight.get(key)! > 1) overlapped = true;
      await sleep(Math.random() * 15);
      if (message.key) handled.get(message.key)!.push(message.n);
      else unkeyed++;
      inFlight.set(key, inFlight.get(key)! - 1);
      busy--;
    };
    // Enqueued before anyone listens: six idle workers then compete for a backlog.
    const mq = queue(main.db);
    for (let n = 0; n < perKey; n++) {
      for (const key of keys) await mq.enqueue({ key, n }, { orderingKey: key });
      await mq.enqueue({ key: null, n });
    }
    const other = await otherProcess();
    listening(t, queue(main.db, { concurrency: 3 }), handler);
    listening(t, queue(other.db, { concurrency: 3 }), handler);
    await waitFor('every message', () => unkeyed + [...handled.values()].reduce((s, l) => s + l.length, 0) === perKey * 4, 15_000);
    const inOrder = Array.from({ length: perKey }, (_, n) => n);
    for (const key of keys) t.same(handled.get(key), inOrder, `${key}: in enqueue order`);
    t.equal(overlapped, false, 'never two messages of one key at once');
    t.ok(maxBusy > 1, `yet messages were handled concurrently (up to ${maxBusy} at once)`);
  });

  await t.test('two processes listening at once handle every message exactly once', async (t) => {
    const total = 600;
    const seen = new Map<number, number>();
    const byProcess = [0, 0];
    const handlerOf = (process: 0 | 1) => async (n: number) => {
      seen.set(n, (seen.get(n) ?? 0) + 1);
      byProcess[process]!++;
      await sleep(Math.random() * 3);
    };
    const producer = queue(main.db);
    const batch = (start: number) => producer.enqueueMany(Array.from({ length: 50 }, (_, i) => start + i));
    // Half waits as a backlog that eight idle workers race for; half arrives while they work.
    for (let start = 0; start < total / 2; start += 50) await batch(start);
    const other = await otherProcess();
    listening(t, queue(main.db, { concurrency: 4 }), handlerOf(0));
    listening(t, queue(other.db, { concurrency: 4 }), handlerOf(1));
    for (let start = total / 2; start < total; start += 50) await batch(start);
    await waitFor('every message', () => seen.size === total, 20_000);
    // Once every row is gone no message can be handed out again: a duplicate would be in by now.
    await waitFor('the handled messages to be removed', async () => (await remaining()) === 0, 5_000);
    t.equal(seen.size, total, 'every message handled');
    t.same(
      [...seen.values()].filter((count) => count !== 1),
      [],
      'none handled twice',
    );
    t.ok(byProcess[0]! > 0 && byProcess[1]! > 0, `both processes took part (${byProcess.join(' + ')})`);
    t.equal(await remaining(), 0, 'the table is empty');
    t.same(errors, []);
  });

  await t.test('a message left claimed by a dead worker is handled again after the lease', async (t) => {
    const mq = queue(main.db, { leaseMs: 1_500 });
    await mq.enqueue('orphan');
    // What a worker that died mid-handler leaves behind: a claim nobody renews.
    await sql`UPDATE fedify_messages SET claim_token = gen_random_uuid(), claimed_until = now() + interval '1500 ms', attempts = 1`.execute(main.db);
    const received: number[] = [];
    const started = Date.now();
    listening(t, mq, () => void received.push(Date.now()));
    await waitFor('the orphan', () => received.length === 1, 5_000);
    t.ok(received[0]! - started >= 1_400, `not while the lease lasts: handled once it ran out (${received[0]! - started} ms)`);
    await waitFor('the handled orphan to be removed', async () => (await remaining()) === 0, 2_000);
  });

  if (kind === 'postgres') {
    await t.test('a lost LISTEN connection is reported and replaced', async (t) => {
      const other = await otherProcess();
      const received: number[] = [];
      listening(t, queue(other.db, { pollIntervalMs: 60_000 }), () => void received.push(Date.now()));
      const [lost] = await listeners(1);
      const { rows } = await sql<{ terminated: boolean }>`
        SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
        WHERE datname = current_database() AND query = 'LISTEN fedify_messages' AND pid <> pg_backend_pid()
      `.execute(main.db);
      t.same(rows, [{ terminated: true }], "the listener's connection was killed");
      await waitFor('the loss to be reported', () => errors.length > 0, 2_000);
      await listeners(1, [lost as number]); // reconnected and LISTENing again
      const sent = Date.now();
      await queue(main.db).enqueue('after the loss');
      await waitFor('the message', () => received.length === 1, 5_000);
      t.ok(received[0]! - sent < 3_000, `woken by NOTIFY again (${received[0]! - sent} ms, 60 s poll interval)`);
    });

    await t.test('a process that dies while handling: the other process takes over after the lease', async (t) => {
      const leaseMs = 1_500;
      const a = await otherProcess();
      const b = await otherProcess();
      const aErrors: unknown[] = [];
      let releaseA!: () => void;
      const aStuck = new Promise<void>((resolve) => (releaseA = resolve));
      let aGot = 0;
      const bGot: number[] = [];
      const listenerA = listening(t, queue(a.db, { leaseMs, onError: (e) => aErrors.push(e) }), async () => {
        aGot++;
        await aStuck; // a handler that never finishes while the process lives
      });
      await queue(main.db).enqueue('job');
      await waitFor('process A to take the job', () => aGot === 1, 3_000);
      const leaseEnd = async () =>
        (await sql<{ until: Date; passed: boolean }>`SELECT claimed_until AS until, claimed_until < now() AS passed FROM fedify_messages`.execute(main.db))
          .rows[0];
      const firstLease = (await leaseEnd())!.until.getTime();
      listening(t, queue(b.db, { leaseMs }), () => void bGot.push(Date.now()));

      // Until A's first lease has run out and a whole lease after it, B (polling every 200 ms)
      // would have taken the job had A not renewed.
      await waitFor('a whole lease past the first', async () => (await leaseEnd())!.until.getTime() >= firstLease + leaseMs, leaseMs * 4);
      await waitFor(
        'the first lease to be over',
        async () => (await sql<{ over: boolean }>`SELECT now() > ${new Date(firstLease + leaseMs)} AS over`.execute(main.db)).rows[0]!.over,
        leaseMs * 4,
      );
      t.same(bGot, [], 'while A lives it renews its lease: B never gets the job');
      t.equal(aGot, 1);

      const died = Date.now();
      await a.kill(); // its pool is gone: no renewal, no completion
      await waitFor('process B to take over', () => bGot.length === 1, leaseMs + 5_000);
      t.ok(bGot[0]! - died <= leaseMs + 3_000, `B got the job ${bGot[0]! - died} ms after A died`);
      await waitFor('B to remove the handled job', async () => (await remaining()) === 0, 2_000);

      releaseA();
      await listenerA.stop();
      t.ok(aErrors.length > 0, 'A reported that it could not renew or remove the message');
      t.equal(aGot, 1, 'A never saw it again');
      t.equal(bGot.length, 1, 'B handled it once');
    });
  }

  await t.test('a handler that throws: reported, removed, and the listener goes on', async (t) => {
    const received: string[] = [];
    const mq = queue(main.db);
    listening(t, mq, (message: string) => {
      received.push(message);
      if (message === 'boom') throw new Error('handler failed');
    });
    await mq.enqueue('boom');
    await mq.enqueue('after');
    await waitFor('both messages', () => received.length === 2, 3_000);
    // Once both rows are gone nothing can be delivered again.
    await waitFor('the messages to be removed', async () => (await remaining()) === 0, 3_000);
    t.same(received, ['boom', 'after'], 'each handled once: Fedify retries by enqueueing anew');
    t.match(errors, [{ message: 'handler failed' }], 'the failure went to onError');
    t.equal(await remaining(), 0);
  });

  await t.test('getDepth counts waiting messages, not ones being handled', async (t) => {
    const mq = queue(main.db);
    await mq.enqueueMany(['a', 'b']);
    await mq.enqueue('c', { delay: ms(60_000) });
    t.same(await mq.getDepth(), { queued: 3, ready: 2, delayed: 1 });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let got = 0;
    const listener = listening(t, mq, async () => {
      got++;
      await held;
    });
    await waitFor('a message in hand', () => got === 1, 3_000);
    t.same(await mq.getDepth(), { queued: 2, ready: 1, delayed: 1 }, 'the one in hand is not counted');
    release();
    await listener.stop();
  });

  await t.test('listen returns promptly once aborted', async (t) => {
    const controller = new AbortController();
    const done = queue(main.db, { pollIntervalMs: 60_000 }).listen(() => {}, { signal: controller.signal });
    await listeners(1); // waiting on its 60 s poll (PostgreSQL: and LISTENing)
    const aborted = Date.now();
    controller.abort();
    await done;
    t.ok(Date.now() - aborted < 2_000, 'resolved soon after the abort, not at the next poll');
    await queue(main.db).listen(() => {}, { signal: AbortSignal.abort() });
    t.pass('an already aborted signal returns at once');
  });
});
