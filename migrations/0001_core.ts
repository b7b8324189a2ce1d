/**
 * The instance core: members, the ledger, budgets, things, flattrs, payouts and the close.
 * Frozen in time: never import application code here.
 */
import { type Kysely, sql } from 'kysely';

const STATEMENTS = [
  `
    CREATE TABLE settings (
      key text PRIMARY KEY,
      value jsonb NOT NULL
    )
  `,
  `
    CREATE TABLE members (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      username text NOT NULL CHECK (username ~ '^[A-Za-z0-9_]{1,30}$'),
      password_hash text NOT NULL,
      role text NOT NULL DEFAULT 'member' CHECK (role IN ('member', 'admin')),
      listed boolean NOT NULL DEFAULT true,
      invited_with text,
      created_at timestamptz NOT NULL
    )
  `,
  `
    CREATE UNIQUE INDEX members_username_key ON members (lower(username))
  `,
  `
    CREATE TABLE invites (
      code text PRIMARY KEY,
      created_by bigint REFERENCES members (id),
      created_at timestamptz NOT NULL,
      used_by bigint UNIQUE REFERENCES members (id),
      used_at timestamptz
    )
  `,
  `
    CREATE INDEX invites_created_by ON invites (created_by)
  `,
  `
    -- Bearer tokens and browser sessions; only a SHA-256 of the secret is stored.
    CREATE TABLE tokens (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      member_id bigint NOT NULL REFERENCES members (id),
      secret_hash bytea NOT NULL UNIQUE,
      kind text NOT NULL CHECK (kind IN ('api', 'session')),
      created_at timestamptz NOT NULL,
      expires_at timestamptz,
      revoked_at timestamptz
    )
  `,
  `
    -- The ledger. An account's balance is credits minus debits over its transfers.
    -- Only the external account (money outside the instance) may go negative.
    CREATE TABLE accounts (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      code text NOT NULL UNIQUE,
      type text NOT NULL CHECK (type IN ('external', 'wallet', 'fees', 'clearing', 'holds', 'unclaimed',
                                         'payouts', 'charity_reserve', 'peer')),
      member_id bigint UNIQUE REFERENCES members (id),
      currency char(3) NOT NULL,
      created_at timestamptz NOT NULL,
      CHECK ((type = 'wallet') = (member_id IS NOT NULL))
    )
  `,
  `
    -- Append-only: a correction is a new transfer (the trigger below refuses UPDATE and DELETE).
    CREATE TABLE transfers (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      debit_account_id bigint NOT NULL REFERENCES accounts (id),
      credit_account_id bigint NOT NULL REFERENCES accounts (id),
      amount bigint NOT NULL CHECK (amount > 0),
      currency char(3) NOT NULL,
      kind text NOT NULL,
      period text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
      reference text,
      idempotency_key text UNIQUE,
      created_at timestamptz NOT NULL,
      CHECK (debit_account_id <> credit_account_id)
    )
  `,
  `
    CREATE INDEX transfers_debit ON transfers (debit_account_id) INCLUDE (amount)
  `,
  `
    CREATE INDEX transfers_credit ON transfers (credit_account_id) INCLUDE (amount)
  `,
  `
    CREATE INDEX transfers_period ON transfers (period)
  `,
  `
    -- Every account's balance, kept by the trigger below in the transaction of each transfer, so
    -- that a click can check a wallet with one lookup. It is derived, never written otherwise,
    -- and the ledger self-check holds it equal to the sums over transfers.
    CREATE TABLE account_balances (
      account_id bigint PRIMARY KEY REFERENCES accounts (id),
      balance bigint NOT NULL
    )
  `,
  `
    CREATE FUNCTION apply_transfers_to_balances() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      -- one row per account and statement; in account order, so that concurrent transactions
      -- lock balance rows in the same order and cannot deadlock
      INSERT INTO account_balances (account_id, balance)
      SELECT account_id, sum(delta) FROM (
        SELECT credit_account_id AS account_id, amount AS delta FROM new_transfers
        UNION ALL
        SELECT debit_account_id, -amount FROM new_transfers
      ) d
      GROUP BY account_id
      ORDER BY account_id
      ON CONFLICT (account_id) DO UPDATE SET balance = account_balances.balance + excluded.balance;
      RETURN NULL;
    END $$
  `,
  `
    CREATE TRIGGER transfers_update_balances AFTER INSERT ON transfers
      REFERENCING NEW TABLE AS new_transfers
      FOR EACH STATEMENT EXECUTE FUNCTION apply_transfers_to_balances()
  `,
  `
    CREATE FUNCTION transfers_are_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION 'transfers are append-only: correct with a new transfer';
    END $$
  `,
  `
    CREATE TRIGGER transfers_append_only BEFORE UPDATE OR DELETE ON transfers
      FOR EACH ROW EXECUTE FUNCTION transfers_are_append_only()
  `,
  `
    -- A budget row applies from its period until a later row.
    CREATE TABLE budgets (
      member_id bigint NOT NULL REFERENCES members (id),
      period text NOT NULL,
      amount bigint NOT NULL CHECK (amount > 0),
      set_at timestamptz NOT NULL,
      PRIMARY KEY (member_id, period)
    )
  `,
  `
    CREATE TABLE things (
      id uuid PRIMARY KEY,
      url text NOT NULL,
      title text,
      owner_member_id bigint NOT NULL REFERENCES members (id),
      created_at timestamptz NOT NULL
    )
  `,
  `
    CREATE UNIQUE INDEX things_url_key ON things (url)
  `,
  `
    CREATE INDEX things_owner ON things (owner_member_id)
  `,
  `
    -- A period's flattrs may change while it is open. Each flattr and withdrawal reads this row
    -- FOR SHARE; the close sets it to 'closing', which waits for those in flight and makes every
    -- later one see 'closing' (READ COMMITTED re-reads a locked row's newest version).
    CREATE TABLE periods (
      period text PRIMARY KEY CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
      state text NOT NULL CHECK (state IN ('open', 'closing'))
    )
  `,
  `
    CREATE TABLE flattrs (
      id uuid PRIMARY KEY,
      seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
      member_id bigint NOT NULL REFERENCES members (id),
      thing_id uuid NOT NULL REFERENCES things (id),
      period text NOT NULL,
      created_at timestamptz NOT NULL,
      withdrawn_at timestamptz
    )
  `,
  `
    -- product rule 5: at most one flattr per member per thing per period
    CREATE UNIQUE INDEX flattrs_once ON flattrs (member_id, thing_id, period) WHERE withdrawn_at IS NULL
  `,
  `
    CREATE INDEX flattrs_period_member ON flattrs (period, member_id) WHERE withdrawn_at IS NULL
  `,
  `
    CREATE INDEX flattrs_thing ON flattrs (thing_id, period)
  `,
  `
    CREATE TABLE payouts (
      id uuid PRIMARY KEY,
      member_id bigint NOT NULL REFERENCES members (id),
      amount bigint NOT NULL CHECK (amount > 0),
      state text NOT NULL CHECK (state IN ('requested', 'paid')),
      requested_at timestamptz NOT NULL,
      paid_at timestamptz,
      reference text
    )
  `,
  `
    CREATE INDEX payouts_member ON payouts (member_id)
  `,
  `
    -- The monthly close: one row per period, its stage and the parameters it runs with.
    CREATE TABLE closes (
      period text PRIMARY KEY,
      stage text NOT NULL CHECK (stage IN ('charging', 'splitting', 'booking', 'done')),
      fee_ppm bigint NOT NULL,
      idle_budget text NOT NULL,
      charity_member_id bigint REFERENCES members (id),
      started_at timestamptz NOT NULL,
      finished_at timestamptz,
      summary jsonb
    )
  `,
  `
    -- What each member with a budget was charged at a close.
    CREATE TABLE close_charges (
      period text NOT NULL,
      member_id bigint NOT NULL REFERENCES members (id),
      budget bigint NOT NULL,
      balance bigint NOT NULL,
      charged bigint NOT NULL CHECK (charged >= 0),
      flattr_count integer NOT NULL,
      funded boolean NOT NULL,
      PRIMARY KEY (period, member_id)
    )
  `,
  `
    -- One share per flattr at the close: gross = fee + net.
    -- No foreign keys here: only the close writes shares, straight from flattrs, and checking
    -- millions of references would double its time; the ledger self-check covers it instead.
    CREATE TABLE shares (
      flattr_id uuid PRIMARY KEY,
      period text NOT NULL,
      payer_member_id bigint NOT NULL,
      thing_id uuid NOT NULL,
      recipient_member_id bigint NOT NULL,
      gross bigint NOT NULL CHECK (gross >= 0),
      fee bigint NOT NULL CHECK (fee >= 0),
      net bigint NOT NULL CHECK (net >= 0),
      disposition text NOT NULL CHECK (disposition IN ('paid', 'held', 'charity')),
      CHECK (gross = fee + net)
    )
  `,
  `
    CREATE INDEX shares_recipient ON shares (recipient_member_id, period)
  `,
  `
    -- product rule 7: shares of a creator who did not take part, held for up to six closes.
    CREATE TABLE holds (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      period text NOT NULL,
      member_id bigint NOT NULL REFERENCES members (id),
      amount bigint NOT NULL CHECK (amount > 0),
      state text NOT NULL CHECK (state IN ('held', 'released', 'expired')),
      settled_period text,
      UNIQUE (period, member_id)
    )
  `,
  `
    CREATE INDEX holds_open ON holds (member_id) WHERE state = 'held'
  `,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE holds, shares, close_charges, closes, payouts, flattrs, periods, things, budgets,
    account_balances, transfers, accounts, tokens, invites, members, settings CASCADE`.execute(db);
  await sql`DROP FUNCTION transfers_are_append_only`.execute(db);
  await sql`DROP FUNCTION apply_transfers_to_balances`.execute(db);
}
