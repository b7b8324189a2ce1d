/**
 * The stages of a close, each one transaction of set-based SQL that ends by recording the next
 * stage. A crash rolls back the stage it was in; running the close again resumes there.
 * Every transfer also carries an idempotency key, so no stage can book twice.
 */
import { sql, type Transaction } from 'kysely';
import { MAX_BALANCE_MICROS } from '../core/money.ts';
import { addMonths, type Period } from '../core/period.ts';
import type { DB } from '../db/schema.ts';
import { balanceSql, clearingCode, closeTransferKey, EXTERNAL, ensureAccount, ensureSystemAccount, PEER_ORIGIN_SQL, walletCode } from '../ledger/accounts.ts';

/** product rule 7: held shares wait this many closes for their creator to take part. */
export const HOLD_CLOSES = 6;

export interface CloseParams {
  period: Period;
  currency: string;
  feePpm: bigint;
  idleBudget: 'charity' | 'keep';
  charityMemberId: bigint | null;
  now: Date;
}

export interface CloseAccounts {
  clearing: bigint;
  fees: bigint;
  holds: bigint;
  /** The charity's wallet, or the reserve that keeps charity money until a charity is named. */
  charity: bigint;
}

export async function closeAccounts(trx: Transaction<DB>, p: CloseParams): Promise<CloseAccounts> {
  const { currency, now } = p;
  await ensureSystemAccount(trx, EXTERNAL, currency, now);
  const charity =
    p.charityMemberId === null
      ? await ensureSystemAccount(trx, 'charity_reserve', currency, now)
      : await ensureAccount(trx, { code: walletCode(p.charityMemberId), type: 'wallet', memberId: p.charityMemberId, currency, now });
  return {
    clearing: await ensureAccount(trx, { code: clearingCode(p.period), type: 'clearing', currency, now }),
    fees: await ensureSystemAccount(trx, 'fees', currency, now),
    holds: await ensureSystemAccount(trx, 'holds', currency, now),
    charity,
  };
}

async function advance(trx: Transaction<DB>, period: Period, from: string, to: string): Promise<void> {
  const result = await sql`UPDATE closes SET stage = ${to} WHERE period = ${period} AND stage = ${from}`.execute(trx);
  if (result.numAffectedRows !== 1n) throw new Error(`close ${period}: expected stage ${from} before moving to ${to}`);
}

/**
 * Charging: what each member with a budget pays this period, min(budget, wallet), and the
 * transfers from their wallets to the period's clearing account.
 */
export async function chargeStage(trx: Transaction<DB>, p: CloseParams, accounts: CloseAccounts): Promise<void> {
  const charity = p.charityMemberId ?? -1n;
  await sql`
    WITH budget AS (
      SELECT DISTINCT ON (member_id) member_id, amount
      FROM budgets WHERE period <= ${p.period}
      ORDER BY member_id, period DESC
    ), wallet AS (
      -- the kept balances; the self-check before the close holds them to the transfers
      SELECT a.member_id, COALESCE(b.balance, 0) AS balance
      FROM accounts a LEFT JOIN account_balances b ON b.account_id = a.id
      WHERE a.type = 'wallet'
    ), clicks AS (
      SELECT member_id, count(*)::int AS n FROM flattrs
      WHERE period = ${p.period} AND withdrawn_at IS NULL GROUP BY member_id
    )
    INSERT INTO close_charges (period, member_id, budget, balance, charged, flattr_count, funded)
    SELECT ${p.period}, b.member_id, b.amount, w.balance,
           CASE WHEN COALESCE(c.n, 0) > 0
                  OR (${p.idleBudget} = 'charity' AND b.member_id <> ${charity})
                THEN LEAST(b.amount, GREATEST(w.balance, 0)) ELSE 0 END,
           COALESCE(c.n, 0),
           LEAST(b.amount, w.balance) > 0
    FROM budget b JOIN wallet w ON w.member_id = b.member_id
    LEFT JOIN clicks c ON c.member_id = b.member_id
  `.execute(trx);
  await sql`
    INSERT INTO transfers (debit_account_id, credit_account_id, amount, currency, kind, period, idempotency_key, created_at)
    SELECT a.id, ${accounts.clearing}, c.charged, ${p.currency}, 'budget_charge', ${p.period},
           'close:' || ${p.period} || ':charge:' || c.member_id, ${p.now}
    FROM close_charges c JOIN accounts a ON a.member_id = c.member_id
    WHERE c.period = ${p.period} AND c.charged > 0
  `.execute(trx);
  await advance(trx, p.period, 'charging', 'splitting');
}

/**
 * Splitting: one share per flattr. Each of a member's n flattrs gets floor(charged / n); the
 * first (charged mod n) flattrs, in click order, get one micro-unit more. The fee is taken from
 * each share, rounded down, except from shares to the charity.
 */
export async function splitStage(trx: Transaction<DB>, p: CloseParams): Promise<void> {
  const charity = p.charityMemberId ?? -1n;
  await sql`
    INSERT INTO shares (flattr_id, period, payer_member_id, thing_id, recipient_member_id, recipient_actor_id, gross, fee, net, disposition)
    SELECT s.id, ${p.period}, s.member_id, s.thing_id, s.owner, s.owner_actor, s.gross, s.fee, s.gross - s.fee,
           CASE WHEN s.owner_actor IS NOT NULL THEN
                  -- product rule 8: owed to the creator's Farthing instance, else unclaimed
                  CASE WHEN ra.software = 'farthing' OR ra.claimed_by IS NOT NULL THEN 'peer' ELSE 'unclaimed' END
                WHEN s.owner = ${charity} THEN 'charity'
                WHEN r.funded THEN 'paid'
                ELSE 'held' END
    FROM (
      SELECT q.*, CASE WHEN q.owner IS NOT NULL AND q.owner = ${charity} THEN 0
                       -- bigint cannot overflow: budgets are capped at 1,000,000.00 (config.ts)
                       ELSE q.gross * ${p.feePpm} / 1000000 END AS fee
      FROM (
        SELECT f.id, f.member_id, f.thing_id, t.owner_member_id AS owner, t.owner_actor_id AS owner_actor,
               c.charged / c.flattr_count
                 + CASE WHEN row_number() OVER (PARTITION BY f.member_id ORDER BY f.created_at, f.seq)
                             <= c.charged % c.flattr_count THEN 1 ELSE 0 END AS gross
        FROM flattrs f
        JOIN close_charges c ON c.period = ${p.period} AND c.member_id = f.member_id
        JOIN things t ON t.id = f.thing_id
        WHERE f.period = ${p.period} AND f.withdrawn_at IS NULL
      ) q
    ) s
    LEFT JOIN close_charges r ON r.period = ${p.period} AND r.member_id = s.owner
    LEFT JOIN remote_actors ra ON ra.id = s.owner_actor
  `.execute(trx);
  // A creator whose wallet has no room for what this close pays them (with what waits in holds
  // for them) would take it past the ledger's maximum: their shares wait in holds instead, so
  // the close completes (released at a later close that has room, like any held share).
  await sql`
    UPDATE shares s SET disposition = 'held'
    FROM (
      SELECT x.recipient_member_id FROM (
        SELECT recipient_member_id, sum(net) AS incoming FROM shares
        WHERE period = ${p.period} AND disposition = 'paid' GROUP BY recipient_member_id
      ) x
      JOIN accounts a ON a.member_id = x.recipient_member_id
      LEFT JOIN account_balances b ON b.account_id = a.id
      WHERE COALESCE(b.balance, 0) + x.incoming
            + (SELECT COALESCE(sum(amount), 0) FROM holds h WHERE h.member_id = x.recipient_member_id AND h.state = 'held') > ${MAX_BALANCE_MICROS}::bigint
    ) full_wallet
    WHERE s.period = ${p.period} AND s.disposition = 'paid' AND s.recipient_member_id = full_wallet.recipient_member_id
  `.execute(trx);
  await advance(trx, p.period, 'splitting', 'booking');
}

/**
 * Booking: the clearing account pays out what the shares say (creators' wallets, the fee
 * account, holds, the charity), older holds are released to creators who took part this time or
 * expire to the charity, and charity money kept in reserve goes to a newly named charity.
 */
export async function bookStage(trx: Transaction<DB>, p: CloseParams, accounts: CloseAccounts): Promise<void> {
  const key = (what: string) => closeTransferKey(p.period, what);
  const insertTransfers = (kind: string, select: ReturnType<typeof sql>) =>
    sql`
      INSERT INTO transfers (debit_account_id, credit_account_id, amount, currency, kind, period, idempotency_key, created_at)
      SELECT debit, credit, amount, ${p.currency}, ${kind}, ${p.period}, idem, ${p.now}
      FROM (${select}) t WHERE amount > 0
    `.execute(trx);

  // One pass over the period's shares; everything below reads these per-creator totals.
  await sql`
    CREATE TEMP TABLE close_totals ON COMMIT DROP AS
    SELECT recipient_member_id, recipient_actor_id, disposition, count(*)::bigint AS flattrs, sum(net)::bigint AS net, sum(fee)::bigint AS fee
    FROM shares WHERE period = ${p.period}
    GROUP BY recipient_member_id, recipient_actor_id, disposition
  `.execute(trx);

  // Shares to creators who took part: one transfer per creator.
  await insertTransfers(
    'share',
    sql`
    SELECT ${accounts.clearing}::bigint AS debit, a.id AS credit, s.net AS amount,
           ${key('share:')} || s.recipient_member_id AS idem
    FROM close_totals s JOIN accounts a ON a.member_id = s.recipient_member_id
    WHERE s.disposition = 'paid'`,
  );
  await insertTransfers(
    'fee',
    sql`
    SELECT ${accounts.clearing}::bigint AS debit, ${accounts.fees}::bigint AS credit,
           COALESCE(sum(fee), 0)::bigint AS amount, ${key('fees')} AS idem
    FROM close_totals`,
  );

  // Shares of creators who did not take part wait in holds.
  await sql`
    INSERT INTO holds (period, member_id, amount, state)
    SELECT ${p.period}, recipient_member_id, net, 'held'
    FROM close_totals WHERE disposition = 'held' AND net > 0
  `.execute(trx);
  await insertTransfers(
    'hold',
    sql`
    SELECT ${accounts.clearing}::bigint AS debit, ${accounts.holds}::bigint AS credit,
           COALESCE(sum(amount), 0)::bigint AS amount, ${key('holds')} AS idem
    FROM holds WHERE period = ${p.period}`,
  );

  // Charity: shares to the charity and budgets of members who flattred nothing.
  await insertTransfers(
    'charity',
    sql`
    SELECT ${accounts.clearing}::bigint AS debit, ${accounts.charity}::bigint AS credit,
           ((SELECT COALESCE(sum(net), 0) FROM close_totals WHERE disposition = 'charity')
          + (SELECT COALESCE(sum(charged), 0) FROM close_charges WHERE period = ${p.period} AND flattr_count = 0))::bigint AS amount,
           ${key('charity')} AS idem`,
  );

  // Earlier holds: released to creators who take part in this period (and whose wallet has
  // room for them under the ledger's maximum)...
  await insertTransfers(
    'hold_release',
    sql`
    SELECT ${accounts.holds}::bigint AS debit, a.id AS credit, sum(h.amount)::bigint AS amount,
           ${key('release:')} || h.member_id AS idem
    FROM holds h
    JOIN close_charges c ON c.period = ${p.period} AND c.member_id = h.member_id AND c.funded
    JOIN accounts a ON a.member_id = h.member_id
    LEFT JOIN account_balances b ON b.account_id = a.id
    WHERE h.state = 'held' AND h.period < ${p.period}
    GROUP BY h.member_id, a.id, b.balance
    HAVING COALESCE(b.balance, 0) + sum(h.amount) <= ${MAX_BALANCE_MICROS}::bigint`,
  );
  await sql`
    UPDATE holds h SET state = 'released', settled_period = ${p.period}
    WHERE h.state = 'held' AND h.period < ${p.period}
      AND EXISTS (SELECT 1 FROM transfers t WHERE t.idempotency_key = ${key('release:')} || h.member_id)
  `.execute(trx);
  // ...and after six closes without taking part, given to the charity.
  const expiredBefore = addMonths(p.period, -HOLD_CLOSES);
  await insertTransfers(
    'hold_expire',
    sql`
    SELECT ${accounts.holds}::bigint AS debit, ${accounts.charity}::bigint AS credit,
           COALESCE(sum(amount), 0)::bigint AS amount, ${key('expire')} AS idem
    FROM holds WHERE state = 'held' AND period <= ${expiredBefore}`,
  );
  await sql`
    UPDATE holds SET state = 'expired', settled_period = ${p.period}
    WHERE state = 'held' AND period <= ${expiredBefore}
  `.execute(trx);

  await bookRemote(trx, p, accounts, insertTransfers);

  if (p.charityMemberId !== null) {
    const reserve = await ensureSystemAccount(trx, 'charity_reserve', p.currency, p.now);
    await insertTransfers(
      'charity_reserve_release',
      sql`
      SELECT ${reserve}::bigint AS debit, ${accounts.charity}::bigint AS credit,
             ${balanceSql(reserve)} AS amount,
             ${key('reserve')} AS idem`,
    );
  }
}

type InsertTransfers = (kind: string, select: ReturnType<typeof sql>) => Promise<unknown>;

const peerOrigin = sql.raw(PEER_ORIGIN_SQL);

/**
 * Shares for remote creators (product rule 8). A creator on a Farthing instance is owed through
 * that instance: one transfer per peer to its peer account. A fediverse account no Farthing
 * instance claims waits in `unclaimed` for up to six closes: once its instance turns out to be
 * a Farthing instance, the next close moves it to that peer; after six closes it goes to the
 * charity.
 */
async function bookRemote(trx: Transaction<DB>, p: CloseParams, accounts: CloseAccounts, insertTransfers: InsertTransfers): Promise<void> {
  const key = (what: string) => closeTransferKey(p.period, what);
  await sql`
    INSERT INTO accounts (code, type, currency, created_at)
    SELECT DISTINCT 'peer:' || ${peerOrigin}, 'peer', ${p.currency}, ${p.now}::timestamptz
    FROM remote_actors ra
    WHERE ra.id IN (SELECT recipient_actor_id FROM close_totals WHERE disposition = 'peer')
       OR ra.id IN (SELECT actor_id FROM unclaimed WHERE state = 'held') AND (ra.software = 'farthing' OR ra.claimed_by IS NOT NULL)
    ON CONFLICT (code) DO NOTHING
  `.execute(trx);
  await insertTransfers(
    'owed_to_peer',
    sql`
    SELECT ${accounts.clearing}::bigint AS debit, a.id AS credit, sum(s.net)::bigint AS amount,
           ${key('peer:')} || ${peerOrigin} AS idem
    FROM close_totals s
    JOIN remote_actors ra ON ra.id = s.recipient_actor_id
    JOIN accounts a ON a.code = 'peer:' || ${peerOrigin}
    WHERE s.disposition = 'peer'
    GROUP BY ${peerOrigin}, a.id`,
  );

  const unclaimedAccount = await ensureSystemAccount(trx, 'unclaimed', p.currency, p.now);
  // Earlier unclaimed shares of an account a member here now claims (claims.ts): paid to the
  // member's wallet, one transfer per member...
  await insertTransfers(
    'unclaimed_release',
    sql`
    SELECT ${unclaimedAccount}::bigint AS debit, a.id AS credit, sum(u.amount)::bigint AS amount,
           ${key('claim_here:')} || ra.claimed_member_id AS idem
    FROM unclaimed u
    JOIN remote_actors ra ON ra.id = u.actor_id AND ra.claimed_member_id IS NOT NULL
    JOIN accounts a ON a.member_id = ra.claimed_member_id
    WHERE u.state = 'held' AND u.period < ${p.period}
    GROUP BY ra.claimed_member_id, a.id`,
  );
  await sql`
    UPDATE unclaimed u SET state = 'claimed', settled_period = ${p.period}, claimed_member_id = ra.claimed_member_id
    FROM remote_actors ra
    WHERE ra.id = u.actor_id AND ra.claimed_member_id IS NOT NULL AND u.state = 'held' AND u.period < ${p.period}
  `.execute(trx);
  // ...those whose account turned out to live on a Farthing instance...
  await insertTransfers(
    'unclaimed_claim',
    sql`
    SELECT ${unclaimedAccount}::bigint AS debit, a.id AS credit, sum(u.amount)::bigint AS amount,
           ${key('claim:')} || ${peerOrigin} AS idem
    FROM unclaimed u
    JOIN remote_actors ra ON ra.id = u.actor_id AND (ra.software = 'farthing' OR ra.claimed_by IS NOT NULL)
    JOIN accounts a ON a.code = 'peer:' || ${peerOrigin}
    WHERE u.state = 'held' AND u.period < ${p.period}
    GROUP BY ${peerOrigin}, a.id`,
  );
  await sql`
    UPDATE unclaimed u SET state = 'claimed', settled_period = ${p.period},
      claimed_peer = ${peerOrigin}, claimed_creator = COALESCE(ra.claimed_by, ra.iri)
    FROM remote_actors ra
    WHERE ra.id = u.actor_id AND (ra.software = 'farthing' OR ra.claimed_by IS NOT NULL) AND u.state = 'held' AND u.period < ${p.period}
  `.execute(trx);
  // ...this period's unclaimed shares...
  await sql`
    INSERT INTO unclaimed (period, actor_id, amount, state)
    SELECT ${p.period}, recipient_actor_id, net, 'held'
    FROM close_totals WHERE disposition = 'unclaimed' AND net > 0
  `.execute(trx);
  await insertTransfers(
    'unclaimed',
    sql`
    SELECT ${accounts.clearing}::bigint AS debit, ${unclaimedAccount}::bigint AS credit,
           COALESCE(sum(amount), 0)::bigint AS amount, ${key('unclaimed')} AS idem
    FROM unclaimed WHERE period = ${p.period}`,
  );
  // ...and those nobody claimed within six closes go to the charity.
  const expiredBefore = addMonths(p.period, -HOLD_CLOSES);
  await insertTransfers(
    'unclaimed_expire',
    sql`
    SELECT ${unclaimedAccount}::bigint AS debit, ${accounts.charity}::bigint AS credit,
           COALESCE(sum(amount), 0)::bigint AS amount, ${key('unclaimed_expire')} AS idem
    FROM unclaimed WHERE state = 'held' AND period <= ${expiredBefore}`,
  );
  await sql`
    UPDATE unclaimed SET state = 'expired', settled_period = ${p.period}
    WHERE state = 'held' AND period <= ${expiredBefore}
  `.execute(trx);
}
