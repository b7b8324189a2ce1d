/**
 * Opens the database: PostgreSQL when DATABASE_URL is set, otherwise the embedded PostgreSQL
 * (PGlite) in the data directory, which one process at a time may open (data-dir-lock.ts).
 * Both speak the same SQL; int8 always arrives as bigint.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect, PostgresDialect, type PostgresPool } from 'kysely';
import pg from 'pg';
import { lockDataDir } from './data-dir-lock.ts';
import type { DB } from './schema.ts';

export type Database = Kysely<DB>;
export type DatabaseKind = 'postgres' | 'pglite';

export interface DatabaseHandle {
  readonly db: Database;
  readonly kind: DatabaseKind;
  /** The connection string for PostgreSQL; undefined for the embedded database. */
  readonly url: string | undefined;
  close(): Promise<void>;
}

const INT8_OID = 20;
const parseInt8 = (value: string) => BigInt(value);
/** How the embedded database hands over values: int8 as bigint, as from PostgreSQL. */
export const PGLITE_PARSERS = { [INT8_OID]: parseInt8 };

export interface OpenOptions {
  /** PostgreSQL connection string; when absent the embedded database is used. */
  url?: string | undefined;
  /** Directory for the embedded database; undefined keeps it in memory. */
  dataDir?: string | undefined;
  /** Size of the PostgreSQL pool. */
  poolSize?: number;
  /**
   * The embedded database's files to start from (a tarball from PGlite's dumpDataDir), instead of
   * creating an empty cluster. Tests start each instance from one migrated copy this way.
   */
  pgliteDataDir?: Blob | undefined;
}

/**
 * Every query runs as a named prepared statement, so PostgreSQL parses and plans each distinct
 * statement once per connection instead of on every call. The application's statements are a
 * fixed set (kysely renders the same text for the same query shape); past a cap, unnamed.
 * This halves the database's CPU per click (see bench/clicks.ts).
 */
const MAX_PREPARED = 2_000;
const MAX_PREPARED_LENGTH = 20_000;
const statementNames = new Map<string, string>();

function statementName(text: string): string | undefined {
  let name = statementNames.get(text);
  if (name === undefined && statementNames.size < MAX_PREPARED && text.length <= MAX_PREPARED_LENGTH) {
    name = `k${createHash('sha1').update(text).digest('hex').slice(0, 20)}`;
    statementNames.set(text, name);
  }
  return name;
}

function preparingPool(pool: pg.Pool): PostgresPool {
  const wrappers = new WeakMap<pg.PoolClient, object>();
  return {
    Client: pg.Client,
    options: pool.options,
    end: () => pool.end(),
    connect: async () => {
      const client = await pool.connect();
      let wrapper = wrappers.get(client);
      if (!wrapper) {
        wrapper = {
          get processID() {
            return (client as unknown as { processID: number }).processID;
          },
          query: (text: unknown, values?: unknown[]) => {
            const name = typeof text === 'string' ? statementName(text) : undefined;
            return name ? client.query({ name, text: text as string, values: values ?? [] }) : client.query(text as string, values);
          },
          release: (destroy?: boolean) => client.release(destroy),
        };
        wrappers.set(client, wrapper);
      }
      return wrapper as Awaited<ReturnType<PostgresPool['connect']>>;
    },
  } as PostgresPool;
}

export async function openDatabase(options: OpenOptions): Promise<DatabaseHandle> {
  if (options.url) {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
      },
    });
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool: preparingPool(pool) }) });
    return { db, kind: 'postgres', url: options.url, close: () => db.destroy() };
  }
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const lock = options.dataDir ? lockDataDir(options.dataDir) : undefined;
  let pglite: PGlite;
  try {
    pglite = await PGlite.create({
      ...(options.dataDir ? { dataDir: options.dataDir } : {}),
      ...(options.pgliteDataDir ? { loadDataDir: options.pgliteDataDir } : {}),
      parsers: PGLITE_PARSERS,
    });
  } catch (error) {
    lock?.release();
    throw error;
  }
  const db = new Kysely<DB>({ dialect: new PGliteDialect({ pglite }) });
  return {
    db,
    kind: 'pglite',
    url: undefined,
    close: async () => {
      try {
        await db.destroy();
      } finally {
        lock?.release();
      }
    },
  };
}
