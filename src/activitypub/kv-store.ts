/**
 * Fedify's key–value store on our own database (table fedify_kv, migrations/0002_fedify.ts).
 *
 * Keys are stored as text[] so that prefix listing compares whole elements. Values are JSON
 * (jsonb): Fedify only stores JSON-shaped data (documents, keys as JWK, timestamps as strings).
 * Time is the database's clock (now()), so several processes agree on what has expired.
 * Expired rows are filtered out of every read and deleted now and then by a write (a sweep at
 * most every `sweepIntervalMs`), so nothing needs a background timer.
 */
import type { KvKey, KvStore, KvStoreListEntry, KvStoreSetOptions } from '@fedify/fedify';
import { type Kysely, sql } from 'kysely';
import type { DB } from '../db/schema.ts';

export interface KyselyKvStoreOptions {
  /** The least time between two sweeps of expired entries. 60 s by default; 0 sweeps on every write. */
  sweepIntervalMs?: number;
  /** Rows fetched per round trip by `list()`. 500 by default. */
  listBatchSize?: number;
}

/** Durations in milliseconds; Fedify hands us Temporal.Duration values. */
export function durationToMs(duration: { total(unit: 'millisecond'): number }): number {
  return duration.total('millisecond');
}

/** `now() + ttl`, or NULL when there is no TTL. */
function expiry(options: KvStoreSetOptions | undefined) {
  if (options?.ttl == null) return sql<Date | null>`NULL::timestamptz`;
  const ms = Math.max(0, durationToMs(options.ttl));
  return sql<Date | null>`now() + ${ms}::float8 * interval '1 millisecond'`;
}

/** The SQL condition "this row has not expired". */
const live = sql<boolean>`(expires_at IS NULL OR expires_at > now())`;

/** JSON text for a jsonb parameter (pg would turn a JS array into a PostgreSQL array). */
function json(value: unknown): string {
  return JSON.stringify(value) ?? 'null';
}

export class KyselyKvStore implements KvStore {
  readonly #db: Kysely<DB>;
  readonly #sweepIntervalMs: number;
  readonly #listBatchSize: number;
  #nextSweepAt = 0;

  constructor(db: Kysely<DB>, options: KyselyKvStoreOptions = {}) {
    this.#db = db;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.#listBatchSize = options.listBatchSize ?? 500;
  }

  async get<T = unknown>(key: KvKey): Promise<T | undefined> {
    const row = await this.#db
      .selectFrom('fedify_kv')
      .select('value')
      .where(sql<boolean>`key = ${[...key]}::text[]`)
      .where(live)
      .executeTakeFirst();
    return row?.value as T | undefined;
  }

  async set(key: KvKey, value: unknown, options?: KvStoreSetOptions): Promise<void> {
    await sql`
      INSERT INTO fedify_kv (key, value, expires_at)
      VALUES (${[...key]}::text[], ${json(value)}::jsonb, ${expiry(options)})
      ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
    `.execute(this.#db);
    await this.#maybeSweep();
  }

  async delete(key: KvKey): Promise<void> {
    await this.#db
      .deleteFrom('fedify_kv')
      .where(sql<boolean>`key = ${[...key]}::text[]`)
      .execute();
  }

  /**
   * Sets `newValue` if the current value deep-equals `expectedValue` (undefined: no live entry),
   * in one statement, so concurrent callers cannot both win. jsonb equality ignores object key
   * order, like Fedify's own deep comparison.
   */
  async cas(key: KvKey, expectedValue: unknown, newValue: unknown, options?: KvStoreSetOptions): Promise<boolean> {
    const k = [...key];
    const result =
      expectedValue === undefined
        ? // Absent, or present but expired (which counts as absent): insert or take over the row.
          await sql`
            INSERT INTO fedify_kv (key, value, expires_at)
            VALUES (${k}::text[], ${json(newValue)}::jsonb, ${expiry(options)})
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
              WHERE fedify_kv.expires_at IS NOT NULL AND fedify_kv.expires_at <= now()
          `.execute(this.#db)
        : await sql`
            UPDATE fedify_kv SET value = ${json(newValue)}::jsonb, expires_at = ${expiry(options)}
            WHERE key = ${k}::text[] AND value = ${json(expectedValue)}::jsonb AND ${live}
          `.execute(this.#db);
    const swapped = (result.numAffectedRows ?? 0n) > 0n;
    if (swapped) await this.#maybeSweep();
    return swapped;
  }

  /**
   * Live entries whose key starts with `prefix` (all entries without one), in key order.
   * Pages by key (keyset pagination) and holds no connection between pages, so the caller may
   * use the database inside the loop (PGlite has a single connection).
   */
  async *list(prefix?: KvKey): AsyncIterable<KvStoreListEntry> {
    const pattern = prefix == null ? null : [...prefix];
    let after: string[] | null = null;
    for (;;) {
      const { rows } = await sql<{ key: string[]; value: unknown }>`
        SELECT key, value FROM fedify_kv
        WHERE ${live}
          ${pattern == null ? sql`` : sql`AND key[1:${pattern.length}] = ${pattern}::text[]`}
          ${after == null ? sql`` : sql`AND key > ${after}::text[]`}
        ORDER BY key
        LIMIT ${this.#listBatchSize}
      `.execute(this.#db);
      for (const row of rows) yield { key: row.key as unknown as KvKey, value: row.value };
      if (rows.length < this.#listBatchSize) return;
      after = rows[rows.length - 1]!.key;
    }
  }

  /** Deletes expired rows, at most once per sweep interval per store. */
  async #maybeSweep(): Promise<void> {
    const now = Date.now();
    if (now < this.#nextSweepAt) return;
    this.#nextSweepAt = now + this.#sweepIntervalMs;
    // Housekeeping only: the write that triggered it has succeeded, and reads never see expired
    // rows, so a failed sweep is left to the next one rather than failing the caller.
    await this.#db
      .deleteFrom('fedify_kv')
      .where('expires_at', '<=', sql<Date>`now()`)
      .execute()
      .catch(() => {});
  }
}

/**
 * Fedify remembers for a day which activities its inbox has processed, under
 * ["_fedify", "activityIdempotence", ...]; its queued inbox path does so whatever
 * `withIdempotency` says. Farthing counts an activity once FOREVER by a UNIQUE column instead,
 * and a Like sent again on purpose (to repair a disputed statement) must reach the listener, so
 * this store forgets those keys and passes everything else through.
 */
export class WithoutActivityCache implements KvStore {
  readonly #inner: KvStore;

  constructor(inner: KvStore) {
    this.#inner = inner;
  }

  static #skipped(key: KvKey): boolean {
    return key[0] === '_fedify' && key[1] === 'activityIdempotence';
  }

  get<T = unknown>(key: KvKey): Promise<T | undefined> {
    return WithoutActivityCache.#skipped(key) ? Promise.resolve(undefined) : this.#inner.get<T>(key);
  }

  set(key: KvKey, value: unknown, options?: KvStoreSetOptions): Promise<void> {
    return WithoutActivityCache.#skipped(key) ? Promise.resolve() : this.#inner.set(key, value, options);
  }

  delete(key: KvKey): Promise<void> {
    return this.#inner.delete(key);
  }

  cas(key: KvKey, expectedValue: unknown, newValue: unknown, options?: KvStoreSetOptions): Promise<boolean> {
    return this.#inner.cas!(key, expectedValue, newValue, options);
  }

  list(prefix?: KvKey) {
    return this.#inner.list!(prefix);
  }
}
