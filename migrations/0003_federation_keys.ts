/**
 * The key pairs of the ActivityPub actors (src/federation/keys.ts): every member's actor and the
 * instance actor. Frozen in time: never import application code here.
 */
import { type Kysely, sql } from 'kysely';

const STATEMENTS = [
  `
    -- Created on first use and never changed: other servers cache public keys, and statements
    -- signed with the instance's Ed25519 key must stay verifiable.
    CREATE TABLE actor_keys (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      -- NULL: the instance actor (/actor); otherwise the member's actor (/users/{username}).
      member_id bigint REFERENCES members (id),
      -- 'rsa' (RSASSA-PKCS1-v1_5) signs HTTP requests; 'ed25519' signs objects (Data Integrity proofs).
      kind text NOT NULL CHECK (kind IN ('rsa', 'ed25519')),
      public_key jsonb NOT NULL,
      private_key jsonb NOT NULL,
      created_at timestamptz NOT NULL,
      -- One key of each kind per actor. NULLS NOT DISTINCT makes the instance actor one owner too,
      -- so two processes creating its keys at once end with one pair (INSERT ... ON CONFLICT).
      CONSTRAINT actor_keys_owner_kind UNIQUE NULLS NOT DISTINCT (member_id, kind)
    )
  `,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE actor_keys`.execute(db);
}
