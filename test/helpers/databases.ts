/**
 * Each integration test file gets its own freshly migrated database: a new PostgreSQL database
 * on the machine's server (dropped in teardown) and an in-memory embedded PGlite.
 * When PostgreSQL cannot be reached the PostgreSQL half is skipped with the reason, except
 * under CI=true, where it fails: CI machines always have PostgreSQL.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { type DatabaseHandle, type DatabaseKind, openDatabase } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';

import type { Test } from 'tap';

type Tap = Pick<Test, 'test' | 'teardown' | 'fail'>;

export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** Creates a fresh, empty PostgreSQL database and answers its URL and a function that drops it. */
export async function createPostgresDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `farthing_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
      await client.connect();
      try {
        // A closed pool's sockets take a moment to go; dropping WITH (FORCE) at once would kill
        // them mid-goodbye and surface as an error in the test. Wait for them, then drop.
        for (let i = 0; i < 50; i++) {
          const { rows } = await client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [name]);
          if (rows[0].n === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

let reachable: Promise<string | null> | undefined;
/** null when PostgreSQL answers, else why not. */
export function postgresUnavailable(): Promise<string | null> {
  reachable ??= (async () => {
    const client = new pg.Client({ connectionString: POSTGRES_ADMIN_URL, connectionTimeoutMillis: 3000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      return null;
    } catch (error) {
      return `PostgreSQL is not reachable at ${POSTGRES_ADMIN_URL}: ${(error as Error).message}`;
    } finally {
      await client.end().catch(() => {});
    }
  })();
  return reachable;
}

/**
 * Opens a freshly migrated database of the given kind. It is closed (and dropped) by
 * `t.teardown`, or, with `manage: false`, by calling the answer's `dispose` yourself.
 */
export async function freshDatabase(
  t: Pick<Tap, 'teardown'>,
  kind: DatabaseKind,
  options: { poolSize?: number; manage?: boolean } = {},
): Promise<DatabaseHandle & { dispose(): Promise<void> }> {
  let handle: DatabaseHandle;
  let dispose: () => Promise<void>;
  if (kind === 'pglite') {
    handle = await openDatabase({});
    dispose = () => handle.close();
  } else {
    const created = await createPostgresDatabase();
    handle = await openDatabase({ url: created.url, ...(options.poolSize ? { poolSize: options.poolSize } : {}) });
    dispose = async () => {
      await handle.close();
      await created.drop();
    };
  }
  if (options.manage !== false) t.teardown(dispose);
  await migrateToLatest(handle.db);
  return Object.assign(handle, { dispose });
}

/**
 * Runs `body` once per database kind as a subtest ("postgres", "pglite"). PostgreSQL is skipped
 * with its reason when it cannot be reached, except under CI where that is a failure.
 */
export async function eachDatabase(
  t: Tap,
  body: (t: Test, kind: DatabaseKind) => Promise<void>,
  kinds: DatabaseKind[] = ['postgres', 'pglite'],
): Promise<void> {
  for (const kind of kinds) {
    if (kind === 'postgres') {
      const why = await postgresUnavailable();
      if (why) {
        if (process.env.CI) t.fail(`${why} (CI must have PostgreSQL)`);
        else await t.test(kind, { skip: why }, () => {});
        continue;
      }
    }
    await t.test(kind, (sub) => body(sub, kind));
  }
}
