/**
 * Settlement between instances: the peers an instance settles with, the signed statements in
 * both directions, one settlement per peer and period, and the signed messages to deliver.
 * Frozen in time: never import application code here.
 */
import { type Kysely, sql } from 'kysely';

const STATEMENTS = [
  `
    -- Other Farthing instances. owe_limit: how much may be owed to the peer (null: no limit).
    CREATE TABLE peers (
      origin text PRIMARY KEY,
      actor text NOT NULL,
      blocked boolean NOT NULL DEFAULT false,
      owe_limit bigint CHECK (owe_limit >= 0),
      created_at timestamptz NOT NULL
    )
  `,
  `
    -- Statements issued ('out') and received ('in'); document is the signed JSON byte for byte.
    CREATE TABLE statements (
      id text PRIMARY KEY,
      direction text NOT NULL CHECK (direction IN ('out', 'in')),
      peer_origin text NOT NULL,
      sequence integer NOT NULL CHECK (sequence > 0),
      period text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
      currency char(3) NOT NULL,
      total bigint NOT NULL CHECK (total >= 0),
      digest text NOT NULL,
      document text NOT NULL,
      state text NOT NULL CHECK (state IN ('open', 'accepted', 'disputed', 'superseded')),
      dispute jsonb,
      created_at timestamptz NOT NULL,
      decided_at timestamptz,
      UNIQUE (direction, peer_origin, sequence)
    )
  `,
  `
    CREATE INDEX statements_peer_period ON statements (peer_origin, period)
  `,
  `
    -- One per peer and period: what this instance owes the peer (payable) and is owed by it
    -- (receivable), each known once its statement is accepted; net = payable - receivable.
    CREATE TABLE settlements (
      id uuid PRIMARY KEY,
      peer_origin text NOT NULL,
      period text NOT NULL,
      payable bigint,
      receivable bigint,
      state text NOT NULL CHECK (state IN ('open', 'accepted', 'paid', 'settled', 'disputed')),
      reference text,
      paid_at timestamptz,
      settled_at timestamptz,
      UNIQUE (peer_origin, period)
    )
  `,
  `
    -- Signed messages to peers' settlement inboxes, retried until accepted.
    CREATE TABLE settlement_deliveries (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      message_id text NOT NULL UNIQUE,
      url text NOT NULL,
      body text NOT NULL,
      attempts integer NOT NULL DEFAULT 0,
      next_attempt_at timestamptz NOT NULL,
      last_status text,
      delivered_at timestamptz,
      created_at timestamptz NOT NULL
    )
  `,
  `
    CREATE INDEX settlement_deliveries_pending ON settlement_deliveries (next_attempt_at) WHERE delivered_at IS NULL
  `,
  `
    -- Money between instances leaves and arrives through the 'settlement' account (like
    -- 'external', it mirrors money outside the instance).
    ALTER TABLE accounts DROP CONSTRAINT accounts_type_check, ADD CONSTRAINT accounts_type_check
      CHECK (type IN ('external', 'wallet', 'fees', 'clearing', 'holds', 'unclaimed', 'payouts',
                      'charity_reserve', 'peer', 'settlement'))
  `,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE settlement_deliveries, settlements, statements, peers`.execute(db);
}
