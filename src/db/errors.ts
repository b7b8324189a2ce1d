/** Recognises PostgreSQL errors by SQLSTATE, the same on pg and PGlite. */
export function isUniqueViolation(error: unknown, constraint?: string): boolean {
  const e = error as { code?: string; constraint?: string } | null;
  return e?.code === '23505' && (constraint === undefined || e.constraint === constraint);
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A transfer that would take a balance past the ledger's maximum: the database's constraint on
 * account_balances (migrations/0011_trust_money.ts), or an int8 overflow should one slip past it.
 */
export function isBalanceOverflow(error: unknown): boolean {
  const e = error as { code?: string; constraint?: string } | null;
  return (e?.code === '23514' && e.constraint === 'account_balance_within_maximum') || e?.code === '22003';
}
