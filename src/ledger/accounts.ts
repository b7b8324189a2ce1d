/**
 * Ledger accounts. Each member has one wallet; the instance has a handful of system accounts,
 * one per purpose, created on first use. Account codes are stable names ("wallet:42", "fees").
 */
import { sql, type Transaction } from 'kysely';
import type { Database } from '../db/database.ts';
import type { AccountType, DB } from '../db/schema.ts';

export type Executor = Database | Transaction<DB>;

export type SystemAccount = Exclude<AccountType, 'wallet' | 'clearing' | 'peer'>;

/** Where money is before it enters and after it leaves the instance; the only account that goes negative. */
export const EXTERNAL = 'external';

export function walletCode(memberId: bigint): string {
  return `wallet:${memberId}`;
}

/** The account a period's budgets pass through during its close; empty again when the close is done. */
/** The peer account of a Farthing instance: what this instance owes it (settlement pays it). */
export function peerCode(instanceOrigin: string): string {
  return `peer:${instanceOrigin}`;
}

/**
 * SQL: the peer owed for a remote actor `ra` — the claiming Farthing actor's instance when the
 * account is claimed (remote_actors.claimed_by, src/links/claims.ts), else its own instance.
 */
export const PEER_ORIGIN_SQL = "COALESCE(substring(ra.claimed_by FROM '^https?://[^/?#]+'), ra.instance_origin)";

/**
 * The idempotency key of a transfer the close of `period` books (close/stages.ts), e.g.
 * `close:2026-01:peer:https://b.example`; settlement reads what the close owed a peer by it.
 */
export function closeTransferKey(period: string, what: string): string {
  return `close:${period}:${what}`;
}

export function clearingCode(period: string): string {
  return `clearing:${period}`;
}

export async function ensureAccount(
  db: Executor,
  account: { code: string; type: AccountType; memberId?: bigint; currency: string; now: Date },
): Promise<bigint> {
  const inserted = await db
    .insertInto('accounts')
    .values({
      code: account.code,
      type: account.type,
      member_id: account.memberId ?? null,
      currency: account.currency,
      created_at: account.now,
    })
    .onConflict((oc) => oc.column('code').doNothing())
    .returning('id')
    .executeTakeFirst();
  if (inserted) return inserted.id;
  const existing = await db.selectFrom('accounts').select('id').where('code', '=', account.code).executeTakeFirstOrThrow();
  return existing.id;
}

export function ensureSystemAccount(db: Executor, type: SystemAccount, currency: string, now: Date): Promise<bigint> {
  return ensureAccount(db, { code: type, type, currency, now });
}

export async function walletAccountId(db: Executor, memberId: bigint): Promise<bigint> {
  const row = await db.selectFrom('accounts').select('id').where('member_id', '=', memberId).executeTakeFirstOrThrow();
  return row.id;
}

/** An account's balance as an SQL expression (see account_balances in the migration). */
export function balanceSql(accountId: bigint) {
  return sql<bigint>`COALESCE((SELECT balance FROM account_balances WHERE account_id = ${accountId}::bigint), 0::bigint)`;
}

/** Balance = credits - debits, kept in account_balances by the transfers' trigger. */
export async function balanceOf(db: Executor, accountId: bigint): Promise<bigint> {
  const { rows } = await sql<{ balance: bigint }>`SELECT ${balanceSql(accountId)} AS balance`.execute(db);
  return rows[0]?.balance ?? 0n;
}

/**
 * Locks a wallet row for the rest of the transaction, so that two movements out of one wallet
 * (two payout requests, say) are decided one after the other and can never overdraw it.
 */
export async function lockAccount(db: Transaction<DB>, accountId: bigint): Promise<void> {
  await db.selectFrom('accounts').select('id').where('id', '=', accountId).forUpdate().execute();
}

/**
 * Locks an account's balance row (when it has one) for the rest of the transaction: a flattr's
 * click, which reads the balance FOR SHARE, then waits for this transaction to end.
 */
export async function lockBalance(db: Transaction<DB>, accountId: bigint): Promise<void> {
  await db.selectFrom('account_balances').select('account_id').where('account_id', '=', accountId).forUpdate().execute();
}
