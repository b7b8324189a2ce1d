import { sql } from 'kysely';
import t from 'tap';
import { renderedOnce } from '../../src/db/rendered-once.ts';
import { defaultDatabaseKind, freshDatabase } from '../helpers/databases.ts';

t.test('a statement rendered once takes each call its values by name', async (t) => {
  const handle = await freshDatabase(t, defaultDatabaseKind());
  // Used out of the keys' order, one of them twice, inside a nested fragment.
  const inner = (n: number) => sql`${n}::int * 10`;
  const statement = renderedOnce(
    (v: { a: number; b: string; c: number }) =>
      sql<{ x: string; y: number; z: number }>`SELECT ${v.b}::text AS x, ${inner(v.c)} AS y, ${v.a}::int + ${v.c}::int AS z`,
  );
  t.same(await statement(handle.db, { a: 1, b: 'one', c: 2 }), [{ x: 'one', y: 20, z: 3 }]);
  t.same(await statement(handle.db, { c: 5, b: 'two', a: 4 }), [{ x: 'two', y: 50, z: 9 }]);
});

t.test('what is not a named value as a parameter is refused at first use', async (t) => {
  const handle = await freshDatabase(t, defaultDatabaseKind());
  const constant = renderedOnce((v: { a: number }) => sql`SELECT ${v.a}::int + ${1}::int AS n`);
  await t.rejects(constant(handle.db, { a: 1 }), /not one of the named values/);
  const stringified = renderedOnce((v: { a: string }) => sql`SELECT ${`https://x.example/${v.a}`} AS iri`);
  await t.rejects(stringified(handle.db, { a: 'b' }), /not one of the named values/);
});
