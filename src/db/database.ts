/**
 * Opens the database: PostgreSQL when DATABASE_URL is set, otherwise the embedded PostgreSQL
 * (PGlite) in the data directory. Both speak the same SQL; int8 always arrives as bigint.
 */
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { Kysely, PGliteDialect, PostgresDialect } from 'kysely';
import pg from 'pg';
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

export interface OpenOptions {
  /** PostgreSQL connection string; when absent the embedded database is used. */
  url?: string | undefined;
  /** Directory for the embedded database; undefined keeps it in memory. */
  dataDir?: string | undefined;
  /** Size of the PostgreSQL pool. */
  poolSize?: number;
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
    const db = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
    return { db, kind: 'postgres', url: options.url, close: () => db.destroy() };
  }
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const pglite = await PGlite.create({
    ...(options.dataDir ? { dataDir: options.dataDir } : {}),
    parsers: { [INT8_OID]: parseInt8 },
  });
  const db = new Kysely<DB>({ dialect: new PGliteDialect({ pglite }) });
  return { db, kind: 'pglite', url: undefined, close: () => db.destroy() };
}
