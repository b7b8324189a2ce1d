/**
 * Locks that keep the close consistent with members' clicks.
 *
 * A flattr or a withdrawal in period P holds P's lock in shared mode for its transaction; the
 * close takes it exclusively while it marks P as closing. So every flattr change either commits
 * before the close reads the period, or sees the period closing and is refused.
 * A second, session-level lock makes closes run one at a time across processes.
 */
import { sql, type Transaction } from 'kysely';
import type { DB } from '../db/schema.ts';
import type { Executor } from '../ledger/accounts.ts';

/** "FART" as an int4: the namespace of this application's advisory locks. */
const LOCK_NAMESPACE = 0x46415254;
/** The session lock that serialises closes. */
const CLOSE_RUNNER_KEY = 0;

function periodKey(period: string): number {
  return Number(period.slice(0, 4)) * 12 + Number(period.slice(5, 7));
}

export async function sharePeriodLock(trx: Transaction<DB>, period: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock_shared(${LOCK_NAMESPACE}::int, ${periodKey(period)}::int)`.execute(trx);
}

export async function excludePeriodLock(trx: Transaction<DB>, period: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(${LOCK_NAMESPACE}::int, ${periodKey(period)}::int)`.execute(trx);
}

export async function acquireCloseRunnerLock(db: Executor): Promise<void> {
  await sql`SELECT pg_advisory_lock(${LOCK_NAMESPACE}::int, ${CLOSE_RUNNER_KEY}::int)`.execute(db);
}

export async function releaseCloseRunnerLock(db: Executor): Promise<void> {
  await sql`SELECT pg_advisory_unlock(${LOCK_NAMESPACE}::int, ${CLOSE_RUNNER_KEY}::int)`.execute(db);
}

/** Whether the close of a period has begun (then its flattrs can no longer change). */
export async function closeHasBegun(db: Executor, period: string): Promise<boolean> {
  const row = await db.selectFrom('closes').select('period').where('period', '=', period).executeTakeFirst();
  return row !== undefined;
}
