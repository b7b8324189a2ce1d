/**
 * Members see and revoke their sessions and tokens, and a token made with a password (or a
 * session) ends after an idle time: each token remembers when it was last used (written at most
 * once a minute per token, src/members/tokens.ts). Listing a member's live tokens reads the index.
 * Frozen in time: never import application code here.
 */
import { type Kysely, sql } from 'kysely';

const STATEMENTS = [
  `
    -- NULL: not used since it was made (created_at counts as its last use).
    ALTER TABLE tokens ADD COLUMN last_used_at timestamptz
  `,
  `
    CREATE INDEX tokens_member_live ON tokens (member_id) WHERE revoked_at IS NULL
  `,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX tokens_member_live`.execute(db);
  await sql`ALTER TABLE tokens DROP COLUMN last_used_at`.execute(db);
}
