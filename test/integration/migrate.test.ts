/**
 * Migrating at every start (src/db/migrate.ts): a database that has run exactly the migrations in
 * migrations/ is left as it is, read from kysely's own table; anything else goes to kysely's
 * migrator: a first start, a migration not yet run, one recorded that this release does not have.
 */
import { readdirSync } from 'node:fs';
import { sql } from 'kysely';
import t from 'tap';
import { openDatabase } from '../../src/db/database.ts';
import { MIGRATIONS_DIR, migrateToLatest } from '../../src/db/migrate.ts';
import { createPostgresDatabase, eachDatabase, freshDatabase } from '../helpers/databases.ts';

const names = readdirSync(MIGRATIONS_DIR)
  .map((file) => file.replace(/\.ts$/, ''))
  .sort();
const last = names.at(-1) as string;

await eachDatabase(
  t,
  async (t, kind) => {
    t.test('a migrated database is left as it is', async (t) => {
      const handle = await freshDatabase(t, kind);
      const queries: string[] = [];
      const watched = handle.db.withPlugin({
        transformQuery: (args) => {
          queries.push(args.node.kind === 'RawNode' ? args.node.sqlFragments.join('?') : args.node.kind);
          return args.node;
        },
        transformResult: async (args) => args.result,
      });
      t.same(await migrateToLatest(watched), [], 'nothing run');
      t.same(
        queries,
        ["SELECT to_regclass('kysely_migration') IS NOT NULL AS present", 'SELECT name FROM kysely_migration'],
        "kysely's table read, its migrator not started (it would list every column of every table)",
      );
    });

    if (kind !== 'postgres') return;
    t.test('an empty database, a migration not yet run, one this release does not have', async (t) => {
      const created = await createPostgresDatabase();
      t.teardown(created.drop);
      const handle = await openDatabase({ url: created.url, poolSize: 1 });
      t.teardown(() => handle.close());
      t.same(await migrateToLatest(handle.db), names, 'a first start runs every migration');
      t.same(await migrateToLatest(handle.db), [], 'then none');

      // As if the last migration were new: not recorded, its column not there.
      await sql`DELETE FROM kysely_migration WHERE name = ${last}`.execute(handle.db);
      await sql`ALTER TABLE settlement_deliveries DROP COLUMN claimed_until`.execute(handle.db);
      t.same(await migrateToLatest(handle.db), [last], 'the new one is run');
      const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'settlement_deliveries' AND column_name = 'claimed_until'`.execute(
        handle.db,
      );
      t.equal(rows[0]?.n, 1, 'its column is back');

      await sql`INSERT INTO kysely_migration (name, timestamp) VALUES ('9999_from_a_newer_release', ${new Date().toISOString()})`.execute(handle.db);
      await t.rejects(migrateToLatest(handle.db), /9999_from_a_newer_release/, 'a migration this release does not know of is refused by the migrator');
    });
  },
  ['postgres', 'pglite'],
);
