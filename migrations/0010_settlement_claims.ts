/**
 * Settlement, second part: held unclaimed shares paid to the instance that claimed them are
 * stated to it (the close records which instance and which of its actors); a payment may cover
 * earlier unpaid periods with the same peer (paid_with names the settlement it was recorded on);
 * settlement messages from peers count once each.
 * Frozen in time: never import application code here.
 */
import { type Kysely, sql } from 'kysely';

const STATEMENTS = [
  `
    -- Set by the close that pays held shares to a claiming Farthing instance: its origin and the
    -- actor there the shares are for (the statement of that close states them to it).
    ALTER TABLE unclaimed ADD COLUMN claimed_peer text, ADD COLUMN claimed_creator text,
      ADD CONSTRAINT unclaimed_claim_recorded CHECK (state <> 'claimed' OR claimed_peer IS NOT NULL AND claimed_creator IS NOT NULL)
  `,
  `
    CREATE INDEX unclaimed_claimed ON unclaimed (settled_period, claimed_peer) WHERE state = 'claimed'
  `,
  `
    -- The settlement (its period) whose payment covered this one: itself, or a later one that
    -- carried this unpaid balance. Null until paid.
    ALTER TABLE settlements ADD COLUMN paid_with text
  `,
  `
    -- Settlement messages (responses, payments, confirmations) received, each processed once;
    -- body is the signed message byte for byte (its proof is the peer's word).
    CREATE TABLE settlement_messages_in (
      message_id text PRIMARY KEY,
      peer_origin text NOT NULL,
      type text NOT NULL,
      body text NOT NULL,
      received_at timestamptz NOT NULL
    )
  `,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE settlement_messages_in`.execute(db);
  await sql`ALTER TABLE settlements DROP COLUMN paid_with`.execute(db);
  await sql`ALTER TABLE unclaimed DROP CONSTRAINT unclaimed_claim_recorded, DROP COLUMN claimed_peer, DROP COLUMN claimed_creator`.execute(db);
}
