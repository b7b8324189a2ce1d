/**
 * Monthly budgets (product rule 4): between the instance's bounds; a change made before the
 * member's first flattr of the month applies to this month, after it to the next.
 */
import { z } from 'zod';
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { AmountMicros } from '../core/input.ts';
import { formatAmount } from '../core/money.ts';
import { addMonths, type Period, periodOf } from '../core/period.ts';
import type { Executor } from '../ledger/accounts.ts';

/** The budget in force for a period: the latest row at or before it. */
export async function budgetFor(db: Executor, memberId: bigint, period: string): Promise<bigint | null> {
  const row = await db
    .selectFrom('budgets')
    .select('amount')
    .where('member_id', '=', memberId)
    .where('period', '<=', period)
    .orderBy('period', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row?.amount ?? null;
}

export async function hasFlattredIn(db: Executor, memberId: bigint, period: string): Promise<boolean> {
  const row = await db
    .selectFrom('flattrs')
    .select('id')
    .where('member_id', '=', memberId)
    .where('period', '=', period)
    .where('withdrawn_at', 'is', null)
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/** PUT /api/v1/me/budget and the dashboard's budget form. */
export const BudgetInput = z.object({ amount: AmountMicros });

export async function setBudget(ctx: Context, caller: Caller, amount: bigint): Promise<{ amount: string; applies_from: Period }> {
  const { minBudget, maxBudget } = ctx.config;
  if (amount < minBudget || amount > maxBudget) {
    throw new AppError('budget_out_of_range', `the monthly budget must be between ${formatAmount(minBudget)} and ${formatAmount(maxBudget)}`, {
      field: 'amount',
      min: formatAmount(minBudget),
      max: formatAmount(maxBudget),
    });
  }
  const now = ctx.clock.now();
  const current = periodOf(now);
  return ctx.db.transaction().execute(async (trx) => {
    // Two budget changes of one member are decided one after the other.
    await trx.selectFrom('members').select('id').where('id', '=', caller.id).forUpdate().execute();
    const appliesFrom = (await hasFlattredIn(trx, caller.id, current)) ? addMonths(current, 1) : current;
    // A newer decision replaces any change scheduled for later months.
    await trx.deleteFrom('budgets').where('member_id', '=', caller.id).where('period', '>', appliesFrom).execute();
    await trx
      .insertInto('budgets')
      .values({ member_id: caller.id, period: appliesFrom, amount, set_at: now })
      .onConflict((oc) => oc.columns(['member_id', 'period']).doUpdateSet({ amount, set_at: now }))
      .execute();
    return { amount: formatAmount(amount), applies_from: appliesFrom };
  });
}
