/**
 * Transfers: the only way money moves. Each is balanced by construction (one debit account,
 * one credit account, one positive amount) and append-only. An idempotency key makes a retried
 * request record once.
 */
import { amountTooLarge } from '../core/money.ts';
import { isBalanceOverflow } from '../db/errors.ts';
import type { Executor } from './accounts.ts';

export interface TransferInput {
  debitAccountId: bigint;
  creditAccountId: bigint;
  amount: bigint;
  currency: string;
  kind: TransferKind;
  period: string;
  reference?: string | null;
  idempotencyKey?: string | null;
  now: Date;
}

export type TransferKind =
  | 'deposit'
  | 'payout_reserve'
  | 'payout_sent'
  | 'budget_charge'
  | 'share'
  | 'fee'
  | 'charity'
  | 'hold'
  | 'hold_release'
  | 'hold_expire'
  | 'charity_reserve_release'
  | 'owed_to_peer'
  | 'unclaimed'
  | 'unclaimed_claim'
  /** held unclaimed shares paid to the member here who claimed the account (issue 13) */
  | 'unclaimed_release'
  | 'unclaimed_expire'
  | 'statement_credit'
  | 'settlement_paid'
  | 'settlement_received'
  /** a creator's pending credit from a peer becomes spendable (src/settlement/pending.ts) */
  | 'credit_cleared'
  // card top-ups (src/cards): the instance's card fee, and money Stripe took back
  | 'card_fee'
  | 'card_refund'
  | 'card_dispute';

export interface RecordedTransfer {
  id: bigint;
  /** false when the idempotency key had already been used: nothing new was recorded. */
  created: boolean;
}

export async function recordTransfer(db: Executor, input: TransferInput): Promise<RecordedTransfer> {
  if (input.amount <= 0n) throw new RangeError(`a transfer moves a positive amount, got ${input.amount}`);
  // The database refuses a balance past the ledger's maximum (and the transaction rolls back):
  // that refusal is the client's 422 amount_too_large, not a 500.
  const inserted = await insert(db, input).catch((error: unknown) => {
    throw isBalanceOverflow(error) ? amountTooLarge(`this ${input.kind.replaceAll('_', ' ')}`) : error;
  });
  if (inserted) return { id: inserted.id, created: true };
  const existing = await db
    .selectFrom('transfers')
    .select('id')
    .where('idempotency_key', '=', input.idempotencyKey ?? '')
    .executeTakeFirstOrThrow();
  return { id: existing.id, created: false };
}

function insert(db: Executor, input: TransferInput) {
  return db
    .insertInto('transfers')
    .values({
      debit_account_id: input.debitAccountId,
      credit_account_id: input.creditAccountId,
      amount: input.amount,
      currency: input.currency,
      kind: input.kind,
      period: input.period,
      reference: input.reference ?? null,
      idempotency_key: input.idempotencyKey ?? null,
      created_at: input.now,
    })
    .onConflict((oc) => oc.column('idempotency_key').doNothing())
    .returning('id')
    .executeTakeFirst();
}
