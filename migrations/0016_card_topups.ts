/**
 * Card top-ups through Stripe Checkout: each Checkout Session the instance creates (stored before
 * the member is sent to Stripe, so that the deposit's amount, currency and member come from here
 * and never from a webhook), the refunds and lost disputes booked against them (with what the
 * wallet could not cover), and the Stripe events already handled.
 * Frozen in time: never import application code here.
 */
import { type Kysely, sql } from 'kysely';

const STATEMENTS = [
  `
    -- amount: micro-units the member asked to pay; fee and credited are known once Stripe says the
    -- session is paid (credited: what the wallet received, net of the fee when the member bears it).
    -- refunded: what Stripe reports refunded on the charge so far (micro-units, cumulative).
    CREATE TABLE card_topups (
      id uuid PRIMARY KEY,
      member_id bigint NOT NULL REFERENCES members (id),
      amount bigint NOT NULL CHECK (amount > 0),
      currency char(3) NOT NULL,
      session_id text UNIQUE,
      checkout_url text,
      state text NOT NULL CHECK (state IN ('creating', 'open', 'credited', 'review', 'failed')),
      fee_bearer text NOT NULL CHECK (fee_bearer IN ('member', 'instance')),
      fee bigint CHECK (fee >= 0),
      credited bigint CHECK (credited >= 0),
      payment_intent text UNIQUE,
      charge_id text UNIQUE,
      refunded bigint NOT NULL DEFAULT 0 CHECK (refunded >= 0),
      problem text,
      created_at timestamptz NOT NULL,
      completed_at timestamptz,
      CHECK (state <> 'credited' OR (fee IS NOT NULL AND credited IS NOT NULL))
    )
  `,
  `
    CREATE INDEX card_topups_member ON card_topups (member_id, created_at)
  `,
  `
    CREATE INDEX card_topups_state ON card_topups (state, created_at)
  `,
  `
    -- Money Stripe took back (a refund, a lost dispute): booked is what left the wallet, shortfall
    -- what the wallet no longer held (shown to the admin, never made up).
    CREATE TABLE card_reversals (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      topup_id uuid NOT NULL REFERENCES card_topups (id),
      kind text NOT NULL CHECK (kind IN ('refund', 'dispute')),
      stripe_ref text NOT NULL UNIQUE,
      amount bigint NOT NULL CHECK (amount > 0),
      booked bigint NOT NULL CHECK (booked >= 0),
      shortfall bigint NOT NULL CHECK (shortfall >= 0),
      created_at timestamptz NOT NULL,
      CHECK (booked + shortfall = amount)
    )
  `,
  `
    CREATE INDEX card_reversals_topup ON card_reversals (topup_id)
  `,
  `
    -- Stripe events handled (by their id): a replayed delivery is answered without doing anything.
    CREATE TABLE stripe_events (
      id text PRIMARY KEY,
      type text NOT NULL,
      outcome text NOT NULL,
      received_at timestamptz NOT NULL
    )
  `,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE stripe_events`.execute(db);
  await sql`DROP TABLE card_reversals`.execute(db);
  await sql`DROP TABLE card_topups`.execute(db);
}
