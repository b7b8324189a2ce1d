/**
 * Members as fediverse citizens (issue 13): a display name, a bio and an avatar of their own;
 * the fediverse accounts that follow them (answered with an Accept, counted on the profile); and,
 * for members who opt in, their flattrs published to those followers as public posts, written by
 * the click's own statement and relayed to Fedify's queue like the outbox of Likes.
 * Frozen in time: never import application code here.
 */
import { type Kysely, sql } from 'kysely';

const STATEMENTS = [
  `
    -- Bounded and free of control characters by the service; null shows the username / nothing.
    -- publish_flattrs: off by default, the member's own choice on /settings/profile.
    ALTER TABLE members
      ADD COLUMN display_name text CHECK (char_length(display_name) <= 100),
      ADD COLUMN bio text CHECK (char_length(bio) <= 1000),
      ADD COLUMN publish_flattrs boolean NOT NULL DEFAULT false
  `,
  `
    -- An uploaded avatar, already resized and re-encoded (no metadata left); without a row the
    -- member has the picture generated from their username. digest names the version in URLs.
    CREATE TABLE avatars (
      member_id bigint PRIMARY KEY REFERENCES members (id),
      image bytea NOT NULL CHECK (octet_length(image) <= 1048576),
      media_type text NOT NULL CHECK (media_type IN ('image/webp', 'image/png')),
      digest text NOT NULL,
      updated_at timestamptz NOT NULL
    )
  `,
  `
    -- Fediverse actors following a member: where to deliver, and the Follow that was accepted
    -- (an Undo names it). One row per member and follower.
    CREATE TABLE followers (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      member_id bigint NOT NULL REFERENCES members (id),
      actor_iri text NOT NULL,
      inbox text NOT NULL,
      shared_inbox text,
      follow_id text,
      created_at timestamptz NOT NULL,
      UNIQUE (member_id, actor_iri)
    )
  `,
  `
    -- "flattred <title>": a public post per flattr of a member who publishes, written by the
    -- click's statement; a relay claims it for a while, hands a Create to Fedify's queue and
    -- marks it relayed. deleted_at: the flattr was withdrawn (a Delete goes out once).
    CREATE TABLE posts (
      id uuid PRIMARY KEY,
      member_id bigint NOT NULL REFERENCES members (id),
      flattr_id uuid NOT NULL UNIQUE REFERENCES flattrs (id),
      created_at timestamptz NOT NULL,
      claimed_until timestamptz,
      relayed_at timestamptz,
      deleted_at timestamptz,
      delete_relayed_at timestamptz
    )
  `,
  `
    CREATE INDEX posts_pending ON posts (id) WHERE relayed_at IS NULL OR (deleted_at IS NOT NULL AND delete_relayed_at IS NULL)
  `,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE posts, followers, avatars`.execute(db);
  await sql`ALTER TABLE members DROP COLUMN display_name, DROP COLUMN bio, DROP COLUMN publish_flattrs`.execute(db);
}
