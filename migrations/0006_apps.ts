/**
 * Apps' recurring and outgoing side (issue 6): subscriptions that flattr a thing again at the start
 * of each of the next months, the record of each month's run, the notices a member sees when one
 * stops, webhooks and their deliveries (an outbox written in the transaction of what caused them).
 * Frozen in time: never import application code here.
 */
import { type Kysely, sql } from 'kysely';

const STATEMENTS = [
  `
    -- A member's subscription to flattr a thing in each period from first_period to last_period.
    CREATE TABLE subscriptions (
      id uuid PRIMARY KEY,
      member_id bigint NOT NULL REFERENCES members (id),
      thing_id uuid NOT NULL REFERENCES things (id),
      months integer NOT NULL CHECK (months IN (3, 6, 12)),
      first_period text NOT NULL CHECK (first_period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
      last_period text NOT NULL CHECK (last_period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
      state text NOT NULL CHECK (state IN ('active', 'paused', 'cancelled', 'stopped', 'finished')),
      stop_reason text,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      CHECK (first_period <= last_period)
    )
  `,
  `
    -- At most one live (active or paused) subscription per member and thing.
    CREATE UNIQUE INDEX subscriptions_live ON subscriptions (member_id, thing_id) WHERE state IN ('active', 'paused')
  `,
  `
    CREATE INDEX subscriptions_active ON subscriptions (first_period) WHERE state = 'active'
  `,
  `
    -- One row per subscription and period once that period's flattr is settled: the run is
    -- idempotent and a restarted process carries on where it stopped.
    CREATE TABLE subscription_runs (
      subscription_id uuid NOT NULL REFERENCES subscriptions (id),
      period text NOT NULL,
      outcome text NOT NULL CHECK (outcome IN ('flattred', 'stopped', 'skipped')),
      flattr_id uuid,
      detail text,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (subscription_id, period)
    )
  `,
  `
    -- What the member is told about their subscriptions (e.g. stopped for no_means).
    CREATE TABLE subscription_notices (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      subscription_id uuid NOT NULL REFERENCES subscriptions (id),
      member_id bigint NOT NULL REFERENCES members (id),
      period text NOT NULL,
      code text NOT NULL,
      message text NOT NULL,
      created_at timestamptz NOT NULL,
      UNIQUE (subscription_id, period, code)
    )
  `,
  `
    CREATE INDEX subscription_notices_member ON subscription_notices (member_id, id)
  `,
  `
    -- events: space separated. The secret signs deliveries (HMAC), so it is kept as given.
    CREATE TABLE webhooks (
      id uuid PRIMARY KEY,
      member_id bigint NOT NULL REFERENCES members (id),
      url text NOT NULL,
      events text NOT NULL,
      secret text NOT NULL,
      created_at timestamptz NOT NULL,
      deleted_at timestamptz
    )
  `,
  `
    CREATE INDEX webhooks_member ON webhooks (member_id) WHERE deleted_at IS NULL
  `,
  `
    -- The outbox of webhook events: one row per hook and event (event_key makes it once).
    CREATE TABLE webhook_deliveries (
      id uuid PRIMARY KEY,
      webhook_id uuid NOT NULL REFERENCES webhooks (id),
      event text NOT NULL,
      event_key text NOT NULL,
      body text NOT NULL,
      state text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL,
      claimed_until timestamptz,
      last_status text,
      last_attempt_at timestamptz,
      delivered_at timestamptz,
      created_at timestamptz NOT NULL,
      UNIQUE (webhook_id, event_key)
    )
  `,
  `
    CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending'
  `,
  `
    CREATE INDEX webhook_deliveries_hook ON webhook_deliveries (webhook_id, last_attempt_at)
  `,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE webhook_deliveries, webhooks, subscription_notices, subscription_runs, subscriptions`.execute(db);
}
