/**
 * Things of remote owners, the outbox of flattrs to federate, incoming flattrs from other
 * instances, and the close's shares for remote creators (owed to a peer, or unclaimed).
 * Frozen in time: never import application code here.
 */
import { type Kysely, sql } from 'kysely';

const STATEMENTS = [
  `
    -- Fediverse actors that own things flattred here. software is what their instance's NodeInfo
    -- says ('farthing' makes its creators' shares owed to that instance), null while unknown.
    CREATE TABLE remote_actors (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      iri text NOT NULL UNIQUE,
      inbox text NOT NULL,
      shared_inbox text,
      handle text,
      instance_origin text NOT NULL,
      software text,
      fetched_at timestamptz NOT NULL
    )
  `,
  `
    -- A thing is owned by a member here or by a remote actor, never both. uri is a remote
    -- thing's own IRI (a Farthing thing on its home instance, or the post itself).
    ALTER TABLE things
      ALTER COLUMN owner_member_id DROP NOT NULL,
      ADD COLUMN owner_actor_id bigint REFERENCES remote_actors (id),
      ADD COLUMN uri text UNIQUE,
      ADD CONSTRAINT things_one_owner CHECK ((owner_member_id IS NULL) <> (owner_actor_id IS NULL))
  `,
  `
    CREATE INDEX things_owner_actor ON things (owner_actor_id) WHERE owner_actor_id IS NOT NULL
  `,
  `
    -- Flattrs of remote things to deliver: written by the same statement as the flattr (or its
    -- withdrawal); a relay claims rows for a while (claimed_until), hands each to Fedify's queue
    -- and marks it relayed. A relay that dies leaves its claim to expire.
    CREATE TABLE outbox (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      activity_id text NOT NULL UNIQUE,
      kind text NOT NULL CHECK (kind IN ('like', 'undo')),
      flattr_id uuid NOT NULL REFERENCES flattrs (id),
      created_at timestamptz NOT NULL,
      claimed_until timestamptz,
      relayed_at timestamptz
    )
  `,
  `
    CREATE INDEX outbox_pending ON outbox (id) WHERE relayed_at IS NULL
  `,
  `
    -- Flattrs of local things made on other instances, from their Likes. activity_id is UNIQUE
    -- for good: a replayed Like counts once, whenever it comes back.
    CREATE TABLE incoming_flattrs (
      id uuid PRIMARY KEY,
      activity_id text NOT NULL UNIQUE,
      thing_id uuid NOT NULL REFERENCES things (id),
      actor_iri text NOT NULL,
      instance_origin text NOT NULL,
      period text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
      state text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'paid')),
      received_at timestamptz NOT NULL,
      withdrawn_at timestamptz
    )
  `,
  `
    CREATE INDEX incoming_flattrs_thing ON incoming_flattrs (thing_id, period)
  `,
  `
    CREATE INDEX incoming_flattrs_peer ON incoming_flattrs (instance_origin, period)
  `,
  `
    -- Shares for remote creators: 'peer' (owed to their Farthing instance) or 'unclaimed'.
    ALTER TABLE shares
      ALTER COLUMN recipient_member_id DROP NOT NULL,
      ADD COLUMN recipient_actor_id bigint,
      DROP CONSTRAINT shares_disposition_check,
      ADD CONSTRAINT shares_disposition_check
        CHECK (disposition IN ('paid', 'held', 'charity', 'peer', 'unclaimed')),
      ADD CONSTRAINT shares_one_recipient
        CHECK ((recipient_member_id IS NULL) <> (recipient_actor_id IS NULL))
  `,
  `
    CREATE INDEX shares_recipient_actor ON shares (recipient_actor_id, period) WHERE recipient_actor_id IS NOT NULL
  `,
  `
    -- product rule 8: shares for a fediverse account no Farthing instance claims, kept for up to
    -- six closes, then given to the charity.
    CREATE TABLE unclaimed (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      period text NOT NULL,
      actor_id bigint NOT NULL REFERENCES remote_actors (id),
      amount bigint NOT NULL CHECK (amount > 0),
      state text NOT NULL CHECK (state IN ('held', 'claimed', 'expired')),
      settled_period text,
      UNIQUE (period, actor_id)
    )
  `,
  `
    CREATE INDEX unclaimed_open ON unclaimed (actor_id) WHERE state = 'held'
  `,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE unclaimed, incoming_flattrs, outbox CASCADE`.execute(db);
  await sql`DELETE FROM shares WHERE recipient_member_id IS NULL`.execute(db);
  await sql`ALTER TABLE shares DROP CONSTRAINT shares_one_recipient, DROP COLUMN recipient_actor_id,
    ALTER COLUMN recipient_member_id SET NOT NULL`.execute(db);
  await sql`ALTER TABLE things DROP CONSTRAINT things_one_owner, DROP COLUMN uri, DROP COLUMN owner_actor_id`.execute(db);
  await sql`DROP TABLE remote_actors`.execute(db);
}
