/**
 * Settlement deliveries get a lease of their own (claimed_until, on the database's clock) like
 * every other outbox, so next_attempt_at is only the due time (on the instance clock) and no
 * longer doubles as the claim (src/jobs/relay.ts).
 * Frozen in time: never import application code here.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE settlement_deliveries ADD COLUMN claimed_until timestamptz`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE settlement_deliveries DROP COLUMN claimed_until`.execute(db);
}
