/**
 * Statements that kysely renders to text once, not on every call. kysely renders a `sql` template
 * each time it runs; for a statement made of many fragments (the click's) that rendering, and the
 * prepared statement's lookup by a new ~2 kB string (src/db/database.ts), cost more JavaScript than
 * the rest of the click's handler (bench/clicks.ts).
 *
 * `build` receives a placeholder for each named value and must only put them in the statement as
 * `${value}` (no branching on them, no strings made from them); the statement is rendered on first
 * use, and each call sends the very same text with the values in the order kysely numbered the
 * placeholders. A placeholder that ends up anywhere but a parameter is an error at first use.
 */
import { CompiledQuery, type RawBuilder } from 'kysely';
import type { Database } from './database.ts';

class Placeholder {
  readonly name: string;
  constructor(name: string) {
    this.name = name;
  }
}

interface Rendered {
  sql: string;
  names: readonly string[];
}

export function renderedOnce<V extends Record<string, unknown>, R>(build: (values: V) => RawBuilder<R>): (db: Database, values: V) => Promise<R[]> {
  const renderings = new WeakMap<Database, Rendered>();
  return async (db, values) => {
    let rendered = renderings.get(db);
    if (!rendered) {
      const placeholders = Object.fromEntries(Object.keys(values).map((name) => [name, new Placeholder(name)])) as unknown as V;
      const compiled = build(placeholders).compile(db);
      const names = compiled.parameters.map((parameter) => {
        if (!(parameter instanceof Placeholder)) throw new Error(`renderedOnce: a parameter that is not one of the named values: ${String(parameter)}`);
        return parameter.name;
      });
      if (compiled.sql.includes('[object Object]')) throw new Error('renderedOnce: a placeholder was made into a string');
      rendered = { sql: compiled.sql, names };
      renderings.set(db, rendered);
    }
    const parameters = rendered.names.map((name) => values[name]);
    const { rows } = await db.executeQuery<R>(CompiledQuery.raw(rendered.sql, parameters));
    return rows;
  };
}
