/**
 * Third-party apps (OAuth 2, src/oauth/): registered clients, single-use authorization codes, and
 * tokens that carry scopes and the app they were issued to. Frozen in time: never import
 * application code here.
 */
import { type Kysely, sql } from 'kysely';

const STATEMENTS = [
  `
    -- Apps registered with POST /api/v1/apps (Mastodon's shape). Only a SHA-256 of the client
    -- secret is kept, as for tokens. redirect_uris: one exact URI per line. scopes: space separated.
    CREATE TABLE oauth_apps (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      client_id text NOT NULL UNIQUE,
      client_secret_hash bytea NOT NULL,
      name text NOT NULL,
      website text,
      redirect_uris text NOT NULL,
      scopes text NOT NULL,
      created_at timestamptz NOT NULL
    )
  `,
  `
    -- Authorization codes (RFC 6749 4.1 with PKCE, RFC 7636 S256): only their SHA-256 is kept;
    -- bound to the app, the redirect URI and the challenge; used once (used_at), then the token
    -- it made is remembered so that a replay can revoke it.
    CREATE TABLE oauth_codes (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      code_hash bytea NOT NULL UNIQUE,
      app_id bigint NOT NULL REFERENCES oauth_apps (id),
      member_id bigint NOT NULL REFERENCES members (id),
      redirect_uri text NOT NULL,
      scopes text NOT NULL,
      code_challenge text NOT NULL,
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      used_at timestamptz,
      token_id bigint REFERENCES tokens (id)
    )
  `,
  `
    -- scopes: space separated; NULL = every scope of the member's role (tokens made with a
    -- password, and sessions). app_id: the app an OAuth token was issued to.
    ALTER TABLE tokens
      ADD COLUMN scopes text,
      ADD COLUMN app_id bigint REFERENCES oauth_apps (id)
  `,
  `
    CREATE INDEX tokens_member_app ON tokens (member_id, app_id) WHERE app_id IS NOT NULL
  `,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX tokens_member_app`.execute(db);
  await sql`ALTER TABLE tokens DROP COLUMN app_id, DROP COLUMN scopes`.execute(db);
  await sql`DROP TABLE oauth_codes`.execute(db);
  await sql`DROP TABLE oauth_apps`.execute(db);
}
