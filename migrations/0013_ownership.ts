/**
 * Ownership proven by content, claims that move money here, and unclaimed money made known
 * (issue 13). A thing is `verified` when its content names its owner; a thing of a fediverse
 * account that a member here claims belongs to the member and remembers the account
 * (author_actor_id) so its Likes still reach the post's server; remote_actors.claimed_member_id
 * is the member here who claims an account (both directions proven); held unclaimed shares paid
 * to such a member record whom (claimed_member_id); unclaimed_notices are the direct messages
 * that tell an account money waits for it, written with their outbox row.
 * Frozen in time: never import application code here.
 */
import { type Kysely, sql } from 'kysely';

const STATEMENTS = [
  `
    ALTER TABLE things
      ADD COLUMN verified boolean NOT NULL DEFAULT false,
      ADD COLUMN author_actor_id bigint REFERENCES remote_actors (id)
  `,
  `
    -- Things found by their first flattr were found by what their content names.
    UPDATE things SET verified = true WHERE owner_actor_id IS NOT NULL OR uri IS NOT NULL
  `,
  `
    CREATE INDEX things_author_actor ON things (author_actor_id) WHERE author_actor_id IS NOT NULL
  `,
  `
    ALTER TABLE remote_actors ADD COLUMN claimed_member_id bigint REFERENCES members (id)
  `,
  `
    ALTER TABLE unclaimed ADD COLUMN claimed_member_id bigint REFERENCES members (id),
      DROP CONSTRAINT unclaimed_claim_recorded,
      ADD CONSTRAINT unclaimed_claim_recorded CHECK (state <> 'claimed'
        OR claimed_peer IS NOT NULL AND claimed_creator IS NOT NULL
        OR claimed_member_id IS NOT NULL)
  `,
  `
    -- One message per account and calendar month at most (month), each kind once per run of
    -- waiting money (since: the earliest period still held when it was decided).
    CREATE TABLE unclaimed_notices (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      actor_id bigint NOT NULL REFERENCES remote_actors (id),
      kind text NOT NULL CHECK (kind IN ('first', 'expiring')),
      since text NOT NULL CHECK (since ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
      month text NOT NULL CHECK (month ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
      amount bigint NOT NULL CHECK (amount > 0),
      expires text NOT NULL,
      content text NOT NULL,
      created_at timestamptz NOT NULL,
      UNIQUE (actor_id, month),
      UNIQUE (actor_id, kind, since)
    )
  `,
  `
    -- The outbox also carries those messages, relayed by the instance actor.
    ALTER TABLE outbox
      ALTER COLUMN flattr_id DROP NOT NULL,
      ADD COLUMN notice_id bigint REFERENCES unclaimed_notices (id),
      DROP CONSTRAINT outbox_kind_check,
      ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('like', 'undo', 'notice')),
      ADD CONSTRAINT outbox_subject CHECK (CASE WHEN kind = 'notice' THEN notice_id IS NOT NULL AND flattr_id IS NULL
                                                ELSE flattr_id IS NOT NULL AND notice_id IS NULL END)
  `,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DELETE FROM outbox WHERE kind = 'notice'`.execute(db);
  await sql`ALTER TABLE outbox DROP CONSTRAINT outbox_subject, DROP CONSTRAINT outbox_kind_check,
    ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('like', 'undo')), DROP COLUMN notice_id,
    ALTER COLUMN flattr_id SET NOT NULL`.execute(db);
  await sql`DROP TABLE unclaimed_notices`.execute(db);
  await sql`ALTER TABLE unclaimed DROP CONSTRAINT unclaimed_claim_recorded, DROP COLUMN claimed_member_id,
    ADD CONSTRAINT unclaimed_claim_recorded CHECK (state <> 'claimed' OR claimed_peer IS NOT NULL AND claimed_creator IS NOT NULL)`.execute(db);
  await sql`ALTER TABLE remote_actors DROP COLUMN claimed_member_id`.execute(db);
  await sql`ALTER TABLE things DROP COLUMN author_actor_id, DROP COLUMN verified`.execute(db);
}
