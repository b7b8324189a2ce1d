/**
 * What the pages read often: the popular pages count live flattrs per thing, for one month
 * (period, thing_id) and for all time (thing_id), both small enough for an index-only scan.
 * `members.listed` (whether a member and their things appear there) exists since 0001_core.
 * Frozen in time: never import application code here.
 */
import { type Kysely, sql } from 'kysely';

const STATEMENTS = [
  `
    CREATE INDEX flattrs_live_period_thing ON flattrs (period, thing_id) WHERE withdrawn_at IS NULL
  `,
  `
    CREATE INDEX flattrs_live_thing ON flattrs (thing_id) WHERE withdrawn_at IS NULL
  `,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX flattrs_live_thing, flattrs_live_period_thing`.execute(db);
}
