/**
 * Bank rails: money in by bank transfer (each member's permanent RF creditor reference, the bank's
 * camt.053 statements imported once per entry) and money out by SEPA credit transfer (members'
 * payout accounts, pain.001 batches stored as exported, payouts `exported` until the bank's
 * statement shows the debit).
 * Frozen in time: never import application code here.
 */
import { type Kysely, sql } from 'kysely';

const STATEMENTS = [
  `
    -- A member's personal transfer reference (ISO 11649, "RF" + two check digits + body); it
    -- never changes once made, so a standing order keeps working.
    CREATE TABLE transfer_references (
      member_id bigint PRIMARY KEY REFERENCES members (id),
      reference text NOT NULL UNIQUE CHECK (reference ~ '^RF[0-9]{2}[0-9A-Z]{1,21}$'),
      created_at timestamptz NOT NULL
    )
  `,
  `
    -- Where a member's payouts are sent (the IBAN in electronic format, checked by the app).
    CREATE TABLE payout_accounts (
      member_id bigint PRIMARY KEY REFERENCES members (id),
      iban text NOT NULL CHECK (iban ~ '^[A-Z]{2}[0-9]{2}[A-Z0-9]{1,30}$'),
      holder text NOT NULL CHECK (length(holder) BETWEEN 1 AND 70),
      updated_at timestamptz NOT NULL
    )
  `,
  `
    -- A pain.001 file as it was handed out: the same batch downloaded again is the same file.
    CREATE TABLE sepa_batches (
      id text PRIMARY KEY,
      created_at timestamptz NOT NULL,
      payouts integer NOT NULL CHECK (payouts > 0),
      total bigint NOT NULL CHECK (total > 0),
      document text NOT NULL
    )
  `,
  `
    -- exported: in a SEPA file (money still in the payouts account until the bank's statement or
    -- the admin says it left). A payout is in at most one batch; its EndToEndId is unique.
    ALTER TABLE payouts DROP CONSTRAINT payouts_state_check,
      ADD CONSTRAINT payouts_state_check CHECK (state IN ('requested', 'exported', 'paid')),
      ADD COLUMN sepa_batch_id text REFERENCES sepa_batches (id),
      ADD COLUMN end_to_end_id text UNIQUE,
      ADD COLUMN iban text,
      ADD COLUMN holder text,
      ADD CONSTRAINT payouts_exported_in_batch CHECK (state <> 'exported' OR sepa_batch_id IS NOT NULL)
  `,
  `
    CREATE INDEX payouts_batch ON payouts (sepa_batch_id) WHERE sepa_batch_id IS NOT NULL
  `,
  `
    -- One row per camt.053 file the admin imported (what it held and what came of it).
    CREATE TABLE bank_imports (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      message_id text NOT NULL,
      version text NOT NULL,
      imported_at timestamptz NOT NULL,
      matched integer NOT NULL,
      unmatched integer NOT NULL,
      duplicates integer NOT NULL
    )
  `,
  `
    -- Each booked entry of the bank account, once: entry_key is the bank's reference for it or,
    -- without one, a fingerprint of its content (src/banking/entry-key.ts). A re-imported or
    -- overlapping statement finds its entries here and records nothing new.
    CREATE TABLE bank_entries (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      entry_key text NOT NULL UNIQUE,
      entry_ref text,
      import_id bigint NOT NULL REFERENCES bank_imports (id),
      direction text NOT NULL CHECK (direction IN ('credit', 'debit')),
      amount bigint NOT NULL CHECK (amount > 0),
      booked_on text,
      counterparty text,
      remittance text,
      state text NOT NULL CHECK (state IN ('deposited', 'paid_out', 'unmatched', 'assigned', 'ignored')),
      reason text,
      member_id bigint REFERENCES members (id),
      payout_ids text,
      decided_at timestamptz,
      CHECK (state NOT IN ('deposited', 'assigned') OR member_id IS NOT NULL AND direction = 'credit')
    )
  `,
  `
    CREATE INDEX bank_entries_open ON bank_entries (id) WHERE state = 'unmatched'
  `,
];

export async function up(db: Kysely<any>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE bank_entries`.execute(db);
  await sql`DROP TABLE bank_imports`.execute(db);
  await sql`UPDATE payouts SET state = 'requested' WHERE state = 'exported'`.execute(db);
  await sql`ALTER TABLE payouts DROP CONSTRAINT payouts_exported_in_batch, DROP COLUMN holder, DROP COLUMN iban, DROP COLUMN end_to_end_id, DROP COLUMN sepa_batch_id, DROP CONSTRAINT payouts_state_check, ADD CONSTRAINT payouts_state_check CHECK (state IN ('requested', 'paid'))`.execute(
    db,
  );
  await sql`DROP TABLE sepa_batches`.execute(db);
  await sql`DROP TABLE payout_accounts`.execute(db);
  await sql`DROP TABLE transfer_references`.execute(db);
}
