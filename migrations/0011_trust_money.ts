/**
 * Trust between instances, money side (issue 12): peers are trusted by the admin (or
 * FARTHING_PEERS) before their statements move money, with a credit line each; a creator's
 * credit from a peer's statement waits in a pending account of its own until the settlement
 * covering it is settled (or the peer's credit line covers it); no balance ever passes the
 * ledger's one maximum; a close that fails says where and why.
 * Frozen in time: never import application code here.
 */
import { type Kysely, sql } from 'kysely';

/** 10^12 major units in micro-units: src/core/money.ts MAX_BALANCE_MICROS, written out here. */
const MAX_BALANCE = '1000000000000000000';

const STATEMENTS = [
  `
    -- trusted: the admin (or FARTHING_PEERS) lets the peer's statements credit creators here;
    -- neither trusted nor blocked: pending. credit_line: how much of the peer's accepted, unpaid
    -- statements may be spendable before its money arrives.
    ALTER TABLE peers ADD COLUMN trusted boolean NOT NULL DEFAULT false,
      ADD COLUMN credit_line bigint NOT NULL DEFAULT 0 CHECK (credit_line >= 0 AND credit_line <= ${MAX_BALANCE}),
      ADD CONSTRAINT peers_trusted_not_blocked CHECK (NOT (trusted AND blocked))
  `,
  `
    -- Peers whose statements were accepted before this migration were trusted in practice.
    UPDATE peers SET trusted = true WHERE NOT blocked AND EXISTS (
      SELECT 1 FROM statements s WHERE s.peer_origin = peers.origin AND s.direction = 'in' AND s.state = 'accepted')
  `,
  `
    ALTER TABLE accounts DROP CONSTRAINT accounts_type_check, ADD CONSTRAINT accounts_type_check
      CHECK (type IN ('external', 'wallet', 'fees', 'clearing', 'holds', 'unclaimed', 'payouts',
                      'charity_reserve', 'peer', 'settlement', 'pending'))
  `,
  `
    -- One row per line of an accepted statement from a peer: the creator's credit, held in the
    -- account pending:<peer>:<member> until cleared into their wallet (by the settlement of its
    -- period with that peer, or within the peer's credit line).
    CREATE TABLE pending_credits (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      statement_id text NOT NULL,
      line integer NOT NULL,
      peer_origin text NOT NULL,
      period text NOT NULL,
      member_id bigint NOT NULL REFERENCES members (id),
      account_id bigint NOT NULL REFERENCES accounts (id),
      amount bigint NOT NULL CHECK (amount > 0),
      state text NOT NULL CHECK (state IN ('pending', 'cleared')),
      cleared_by text CHECK (cleared_by IN ('settlement', 'credit_line')),
      created_at timestamptz NOT NULL,
      cleared_at timestamptz,
      UNIQUE (statement_id, line),
      CHECK ((state = 'cleared') = (cleared_by IS NOT NULL AND cleared_at IS NOT NULL))
    )
  `,
  `
    CREATE INDEX pending_credits_peer ON pending_credits (peer_origin, period)
  `,
  `
    CREATE INDEX pending_credits_member ON pending_credits (member_id) WHERE state = 'pending'
  `,
  `
    -- The ledger's one maximum: no balance, either way, passes 10^12 major units. A transfer that
    -- would is refused before anything is written (the transaction rolls back); the application
    -- answers 422 amount_too_large.
    ALTER TABLE account_balances ADD CONSTRAINT account_balance_within_maximum
      CHECK (balance BETWEEN -${MAX_BALANCE} AND ${MAX_BALANCE})
  `,
  `
    -- A close that failed: its stage stays where it stopped; error says why (cleared when done).
    ALTER TABLE closes ADD COLUMN error text, ADD COLUMN failed_at timestamptz
  `,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE closes DROP COLUMN error, DROP COLUMN failed_at`.execute(db);
  await sql`ALTER TABLE account_balances DROP CONSTRAINT account_balance_within_maximum`.execute(db);
  await sql`DROP TABLE pending_credits`.execute(db);
  await sql`ALTER TABLE peers DROP COLUMN trusted, DROP COLUMN credit_line`.execute(db);
}
