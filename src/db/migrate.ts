/**
 * Runs the migrations in migrations/ (kysely's migrator serialises concurrent runs with a lock).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { FileMigrationProvider, Migrator } from 'kysely/migration';
import type { Database } from './database.ts';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Migration names as kysely's FileMigrationProvider makes them: the file names without extension. */
async function migrationNames(): Promise<string[]> {
  const files = await fs.readdir(MIGRATIONS_DIR);
  return files
    .filter((file) => /\.[mc]?[jt]s$/.test(file) && !/\.d\.[mc]?ts$/.test(file))
    .map((file) => file.slice(0, file.lastIndexOf('.')))
    .sort();
}

/**
 * Whether the database has run exactly the migrations in migrations/, read from kysely's own
 * table. Every start asks; kysely's migrator would answer it by listing every column of every
 * table twice (its introspection), the largest query of a start.
 */
async function atLatest(db: Database): Promise<boolean> {
  const { rows } = await sql<{ present: boolean }>`SELECT to_regclass('kysely_migration') IS NOT NULL AS present`.execute(db);
  if (!rows[0]?.present) return false;
  const { rows: applied } = await sql<{ name: string }>`SELECT name FROM kysely_migration`.execute(db);
  const done = applied.map((row) => row.name).sort();
  const names = await migrationNames();
  return done.length === names.length && done.every((name, i) => name === names[i]);
}

export async function migrateToLatest(db: Database): Promise<string[]> {
  // Up to date: nothing to do. Anything else (a new migration, an unknown one applied, a first
  // start) goes to the migrator, which takes its lock and checks the order.
  if (await atLatest(db)) return [];
  const migrator = new Migrator({
    db,
    provider: new FileMigrationProvider({ fs, path, migrationFolder: MIGRATIONS_DIR }),
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName;
    throw new Error(`migration ${failed ?? ''} failed: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
