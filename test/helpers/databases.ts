/**
 * Each integration test file gets its own freshly migrated database: a new PostgreSQL database
 * on the machine's server (dropped in teardown) and an in-memory embedded PGlite.
 * When PostgreSQL cannot be reached the PostgreSQL half is skipped with the reason, except
 * under CI=true, where it fails: CI machines always have PostgreSQL.
 *
 * Migrating an empty cluster is most of a test instance's start (an embedded cluster's initdb
 * alone takes seconds), so both kinds start from a migrated template made once per set of
 * migrations: a PostgreSQL template database, and a PGlite data directory tarball in the temp
 * directory. Both are named by a hash of the migrations, so a changed migration makes new ones.
 */
import { createHash, randomBytes } from 'node:crypto';
import { openAsBlob, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect, sql } from 'kysely';
import pg from 'pg';
import type { Test } from 'tap';
import { type DatabaseHandle, type DatabaseKind, openDatabase, PGLITE_PARSERS } from '../../src/db/database.ts';
import { MIGRATIONS_DIR, migrateToLatest } from '../../src/db/migrate.ts';
import type { DB } from '../../src/db/schema.ts';

type Tap = Pick<Test, 'test' | 'teardown' | 'fail'>;

export const POSTGRES_ADMIN_URL = process.env.TEST_POSTGRES_URL ?? process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

let migrationsKey: string | undefined;
/** A short hash of the migration files' names and contents. */
function migrationsHash(): string {
  if (migrationsKey) return migrationsKey;
  const hash = createHash('sha256');
  for (const file of readdirSync(MIGRATIONS_DIR).sort())
    hash
      .update(file)
      .update('\0')
      .update(readFileSync(path.join(MIGRATIONS_DIR, file)))
      .update('\0');
  migrationsKey = hash.digest('hex').slice(0, 16);
  return migrationsKey;
}

function databaseUrl(name: string): string {
  const url = new URL(POSTGRES_ADMIN_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/**
 * The migrated PostgreSQL template database, made once per set of migrations by whichever test
 * process gets there first (an advisory lock keeps the others waiting); older ones are dropped.
 */
async function postgresTemplate(admin: pg.Client): Promise<string> {
  const name = `farthing_template_${migrationsHash()}`;
  await admin.query("SELECT pg_advisory_lock(hashtext('farthing test template'))");
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount) return name;
    const { rows } = await admin.query("SELECT datname FROM pg_database WHERE datname LIKE 'farthing\\_template\\_%'");
    for (const row of rows) await admin.query(`DROP DATABASE IF EXISTS ${row.datname} WITH (FORCE)`);
    const building = `${name}_building`;
    await admin.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`);
    await admin.query(`CREATE DATABASE ${building}`);
    const handle = await openDatabase({ url: databaseUrl(building), poolSize: 1 });
    try {
      await migrateToLatest(handle.db);
      await checkTemplateHoldsNoRows(handle.db);
    } finally {
      await handle.close();
    }
    // Renamed only once complete: a process that died mid-way leaves no half-made template.
    await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
    return name;
  } finally {
    await admin.query("SELECT pg_advisory_unlock(hashtext('farthing test template'))");
  }
}

/**
 * Creates a fresh PostgreSQL database and answers its URL and a function that drops it: empty,
 * or, with `migrated`, a copy of the migrated template.
 */
export async function createPostgresDatabase(options: { migrated?: boolean } = {}): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `farthing_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: POSTGRES_ADMIN_URL });
  await admin.connect();
  try {
    if (!options.migrated) await admin.query(`CREATE DATABASE ${name}`);
    else {
      // Another checkout with other migrations (a second worktree) may have just replaced the
      // template: then this process makes its own again.
      for (let attempt = 1; ; attempt++) {
        try {
          await admin.query(`CREATE DATABASE ${name} TEMPLATE ${await postgresTemplate(admin)}`);
          break;
        } catch (error) {
          if ((error as { code?: string }).code !== '3D000' || attempt === 3) throw error;
        }
      }
    }
  } finally {
    await admin.end();
  }
  return {
    url: databaseUrl(name),
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

let pgliteTemplateData: Promise<Blob> | undefined;
/**
 * The migrated PGlite data directory as a tarball, kept in the temp directory for every test
 * process (written under a temporary name and renamed, so no process reads half a file).
 */
function pgliteTemplate(): Promise<Blob> {
  pgliteTemplateData ??= (async () => {
    const file = path.join(tmpdir(), `farthing-pglite-template-${migrationsHash()}.tar`);
    try {
      // Read from the file when PGlite loads it, not copied into memory first.
      return await openAsBlob(file);
    } catch {
      const pglite = await PGlite.create();
      try {
        const db = new Kysely<DB>({ dialect: new PGliteDialect({ pglite }) });
        await migrateToLatest(db);
        await checkTemplateHoldsNoRows(db);
        const tarball = await pglite.dumpDataDir('none');
        const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
        writeFileSync(temporary, new Uint8Array(await tarball.arrayBuffer()));
        renameSync(temporary, file);
        return tarball;
      } finally {
        await pglite.close();
      }
    }
  })();
  return pgliteTemplateData;
}

/**
 * Databases this test process made and has done with, emptied, for the next scenario. Making one
 * is most of a small scenario's cost (a PGlite instance loads a 40 MB cluster; PostgreSQL copies
 * a template and later drops it), and a file runs many scenarios, so each process keeps what it
 * made and drops the PostgreSQL ones when its tests end.
 */
const idle: { postgres: IdlePostgres[]; pglite: PGlite[] } = { postgres: [], pglite: [] };
interface IdlePostgres {
  url: string;
  drop: () => Promise<void>;
  /** The scenario's connection pool, still open, when it could be kept (see keepOpen). */
  open?: { handle: DatabaseHandle; poolSize: number | undefined };
}
let dropAtEnd: Promise<void> | undefined;

/**
 * Empties a used database back to what a fresh copy of the template holds: the migrations write
 * no rows but their own bookkeeping (the template's maker checks that), so every other table's
 * rows are deleted and every sequence starts again. DELETE rather than TRUNCATE: a scenario
 * leaves a few rows in a few tables, and TRUNCATE gives each of the ~50 tables and ~130 indexes
 * new files, 145 ms of the server's CPU per scenario against 8 ms for the DELETEs. The DELETEs
 * run as a replica would apply them (`session_replication_role`), so the ledger's append-only
 * trigger and the foreign keys do not fire: every table is emptied, in no particular order.
 * Session state of the embedded database (advisory locks, settings) is discarded too;
 * PostgreSQL's went with the scenario's connections.
 */
async function empty(database: { rows(sql: string): Promise<Record<string, unknown>[]>; exec(sql: string): Promise<unknown> }): Promise<void> {
  await database.exec(['BEGIN', ...(await emptyingStatements(database.rows)), 'COMMIT;'].join(';\n'));
}

/** The statements (in one transaction) that empty a database, the same for every copy of the one template. */
function emptyingStatements(rows: (sql: string) => Promise<Record<string, unknown>[]>): Promise<string[]> {
  emptying ??= rows(
    "SELECT format('DELETE FROM %I', tablename) AS statement FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'kysely\\_migration%' ORDER BY tablename",
  ).then((tables) => [
    "SET LOCAL session_replication_role = 'replica'",
    ...tables.map((row) => row.statement as string),
    "SELECT setval(format('%I.%I', schemaname, sequencename), start_value, false) FROM pg_sequences WHERE schemaname = 'public'",
  ]);
  return emptying;
}
let emptying: Promise<string[]> | undefined;

/** Fails when a migration wrote rows that `empty` would lose. */
async function checkTemplateHoldsNoRows(db: Kysely<DB>): Promise<void> {
  const { rows: tables } = await sql<{ name: string }>`
    SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'kysely\\_migration%'`.execute(db);
  const written: string[] = [];
  for (const { name } of tables) {
    const { rows } = await sql<{ any: boolean }>`SELECT EXISTS (SELECT 1 FROM ${sql.table(name)}) AS any`.execute(db);
    if (rows[0]?.any) written.push(name);
  }
  if (written.length)
    throw new Error(`the migrations wrote rows into ${written.join(', ')}: test/helpers/databases.ts empties used databases with TRUNCATE and would lose them`);
}

/** A PGlite handle whose close() leaves the instance open, to be emptied and used again. */
function reusable(pglite: PGlite): PGlite {
  return new Proxy(pglite, {
    get(target, property) {
      if (property === 'close') return async () => {};
      const value = Reflect.get(target, property, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

async function dropIdleWhenTestsEnd(): Promise<void> {
  dropAtEnd ??= import('tap').then(({ default: tap }) => {
    tap.teardown(async () => {
      for (const database of idle.postgres.splice(0)) {
        await database.open?.handle.close();
        await database.drop();
      }
      for (const pglite of idle.pglite.splice(0)) await pglite.close();
    });
  });
  await dropAtEnd;
}

/**
 * Opens a freshly migrated database of the given kind: one this process made for an earlier
 * scenario, emptied, or else a new copy of the template. It is given back (or dropped, when it
 * cannot be emptied) by `t.teardown`, or, with `manage: false`, by calling the answer's `dispose`.
 */
export async function freshDatabase(
  t: Pick<Tap, 'teardown'>,
  kind: DatabaseKind,
  options: { poolSize?: number; manage?: boolean } = {},
): Promise<DatabaseHandle & { dispose(): Promise<void> }> {
  await dropIdleWhenTestsEnd();
  let handle: DatabaseHandle;
  let dispose: () => Promise<void>;
  if (kind === 'pglite') {
    const pglite = idle.pglite.pop() ?? (await PGlite.create({ loadDataDir: await pgliteTemplate(), parsers: PGLITE_PARSERS }));
    const db = new Kysely<DB>({ dialect: new PGliteDialect({ pglite: reusable(pglite) }) });
    handle = { db, kind, url: undefined, close: () => db.destroy() };
    dispose = async () => {
      await handle.close();
      try {
        if (pglite.closed) return;
        await pglite.exec('ROLLBACK; SELECT pg_advisory_unlock_all(); RESET ALL;');
        await empty({ rows: async (text) => (await pglite.query<Record<string, unknown>>(text)).rows, exec: (text) => pglite.exec(text) });
        idle.pglite.push(pglite);
      } catch {
        await pglite.close().catch(() => {});
      }
    };
  } else {
    const database: IdlePostgres = idle.postgres.pop() ?? (await createPostgresDatabase({ migrated: true }));
    // Its pool, if it was kept and is of the size asked for; another size is closed.
    let opened = database.open && database.open.poolSize === options.poolSize ? database.open.handle : undefined;
    if (!opened) {
      await database.open?.handle.close();
      opened = await openDatabase({ url: database.url, ...(options.poolSize ? { poolSize: options.poolSize } : {}) });
    }
    delete database.open;
    let closed = false;
    handle = {
      ...opened,
      // A Kysely object of the scenario's own on the same pool: the app keeps caches per database
      // object (periods known to exist, verified tokens), which must not outlive the rows.
      db: opened.db.$extendTables<Record<never, never>>() as Kysely<DB>,
      close: async () => {
        closed = true;
        await opened.close();
      },
    };
    dispose = async () => {
      if (!closed && (await keepOpen(opened.db))) {
        idle.postgres.push({ ...database, open: { handle: opened, poolSize: options.poolSize } });
        return;
      }
      if (!closed) await opened.close();
      if (await emptyPostgres(database.url)) idle.postgres.push(database);
      else await database.drop();
    };
  }
  if (options.manage !== false) t.teardown(dispose);
  await migrateToLatest(handle.db);
  return Object.assign(handle, { dispose });
}

/**
 * Empties a PostgreSQL database through the scenario's own pool, to be handed on with it: its
 * connections have their catalog caches and prepared statements (database.ts prepares every
 * statement) warm, where a new pool's backends would read the catalog and prepare each statement
 * again, about 0.3 s of the server's CPU per instance. Kept only when nothing of the scenario is
 * left on them: no connection of the database busy or inside a transaction, no advisory lock
 * held (the app sets no session settings). False when it is not kept: then the pool is closed
 * and the database emptied from a connection of its own.
 */
async function keepOpen(db: Kysely<DB>): Promise<boolean> {
  try {
    const { rows } = await sql<{ busy: number; advisory: number }>`
      SELECT
        (SELECT count(*)::int FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle') AS busy,
        (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())) AS advisory`.execute(
      db,
    );
    if (rows[0]?.busy !== 0 || rows[0]?.advisory !== 0) return false;
    const statements = await emptyingStatements(async (text) => (await sql.raw<Record<string, unknown>>(text).execute(db)).rows);
    // One statement at a time: every statement through the pool is a prepared one.
    await db.transaction().execute(async (trx) => {
      for (const statement of statements) await sql.raw(statement).execute(trx);
    });
    return true;
  } catch {
    return false;
  }
}

/** Empties a PostgreSQL database a scenario used; false when it cannot be (then it is dropped). */
async function emptyPostgres(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
    // A scenario's child process may have died holding connections; their locks go with them.
    await client.query("SET lock_timeout = '10s'");
    await empty({ rows: async (text) => (await client.query(text)).rows, exec: (text) => client.query(text) });
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Where the scenarios run. Every scenario runs on PostgreSQL, the database of any instance past a
 * handful of members and the one with real concurrency. The embedded PGlite (the zero-setup
 * default) speaks the same SQL through the same code; it runs the files in which the database's
 * own behaviour is under test (the ledger's triggers and locks, the close, queues and leases,
 * a whole API journey, a federation and settlement round): those call eachDatabaseEmbeddedToo. Running every
 * scenario on both took twice the suite's time for little more: FARTHING_TEST_DATABASES=postgres,pglite
 * (or `npm run test:both`) still does that.
 */
const EMBEDDED_TOO: readonly DatabaseKind[] = ['postgres', 'pglite'];

function defaultKinds(): readonly DatabaseKind[] {
  const named = process.env.FARTHING_TEST_DATABASES?.split(',')
    .map((kind) => kind.trim())
    .filter(Boolean);
  if (!named?.length) return ['postgres'];
  for (const kind of named) if (kind !== 'postgres' && kind !== 'pglite') throw new Error(`FARTHING_TEST_DATABASES: unknown database '${kind}'`);
  return named as DatabaseKind[];
}

/**
 * The database of a scenario written for one database (the browser journeys, say): PostgreSQL,
 * or the first of FARTHING_TEST_DATABASES.
 */
export function defaultDatabaseKind(): DatabaseKind {
  return defaultKinds()[0] as DatabaseKind;
}

/**
 * Runs `body` once per database kind as a subtest ("postgres", "pglite"): on `kinds`, by default
 * PostgreSQL only (see eachDatabaseEmbeddedToo), or FARTHING_TEST_DATABASES's list when set (a machine without
 * PostgreSQL runs FARTHING_TEST_DATABASES=pglite). PostgreSQL is skipped with its reason when it cannot be
 * reached, except under CI where that is a failure.
 */
export async function eachDatabase(t: Tap, body: (t: Test, kind: DatabaseKind) => Promise<void>, kinds?: readonly DatabaseKind[]): Promise<void> {
  const chosen = kinds ?? defaultKinds();
  for (const kind of chosen) {
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

/** eachDatabase on PostgreSQL and on the embedded PGlite, for files where the database's own behaviour is tested. */
export function eachDatabaseEmbeddedToo(t: Tap, body: (t: Test, kind: DatabaseKind) => Promise<void>): Promise<void> {
  return eachDatabase(t, body, EMBEDDED_TOO);
}

/** How many rows `table` holds: for scenarios that check a refused input wrote nothing. */
export async function rowCount(db: Kysely<DB>, table: keyof DB & string): Promise<number> {
  const { rows } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM ${sql.table(table)}`.execute(db);
  return rows[0]?.n ?? 0;
}
