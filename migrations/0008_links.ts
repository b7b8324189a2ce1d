/**
 * Linked fediverse accounts (product.md, Federation): a member names an account they control;
 * the member's actor lists it in `alsoKnownAs` at once (state 'pending'), and it is 'verified'
 * once the account's own actor document points back. One account is verified for one member at
 * most. remote_actors.claimed_by is the Farthing actor that claims a remote account (both
 * directions seen at discovery): its flattrs are owed to that actor's instance.
 * Frozen in time: never import application code here.
 */
import { type Kysely, sql } from 'kysely';

const STATEMENTS = [
  `
    CREATE TABLE member_links (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      member_id bigint NOT NULL REFERENCES members (id),
      actor_iri text NOT NULL,
      handle text,
      state text NOT NULL CHECK (state IN ('pending', 'verified')),
      created_at timestamptz NOT NULL,
      verified_at timestamptz,
      UNIQUE (member_id, actor_iri),
      CHECK ((state = 'verified') = (verified_at IS NOT NULL))
    )
  `,
  `
    -- An account is verified for one member at most.
    CREATE UNIQUE INDEX member_links_verified ON member_links (actor_iri) WHERE state = 'verified'
  `,
  `
    CREATE INDEX member_links_actor ON member_links (actor_iri)
  `,
  `
    ALTER TABLE remote_actors ADD COLUMN claimed_by text
  `,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE remote_actors DROP COLUMN claimed_by`.execute(db);
  await sql`DROP TABLE member_links`.execute(db);
}
