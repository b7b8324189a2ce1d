/**
 * The test suite's databases are used again by the next scenario of the same process once
 * emptied (test/helpers/databases.ts), PostgreSQL's with the scenario's open connections: what
 * one scenario wrote must be gone for the next, with every sequence starting again, as in a
 * fresh copy of the migrated template.
 */
import { sql } from 'kysely';
import t from 'tap';
import { eachDatabaseEmbeddedToo, freshDatabase } from '../helpers/databases.ts';
import { startInstance, thing } from '../helpers/instance.ts';

await eachDatabaseEmbeddedToo(t, async (t, kind) => {
  let used: { url: string | undefined; started: string } | undefined;
  let backends: number[] = [];
  let firstDb: object | undefined;
  await t.test('a scenario writes members, money, things and flattrs', async (t) => {
    const inst = await startInstance(t, kind);
    const ann = await inst.member('ann', { deposit: '20.00', budget: '5.00' });
    const bob = await inst.member('bob');
    const id = await thing(inst, bob, 'https://bob.example/post');
    t.equal((await inst.api('POST', '/api/v1/flattrs', { token: ann, body: { thing_id: id } })).status, 201);
    const { rows } = await sql<{ started: string }>`SELECT pg_postmaster_start_time()::text AS started`.execute(inst.ctx.db);
    used = { url: inst.database.url, started: rows[0]?.started as string };
    const { rows: connections } = await sql<{ pid: number }>`SELECT pid FROM pg_stat_activity WHERE datname = current_database()`.execute(inst.ctx.db);
    backends = connections.map((c) => c.pid);
    firstDb = inst.ctx.db;
  });

  await t.test('the next scenario gets the same database, emptied', async (t) => {
    const handle = await freshDatabase(t, kind);
    const { rows: server } = await sql<{ started: string }>`SELECT pg_postmaster_start_time()::text AS started`.execute(handle.db);
    t.same({ url: handle.url, started: server[0]?.started }, used, 'the database the first scenario used');
    // The app caches per database object (periods known to exist, verified tokens): a new one.
    t.not(handle.db, firstDb, 'a database object of its own');
    if (kind === 'postgres') {
      // Through the same connections: their catalog caches and prepared statements are warm.
      const { rows: me } = await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(handle.db);
      t.ok(backends.includes(me[0]?.pid as number), 'a connection of the first scenario');
    }
    const { rows: tables } = await sql<{ name: string }>`
      SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' AND tablename NOT LIKE 'kysely\\_migration%'`.execute(handle.db);
    t.ok(tables.length > 40, 'the schema is there');
    const written: string[] = [];
    for (const { name } of tables) {
      const { rows } = await sql<{ any: boolean }>`SELECT EXISTS (SELECT 1 FROM ${sql.table(name)}) AS any`.execute(handle.db);
      if (rows[0]?.any) written.push(name);
    }
    t.same(written, [], 'no table holds a row');
    const { rows: sequences } = await sql<{ name: string; last: string | null }>`
      SELECT sequencename AS name, last_value::text AS last FROM pg_sequences WHERE schemaname = 'public'`.execute(handle.db);
    t.same(
      sequences.filter((s) => s.last !== null),
      [],
      'every sequence starts again',
    );
    const { rows: migrations } = await sql<{ n: number }>`SELECT count(*)::int AS n FROM kysely_migration`.execute(handle.db);
    t.ok((migrations[0]?.n ?? 0) > 0, 'the migrations are still recorded');
  });
});
