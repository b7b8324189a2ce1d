/**
 * The ledger self-check. Each check is one SQL query that must return no rows; the comment on
 * each says which bug it would catch. It runs in tests after every scenario, before and inside
 * every close, and behind GET /api/v1/admin/ledger/check.
 */
import { sql } from 'kysely';
import { MAX_BALANCE_MICROS } from '../core/money.ts';
import type { Executor } from './accounts.ts';

interface Check {
  name: string;
  /** Why this check exists: the bug it catches. */
  why: string;
  /** The query; `period` (null: all) narrows the checks that are about one close. */
  query: (period: string | null) => ReturnType<typeof sql<Record<string, unknown>>>;
}

/** True for rows of the period being checked, or for every row when checking everything. */
const inScope = (column: ReturnType<typeof sql.ref>, period: string | null) => sql`(${period}::text IS NULL OR ${column} = ${period})`;

/**
 * The open rows of a table that keeps money aside (holds, unclaimed shares, payout requests) add
 * up to the balance of the account that holds that money.
 */
function matchesAccount(name: string, why: string, table: 'holds' | 'unclaimed' | 'payouts', openStates: string[], code: string): Check {
  return {
    name,
    why,
    query: () => sql`
      SELECT o.total, COALESCE(b.balance, 0) AS balance
      FROM (SELECT COALESCE(sum(amount), 0) AS total FROM ${sql.table(table)} WHERE state IN (${sql.join(openStates)})) o
      LEFT JOIN accounts a ON a.code = ${code}
      LEFT JOIN account_balances b ON b.account_id = a.id
      WHERE o.total <> COALESCE(b.balance, 0)`,
  };
}

const CHECKS: Check[] = [
  {
    name: 'balances_sum_to_zero',
    why: 'money invented or lost: every currency must sum to zero over all accounts',
    query: () => sql`
      SELECT currency, sum(amount) AS total FROM (
        SELECT currency, amount FROM transfers UNION ALL SELECT currency, -amount FROM transfers
      ) x GROUP BY currency HAVING sum(amount) <> 0`,
  },
  {
    name: 'balances_match_transfers',
    why: 'a kept balance (account_balances) that differs from the sum of its transfers',
    query: () => sql`
      SELECT a.id, COALESCE(kept.balance, 0) AS kept, COALESCE(summed.balance, 0) AS summed
      FROM accounts a
      LEFT JOIN account_balances kept ON kept.account_id = a.id
      LEFT JOIN (SELECT account_id, sum(delta) AS balance FROM (
                   SELECT credit_account_id AS account_id, amount AS delta FROM transfers
                   UNION ALL SELECT debit_account_id, -amount FROM transfers) x GROUP BY account_id) summed
        ON summed.account_id = a.id
      WHERE COALESCE(kept.balance, 0) <> COALESCE(summed.balance, 0)`,
  },
  {
    name: 'no_negative_accounts',
    why: 'an overdrawn wallet or system account: only accounts mirroring money outside the instance may go negative (external, settlement, and a peer that owes us)',
    query: () => sql`
      SELECT a.code, b.balance FROM accounts a JOIN account_balances b ON b.account_id = a.id
      WHERE a.type NOT IN ('external', 'settlement', 'peer') AND a.code <> 'card_fees' AND b.balance < 0`,
  },
  {
    name: 'one_currency_per_transfer',
    why: 'a transfer between accounts of different currencies',
    query: () => sql`
      SELECT t.id FROM transfers t
      JOIN accounts d ON d.id = t.debit_account_id JOIN accounts c ON c.id = t.credit_account_id
      WHERE t.currency <> d.currency OR t.currency <> c.currency`,
  },
  {
    name: 'closed_clearing_is_empty',
    why: 'a close that charged more or less than it paid out',
    query: (period) => sql`
      SELECT cl.period, b.balance AS left_over
      FROM closes cl
      JOIN accounts a ON a.code = 'clearing:' || cl.period
      JOIN account_balances b ON b.account_id = a.id
      WHERE cl.stage = 'done' AND b.balance <> 0 AND ${inScope(sql.ref('cl.period'), period)}`,
  },
  {
    name: 'charges_match_transfers',
    why: 'a member charged a different amount than the close recorded for them',
    query: (period) => sql`
      SELECT c.period, c.member_id, c.charged, COALESCE(t.amount, 0) AS transferred
      FROM close_charges c
      JOIN closes cl ON cl.period = c.period AND cl.stage IN ('splitting', 'booking', 'done')
      LEFT JOIN transfers t ON t.idempotency_key = 'close:' || c.period || ':charge:' || c.member_id
      WHERE c.charged <> COALESCE(t.amount, 0) AND ${inScope(sql.ref('c.period'), period)}`,
  },
  {
    name: 'shares_add_up_to_charges',
    why: 'a split whose shares do not add up exactly to what the member was charged',
    query: (period) => sql`
      SELECT c.period, c.member_id, c.charged, s.total FROM close_charges c
      JOIN (SELECT period, payer_member_id, sum(gross) AS total, count(*) AS n FROM shares
            WHERE ${inScope(sql.ref('period'), period)} GROUP BY 1, 2) s
        ON s.period = c.period AND s.payer_member_id = c.member_id
      WHERE s.total <> c.charged OR s.n <> c.flattr_count`,
  },
  {
    name: 'every_closed_flattr_has_a_share',
    why: 'a flattr of a closed period that was never paid',
    query: (period) => sql`
      SELECT f.id FROM flattrs f JOIN closes cl ON cl.period = f.period AND cl.stage IN ('booking', 'done')
      LEFT JOIN shares s ON s.flattr_id = f.id
      WHERE f.withdrawn_at IS NULL AND s.flattr_id IS NULL AND ${inScope(sql.ref('f.period'), period)}`,
  },
  matchesAccount('holds_match_account', 'held shares that the holds account does not hold (or the reverse)', 'holds', ['held'], 'holds'),
  matchesAccount('unclaimed_match_account', 'unclaimed shares that the unclaimed account does not hold (or the reverse)', 'unclaimed', ['held'], 'unclaimed'),
  // An exported payout (in a SEPA file, src/banking/sepa-export.ts) is still in the payouts account.
  matchesAccount('payouts_match_account', 'a payout request whose reserved money is not where it should be', 'payouts', ['requested', 'exported'], 'payouts'),
  {
    name: 'bank_deposits_booked',
    why: 'a bank transfer matched from the statement (or assigned by the admin) whose deposit is missing or differs',
    query: () => sql`
      SELECT e.id, e.entry_key, e.amount, t.amount AS deposited
      FROM bank_entries e
      LEFT JOIN transfers t ON t.idempotency_key = 'deposit:bank:' || e.entry_key
      WHERE e.state IN ('deposited', 'assigned') AND (t.id IS NULL OR t.amount <> e.amount)`,
  },
  // Card top-ups (src/cards). card_fees is an expense: minus the fees the instance bore, never more.
  {
    name: 'card_fees_match_topups',
    why: 'a card fee booked twice, or not at all, or for a top-up whose member bears the fee',
    query: () => sql`
      SELECT COALESCE(b.balance, 0) AS balance, t.borne
      FROM (SELECT COALESCE(sum(fee), 0) AS borne FROM card_topups WHERE state = 'credited' AND fee_bearer = 'instance') t
      LEFT JOIN accounts a ON a.code = 'card_fees'
      LEFT JOIN account_balances b ON b.account_id = a.id
      WHERE COALESCE(b.balance, 0) <> -t.borne`,
  },
  {
    name: 'card_deposits_match_topups',
    why: 'a credited card top-up without its deposit, or with a deposit of another amount or into another wallet',
    query: () => sql`
      SELECT c.id, c.credited, t.amount AS deposited
      FROM card_topups c
      JOIN accounts w ON w.member_id = c.member_id
      LEFT JOIN transfers t ON t.idempotency_key = 'deposit:stripe:' || c.session_id
      WHERE c.state = 'credited' AND (t.id IS NULL OR t.amount <> c.credited OR t.credit_account_id <> w.id)`,
  },
  {
    name: 'card_reversals_match_transfers',
    why: 'a refund or lost dispute that took another amount from the wallet than it records (or from another wallet)',
    query: () => sql`
      SELECT r.id, r.booked, COALESCE(t.amount, 0) AS transferred
      FROM card_reversals r
      JOIN card_topups c ON c.id = r.topup_id
      JOIN accounts w ON w.member_id = c.member_id
      LEFT JOIN transfers t ON t.idempotency_key = 'card:' || r.stripe_ref
      WHERE COALESCE(t.amount, 0) <> r.booked OR (t.id IS NOT NULL AND t.debit_account_id <> w.id)`,
  },
  // Credits from peers wait in pending:<peer>:<member> accounts until cleared (src/settlement/pending.ts).
  {
    name: 'pending_credits_match_accounts',
    why: 'a pending account holding more or less than its credits still waiting (a credit cleared twice, or booked without its row)',
    query: () => sql`
      SELECT a.code, COALESCE(b.balance, 0) AS balance, COALESCE(pc.total, 0) AS pending
      FROM accounts a
      LEFT JOIN account_balances b ON b.account_id = a.id
      LEFT JOIN (SELECT account_id, sum(amount) AS total FROM pending_credits WHERE state = 'pending' GROUP BY account_id) pc ON pc.account_id = a.id
      WHERE a.type = 'pending' AND COALESCE(b.balance, 0) <> COALESCE(pc.total, 0)`,
  },
  {
    name: 'pending_credits_booked',
    why: 'a pending credit without the statement credit that booked it into its own account, or from a statement that was never accepted',
    query: () => sql`
      SELECT pc.id, pc.amount, t.amount AS booked, s.state AS statement_state FROM pending_credits pc
      LEFT JOIN transfers t ON t.idempotency_key = 'statement:' || pc.statement_id || ':line:' || pc.line
      LEFT JOIN statements s ON s.id = pc.statement_id
      WHERE t.id IS NULL OR t.amount <> pc.amount OR t.credit_account_id <> pc.account_id OR t.kind <> 'statement_credit'
         OR s.state IS NULL OR s.state NOT IN ('accepted', 'superseded')`,
  },
  {
    name: 'cleared_credits_reached_wallets',
    why: "a credit marked spendable whose money did not move from its pending account to its creator's wallet",
    query: () => sql`
      SELECT pc.id, pc.amount, t.amount AS cleared FROM pending_credits pc
      LEFT JOIN transfers t ON t.idempotency_key = 'pending:' || pc.id || ':clear'
      LEFT JOIN accounts w ON w.id = t.credit_account_id
      WHERE pc.state = 'cleared' AND (t.id IS NULL OR t.amount <> pc.amount OR t.debit_account_id <> pc.account_id OR w.member_id IS DISTINCT FROM pc.member_id)`,
  },
  {
    name: 'settled_credits_cleared',
    why: 'a credit still pending although the settlement of its period with that peer is settled (money arrived, credit not spendable), and its wallet has room for it',
    query: () => sql`
      SELECT pc.id, pc.peer_origin, pc.period FROM pending_credits pc
      JOIN settlements s ON s.peer_origin = pc.peer_origin AND s.period = pc.period
      JOIN accounts w ON w.member_id = pc.member_id
      LEFT JOIN account_balances wb ON wb.account_id = w.id
      WHERE pc.state = 'pending' AND s.state = 'settled' AND COALESCE(wb.balance, 0) + pc.amount <= ${MAX_BALANCE_MICROS}::bigint`,
  },
];

export interface CheckResult {
  name: string;
  ok: boolean;
  why: string;
  problems?: Record<string, unknown>[];
}

export interface LedgerCheck {
  balanced: boolean;
  checks: CheckResult[];
  transfers: number;
}

/** Runs every check; with `period`, the checks about closes look at that close only. */
export async function checkLedger(db: Executor, options: { period?: string } = {}): Promise<LedgerCheck> {
  const checks: CheckResult[] = [];
  for (const check of CHECKS) {
    const { rows } = await check.query(options.period ?? null).execute(db);
    const result: CheckResult = { name: check.name, ok: rows.length === 0, why: check.why };
    if (rows.length) result.problems = rows.slice(0, 20).map((row) => jsonSafe(row));
    checks.push(result);
  }
  const count = await sql<{ n: bigint }>`SELECT count(*) AS n FROM transfers`.execute(db);
  return { balanced: checks.every((c) => c.ok), checks, transfers: Number(count.rows[0]?.n ?? 0n) };
}

function jsonSafe(row: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(row).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]));
}

export class LedgerOutOfBalance extends Error {
  readonly result: LedgerCheck;
  constructor(result: LedgerCheck) {
    super(
      `ledger self-check failed: ${result.checks
        .filter((c) => !c.ok)
        .map((c) => c.name)
        .join(', ')}`,
    );
    this.name = 'LedgerOutOfBalance';
    this.result = result;
  }
}

export async function assertLedgerBalanced(db: Executor, options: { period?: string } = {}): Promise<LedgerCheck> {
  const result = await checkLedger(db, options);
  if (!result.balanced) throw new LedgerOutOfBalance(result);
  return result;
}
