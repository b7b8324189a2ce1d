/**
 * What keeps the close consistent with members' clicks, and closes one at a time.
 *
 * Every flattr and withdrawal of period P is one statement that reads P's row in `periods`
 * FOR SHARE and only acts while it says 'open'. The close sets the row to 'closing' in the
 * transaction that begins it: that UPDATE waits for the statements in flight (their flattrs are
 * then part of the close), and every later statement reads 'closing' and changes nothing.
 * A session-level advisory lock makes closes run one at a time across processes.
 */
import { sql } from 'kysely';
import type { Context } from '../context.ts';
import type { Executor } from '../ledger/accounts.ts';

/** "FART" as an int4: the namespace of this application's advisory locks. */
const LOCK_NAMESPACE = 0x46415254;
/** The session lock that serialises closes. */
const CLOSE_RUNNER_KEY = 0;

export async function acquireCloseRunnerLock(db: Executor): Promise<void> {
  await sql`SELECT pg_advisory_lock(${LOCK_NAMESPACE}::int, ${CLOSE_RUNNER_KEY}::int)`.execute(db);
}

export async function releaseCloseRunnerLock(db: Executor): Promise<void> {
  await sql`SELECT pg_advisory_unlock(${LOCK_NAMESPACE}::int, ${CLOSE_RUNNER_KEY}::int)`.execute(db);
}

/** The condition a flattr statement puts on its period (see above). */
export function periodIsOpenSql(period: ReturnType<typeof sql.ref> | string) {
  return sql<boolean>`((SELECT state FROM periods WHERE period = ${period} FOR SHARE) = 'open')`;
}

// Periods known to have their row, per database: the row is written once, not on every click.
const knownOpen = new WeakMap<object, Set<string>>();

/** Makes sure the period's row exists (as 'open' unless its close has begun). */
export async function ensurePeriodRow(ctx: Pick<Context, 'db'>, period: string): Promise<void> {
  let known = knownOpen.get(ctx.db);
  if (!known) knownOpen.set(ctx.db, (known = new Set()));
  if (known.has(period)) return;
  await ctx.db
    .insertInto('periods')
    .values({ period, state: 'open' })
    .onConflict((oc) => oc.column('period').doNothing())
    .execute();
  known.add(period);
}

/** Marks the period as closing; waits for the flattr statements of the period in flight. */
export async function markPeriodClosing(db: Executor, period: string): Promise<void> {
  await db
    .insertInto('periods')
    .values({ period, state: 'closing' })
    .onConflict((oc) => oc.column('period').doUpdateSet({ state: 'closing' }))
    .execute();
}

/** Whether the close of a period has begun (then its flattrs can no longer change). */
export async function closeHasBegun(db: Executor, period: string): Promise<boolean> {
  const row = await db.selectFrom('periods').select('state').where('period', '=', period).executeTakeFirst();
  return row?.state === 'closing';
}
