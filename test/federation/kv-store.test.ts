/**
 * KyselyKvStore against PostgreSQL and PGlite: values round-trip as JSON, keys match element by
 * element, TTLs expire by the database's clock, list() pages by prefix, cas() is atomic.
 */

import type { KvKey } from '@fedify/fedify';
import { sql } from 'kysely';
import t from 'tap';
import { KyselyKvStore } from '../../src/activitypub/kv-store.ts';
import { duration } from '../../src/activitypub/temporal.ts';
import { eachDatabaseEmbeddedToo, freshDatabase } from '../helpers/databases.ts';
import { eventually } from '../helpers/network.ts';

async function collect(iterable: AsyncIterable<{ key: KvKey; value: unknown }>) {
  const entries: { key: KvKey; value: unknown }[] = [];
  for await (const entry of iterable) entries.push(entry);
  return entries;
}

await eachDatabaseEmbeddedToo(t, async (t, kind) => {
  const { db } = await freshDatabase(t, kind);
  const rowCount = async () => (await sql<{ n: number }>`SELECT count(*)::int AS n FROM fedify_kv`.execute(db)).rows[0]!.n;
  t.beforeEach(async () => {
    await db.deleteFrom('fedify_kv').execute();
  });

  await t.test('get, set and delete round-trip JSON values', async (t) => {
    const kv = new KyselyKvStore(db);
    t.equal(await kv.get(['missing']), undefined, 'an absent key reads as undefined');
    const values: [KvKey, unknown][] = [
      [['object'], { id: 'https://a.example/x', n: 1.5, nested: { list: [1, 'two', null] } }],
      [['string'], 'plain text'],
      [['number'], 42],
      [['array'], ['x', 'y']],
      [['null'], null],
      [['bool'], false],
    ];
    for (const [key, value] of values) await kv.set(key, value);
    for (const [key, value] of values) t.same(await kv.get(key), value, `${key[0]} round-trips`);
    t.strictSame(await kv.get(['array']), ['x', 'y'], 'an array stays a JSON array, not a PostgreSQL one');

    await kv.set(['string'], 'replaced');
    t.equal(await kv.get(['string']), 'replaced', 'set overwrites');
    await kv.delete(['string']);
    t.equal(await kv.get(['string']), undefined, 'delete removes');
    await kv.delete(['string']);
    t.pass('deleting an absent key is fine');
  });

  await t.test('keys compare element by element', async (t) => {
    const kv = new KyselyKvStore(db);
    await kv.set(['a', 'b'], 'a/b');
    await kv.set(['a,b'], 'a,b');
    await kv.set(['ab'], 'ab');
    await kv.set(['a', ''], 'a/empty');
    await kv.set(['a', 'b"c', '{x}'], 'quoting');
    t.equal(await kv.get(['a', 'b']), 'a/b');
    t.equal(await kv.get(['a,b']), 'a,b');
    t.equal(await kv.get(['ab']), 'ab');
    t.equal(await kv.get(['a', '']), 'a/empty');
    t.equal(await kv.get(['a', 'b"c', '{x}']), 'quoting');
    t.equal(await kv.get(['a']), undefined, 'a prefix of a key is not the key');
  });

  await t.test('list by prefix matches whole elements', async (t) => {
    const kv = new KyselyKvStore(db, { listBatchSize: 3 });
    const keys: KvKey[] = [['a'], ['a', '1'], ['a', '2'], ['a', '2', 'x'], ['ab'], ['ab', '1'], ['b', 'a'], ['a ', '3']];
    for (const key of keys) await kv.set(key, key.join('/'));
    for (let i = 0; i < 7; i++) await kv.set(['page', String(i).padStart(2, '0')], i);

    const underA = await collect(kv.list(['a']));
    t.same(
      underA.map((e) => e.key),
      [['a'], ['a', '1'], ['a', '2'], ['a', '2', 'x']],
      "prefix ['a'] takes ['a'] and its children, never ['ab'] or ['a ']",
    );
    t.same(underA[3], { key: ['a', '2', 'x'], value: 'a/2/x' }, 'entries carry their values');
    t.same(
      (await collect(kv.list(['a', '2']))).map((e) => e.key),
      [
        ['a', '2'],
        ['a', '2', 'x'],
      ],
    );
    t.same(await collect(kv.list(['zzz'])), [], 'no match, no entries');

    const pages = await collect(kv.list(['page']));
    t.same(
      pages.map((e) => e.value),
      [0, 1, 2, 3, 4, 5, 6],
      'every entry across pages of 3, once',
    );
    t.equal((await collect(kv.list())).length, keys.length + 7, 'no prefix lists everything');
  });

  await t.test('entries expire after their TTL', async (t) => {
    const kv = new KyselyKvStore(db, { sweepIntervalMs: 0 });
    await kv.set(['short'], 'soon gone', { ttl: duration({ milliseconds: 400 }) });
    await kv.set(['long'], 'stays', { ttl: duration({ hours: 1 }) });
    await kv.set(['forever'], 'stays');
    await kv.set(['renewed'], 'first', { ttl: duration({ milliseconds: 400 }) });
    await kv.set(['renewed'], 'second');
    t.equal(await kv.get(['short']), 'soon gone', 'readable before the TTL');
    t.equal((await collect(kv.list(['short']))).length, 1);

    await eventually(async () => (await kv.get(['short'])) === undefined, 5_000, 'the short entry to expire');
    t.equal(await kv.get(['short']), undefined, 'invisible to get after the TTL');
    t.same((await collect(kv.list())).map((e) => e.key).sort(), [['forever'], ['long'], ['renewed']], 'and to list');
    t.equal(await kv.get(['long']), 'stays');
    t.equal(await kv.get(['renewed']), 'second', 'a set without TTL clears the earlier TTL');
    t.equal(await rowCount(), 4, 'the expired row is still stored until a sweep');

    await kv.set(['trigger'], 'any write may sweep');
    t.equal(await rowCount(), 4, 'the sweep deleted the expired row (4 = 3 live + the new one)');
    t.equal(await kv.get(['trigger']), 'any write may sweep');
  });

  await t.test('the sweep runs at most once per interval', async (t) => {
    const kv = new KyselyKvStore(db, { sweepIntervalMs: 60_000 });
    await kv.set(['first'], 1); // sweeps (nothing to do) and starts the interval
    await kv.set(['gone'], 'x', { ttl: duration({ milliseconds: 100 }) });
    await eventually(async () => (await kv.get(['gone'])) === undefined, 5_000, 'the entry to expire');
    await kv.set(['second'], 2);
    t.equal(await rowCount(), 3, 'no sweep inside the interval: the expired row is still there');
    t.equal(await kv.get(['gone']), undefined, 'yet it is invisible');
  });

  await t.test('cas swaps only on the expected value', async (t) => {
    const kv = new KyselyKvStore(db);
    t.equal(await kv.cas(['c'], undefined, { v: 1 }), true, 'absent -> set');
    t.equal(await kv.cas(['c'], undefined, { v: 9 }), false, 'expected absent, but present');
    t.equal(await kv.cas(['c'], { v: 2 }, { v: 9 }), false, 'wrong expected value');
    t.same(await kv.get(['c']), { v: 1 }, 'failed swaps changed nothing');
    t.equal(await kv.cas(['c'], { v: 1 }, { v: 2, w: 'x' }), true, 'expected value -> swapped');
    t.equal(await kv.cas(['c'], { w: 'x', v: 2 }, 'three'), true, 'object key order does not matter');
    t.equal(await kv.get(['c']), 'three');
    t.equal(await kv.cas(['absent'], 'something', 'new'), false, 'a value is not expected where none is');

    await kv.set(['e'], 'old', { ttl: duration({ milliseconds: 100 }) });
    await eventually(async () => (await kv.get(['e'])) === undefined, 5_000, 'the entry to expire');
    t.equal(await kv.cas(['e'], 'old', 'new'), false, 'an expired value is not there to swap');
    t.equal(await kv.cas(['e'], undefined, 'fresh'), true, 'an expired entry counts as absent');
    t.equal(await kv.get(['e']), 'fresh');

    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => kv.cas(['race'], undefined, i)));
    t.equal(results.filter(Boolean).length, 1, 'of ten concurrent cas from absent, exactly one wins');
    t.equal(await kv.get(['race']), results.indexOf(true), 'and its value is stored');
  });
});
