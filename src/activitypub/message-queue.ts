/**
 * Fedify's message queue on our own database (table fedify_messages, migrations/0002_fedify.ts).
 *
 * A message is a row from enqueue until its handler has run. A worker claims one row at a time
 * with `FOR UPDATE SKIP LOCKED` (workers in other processes skip it instead of waiting) and
 * takes a lease: a random claim token and `claimed_until`. It renews the lease while the
 * handler runs and deletes the row (only while the token is still its own) when the handler is
 * done. If the process dies, the lease runs out and another worker claims the row again: a
 * message is delivered at least once, and twice only after a crash or a stall longer than the
 * lease.
 *
 * Ordering keys: a message is claimable only while no earlier message (lower seq) with the same
 * key is still in the table. Rows stay until handled, so messages sharing a key are handled one
 * at a time and in enqueue order, across any number of processes, without advisory locks.
 * (A delayed message therefore also holds back the later messages with its key.)
 *
 * Failures: `nativeRetrial` is false, so Fedify retries failed deliveries itself by enqueueing a
 * new message with a delay; a handler that throws anyway is reported and its message removed,
 * as Fedify's own PostgreSQL and Redis queues do (keeping it would retry it twice).
 *
 * Waking: every enqueue sends NOTIFY; a listener given `listenConnection` LISTENs on a dedicated
 * connection (PostgreSQL). Queues on the same Kysely instance also wake each other in-process,
 * which is what PGlite (one process, one connection) relies on. A listener also polls, and
 * sleeps no longer than until the next delayed message is due.
 *
 * Parallelism: use the `concurrency` option, not Fedify's ParallelMessageQueue, which returns
 * from our handler before the work is done (the row would be deleted early, the lease and the
 * ordering guarantee lost).
 */
import { randomUUID } from 'node:crypto';
import type { MessageQueue, MessageQueueDepth, MessageQueueEnqueueOptions, MessageQueueListenOptions } from '@fedify/fedify';
import { type Kysely, sql } from 'kysely';
import pg from 'pg';
import type { DB } from '../db/schema.ts';
import { durationToMs } from './kv-store.ts';

/** The NOTIFY channel; part of the schema contract, like the table name. */
export const MESSAGE_CHANNEL = 'fedify_messages';

export interface KyselyMessageQueueOptions {
  /**
   * How a listener gets its own connection for LISTEN (PostgreSQL only): a connection string or
   * a function answering a connected client. Without it listeners wake in-process and by polling.
   */
  listenConnection?: string | (() => Promise<pg.Client>);
  /** The fallback poll interval. Default: 5 s with `listenConnection`, 1 s without. */
  pollIntervalMs?: number;
  /** How long a claim lasts without renewal; a dead worker's message waits this long. 30 s by default. */
  leaseMs?: number;
  /** Messages one `listen()` handles at the same time. 1 by default. */
  concurrency?: number;
  /** Where errors go (a failed handler, a lost connection). Default: console.error. */
  onError?: (error: unknown, context: string) => void;
}

interface Claim {
  id: string;
  token: string;
  message: unknown;
}

export class KyselyMessageQueue implements MessageQueue {
  /** Fedify retries failed deliveries by enqueueing them again (see the file comment). */
  readonly nativeRetrial = false;
  readonly #db: Kysely<DB>;
  readonly #bell: Bell;
  readonly #connect: (() => Promise<pg.Client>) | undefined;
  readonly #pollIntervalMs: number;
  readonly #leaseMs: number;
  readonly #concurrency: number;
  readonly #onError: (error: unknown, context: string) => void;

  constructor(db: Kysely<DB>, options: KyselyMessageQueueOptions = {}) {
    this.#db = db;
    this.#bell = bellFor(db);
    const { listenConnection } = options;
    this.#connect =
      typeof listenConnection === 'string'
        ? async () => {
            const client = new pg.Client({ connectionString: listenConnection });
            await client.connect();
            return client;
          }
        : listenConnection;
    this.#pollIntervalMs = options.pollIntervalMs ?? (this.#connect ? 5_000 : 1_000);
    this.#leaseMs = options.leaseMs ?? 30_000;
    this.#concurrency = Math.max(1, options.concurrency ?? 1);
    this.#onError = options.onError ?? ((error, context) => console.error(`fedify queue: ${context}`, error));
  }

  enqueue(message: unknown, options?: MessageQueueEnqueueOptions): Promise<void> {
    return this.enqueueMany([message], options);
  }

  async enqueueMany(messages: readonly unknown[], options?: MessageQueueEnqueueOptions): Promise<void> {
    if (messages.length === 0) return;
    const delayMs = options?.delay == null ? 0 : Math.max(0, durationToMs(options.delay));
    const deliverAfter = sql<Date>`now() + ${delayMs}::float8 * interval '1 millisecond'`;
    const rows = messages.map((message) => ({
      id: randomUUID(),
      message: JSON.stringify(message) ?? 'null',
      ordering_key: options?.orderingKey ?? null,
      deliver_after: deliverAfter,
    }));
    // One statement: the rows (seq follows the array's order) and a NOTIFY sent at commit.
    await this.#db
      .with('inserted', (db) => db.insertInto('fedify_messages').values(rows).returning('id'))
      .selectNoFrom(sql`pg_notify(${MESSAGE_CHANNEL}, '')`.as('notified'))
      .execute();
    this.#bell.ring();
  }

  /** Runs `concurrency` workers until the signal aborts; waits for handlers in flight. Never rejects. */
  async listen(handler: (message: any) => Promise<void> | void, options: MessageQueueListenOptions = {}): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return;
    const notifications = this.#connect ? new NotificationListener(this.#connect, MESSAGE_CHANNEL, this.#bell, this.#pollIntervalMs, this.#onError) : undefined;
    notifications?.start();
    try {
      await Promise.all(Array.from({ length: this.#concurrency }, () => this.#work(handler, signal)));
    } finally {
      await notifications?.stop();
    }
  }

  /** Messages waiting: not claimed (or with a lapsed lease); ready ones include ones held back by their ordering key. */
  async getDepth(): Promise<MessageQueueDepth> {
    const { rows } = await sql<{ ready: number; delayed: number }>`
      SELECT count(*) FILTER (WHERE deliver_after <= now())::int AS ready,
             count(*) FILTER (WHERE deliver_after > now())::int AS delayed
      FROM fedify_messages
      WHERE claimed_until IS NULL OR claimed_until <= now()
    `.execute(this.#db);
    const { ready, delayed } = rows[0]!;
    return { queued: ready + delayed, ready, delayed };
  }

  async #work(handler: (message: any) => Promise<void> | void, signal: AbortSignal | undefined): Promise<void> {
    while (!signal?.aborted) {
      // Rings after this point end the sleep below at once: a message enqueued while we were
      // claiming is not left waiting for the next poll.
      let seen = this.#bell.rings;
      let sleepMs = this.#pollIntervalMs;
      try {
        const claim = await this.#claim();
        if (claim) {
          await this.#run(claim, handler);
          continue;
        }
        const dueInMs = await this.#nextDueInMs();
        // A few ms late rather than early: waking before the database's clock says "due" costs a round trip.
        if (dueInMs != null) sleepMs = Math.min(sleepMs, dueInMs + 5);
      } catch (error) {
        this.#onError(error, 'claiming a message');
        seen = this.#bell.rings; // while the database fails, retry at the poll interval, not at every ring
      }
      await this.#bell.sleep(seen, sleepMs, signal);
    }
  }

  /** Claims the next due message whose ordering key (if any) has no earlier message left. */
  async #claim(): Promise<Claim | undefined> {
    const token = randomUUID();
    const { rows } = await sql<{ id: string; message: unknown }>`
      UPDATE fedify_messages
      SET claim_token = ${token}::uuid,
          claimed_until = now() + ${this.#leaseMs}::float8 * interval '1 millisecond',
          attempts = attempts + 1
      WHERE id = (
        SELECT c.id FROM fedify_messages c
        WHERE c.deliver_after <= now()
          AND (c.claimed_until IS NULL OR c.claimed_until <= now())
          AND NOT EXISTS (
            SELECT 1 FROM fedify_messages earlier
            WHERE earlier.ordering_key = c.ordering_key AND earlier.seq < c.seq
          )
        ORDER BY c.deliver_after, c.seq
        LIMIT 1
        FOR UPDATE SKIP LOCKED
      )
      RETURNING id, message
    `.execute(this.#db);
    const row = rows[0];
    return row && { id: row.id, token, message: row.message };
  }

  /** Runs the handler under a renewed lease, then removes the message (see the file comment on failures). */
  async #run(claim: Claim, handler: (message: any) => Promise<void> | void): Promise<void> {
    let done = false;
    const renewal = setInterval(() => {
      this.#renew(claim).then(
        (held) => {
          if (!held && !done) this.#onError(new Error(`lost the lease on message ${claim.id}; it may be handled twice`), 'renewing a lease');
        },
        (error) => this.#onError(error, 'renewing a lease'),
      );
    }, this.#leaseMs / 3);
    try {
      await handler(claim.message);
    } catch (error) {
      this.#onError(error, `handling message ${claim.id}`);
    } finally {
      done = true;
      clearInterval(renewal);
    }
    // If this fails, the lease runs out and the message is handled again: at least once.
    await this.#db
      .deleteFrom('fedify_messages')
      .where('id', '=', claim.id)
      .where('claim_token', '=', claim.token)
      .execute()
      .catch((error) => this.#onError(error, `removing handled message ${claim.id}`));
  }

  /** Extends the lease; false when it is no longer ours (it ran out and someone else took it). */
  async #renew(claim: Claim): Promise<boolean> {
    const result = await sql`
      UPDATE fedify_messages SET claimed_until = now() + ${this.#leaseMs}::float8 * interval '1 millisecond'
      WHERE id = ${claim.id}::uuid AND claim_token = ${claim.token}::uuid
    `.execute(this.#db);
    return (result.numAffectedRows ?? 0n) > 0n;
  }

  /** Milliseconds until the next delayed message is due, by the database's clock; null if none. */
  async #nextDueInMs(): Promise<number | null> {
    const { rows } = await sql<{ ms: number | null }>`
      SELECT (extract(epoch FROM min(deliver_after) - now()) * 1000)::float8 AS ms
      FROM fedify_messages WHERE deliver_after > now()
    `.execute(this.#db);
    return rows[0]?.ms ?? null;
  }
}

/**
 * Wakes sleeping workers. `rings` counts rings, so a worker that was busy when one came (it read
 * the count before claiming) does not go to sleep past it.
 */
class Bell {
  rings = 0;
  readonly #sleepers = new Set<() => void>();

  ring(): void {
    this.rings++;
    for (const wake of this.#sleepers) wake();
  }

  /** Sleeps up to `ms`; returns at once if rung since `seen`, early if rung or aborted meanwhile. */
  sleep(seen: number, ms: number, signal: AbortSignal | undefined): Promise<void> {
    if (this.rings !== seen || signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#sleepers.delete(wake);
        signal?.removeEventListener('abort', wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      this.#sleepers.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }
}

// One bell per database handle: every queue on it, in this process, hears every enqueue.
const bells = new WeakMap<object, Bell>();
function bellFor(db: object): Bell {
  let bell = bells.get(db);
  if (!bell) bells.set(db, (bell = new Bell()));
  return bell;
}

/**
 * Keeps a dedicated connection LISTENing on the channel and rings the bell on each notification.
 * A lost connection is reported and replaced; while there is none, the workers poll.
 */
class NotificationListener {
  readonly #connect: () => Promise<pg.Client>;
  readonly #channel: string;
  readonly #bell: Bell;
  readonly #retryMs: number;
  readonly #onError: (error: unknown, context: string) => void;
  #client: pg.Client | undefined;
  #connecting: Promise<void> | undefined;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  constructor(connect: () => Promise<pg.Client>, channel: string, bell: Bell, retryMs: number, onError: (error: unknown, context: string) => void) {
    this.#connect = connect;
    this.#channel = channel;
    this.#bell = bell;
    this.#retryMs = retryMs;
    this.#onError = onError;
  }

  start(): void {
    this.#connecting = this.#open().finally(() => (this.#connecting = undefined));
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    await this.#connecting;
    await this.#close();
  }

  async #open(): Promise<void> {
    let client: pg.Client | undefined;
    try {
      const connected = (client = await this.#connect());
      client.on('error', (error) => this.#onError(error, 'the LISTEN connection'));
      client.on('notification', () => this.#bell.ring());
      // A connection we did not close ourselves was lost: reconnect at once (a failure to
      // reconnect then waits `retryMs`).
      client.on('end', () => {
        if (this.#client !== connected) return;
        this.#client = undefined;
        if (!this.#stopped) this.start();
      });
      await client.query(`LISTEN ${this.#channel}`);
      this.#client = client;
      if (this.#stopped) return await this.#close();
      // Whatever was enqueued while we were not listening would otherwise wait for a poll.
      this.#bell.ring();
    } catch (error) {
      this.#onError(error, 'opening the LISTEN connection');
      await client?.end().catch(() => {});
      this.#scheduleRetry();
    }
  }

  async #close(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    await client?.end().catch(() => {});
  }

  #scheduleRetry(): void {
    if (this.#stopped) return;
    this.#retry = setTimeout(() => this.start(), this.#retryMs);
  }
}
