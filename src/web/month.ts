/**
 * "If the month ended now": the member's month so far, priced by the close's own pure rule
 * (planClose in src/close/plan.ts: chargeOf, splitEvenly, feeOf), so the dashboard can never
 * promise a split the close would not make.
 */

import { budgetFor } from '../budgets/service.ts';
import { planClose } from '../close/plan.ts';
import type { Caller, Context } from '../context.ts';
import { formatAmount } from '../core/money.ts';
import { addMonths, type Period, periodOf } from '../core/period.ts';
import { balanceOf, walletAccountId } from '../ledger/accounts.ts';
import { charityMemberId } from '../members/service.ts';
import { myFlattrs } from '../reports/service.ts';
import { type PendingCreditView, pendingCreditsOf } from '../settlement/pending.ts';

type FlattrItem = Awaited<ReturnType<typeof myFlattrs>>['items'][number];

export interface MonthSoFar {
  period: Period;
  budget: bigint;
  /** The budget from next month, when a change made after this month's first flattr waits for it. */
  nextBudget: bigint | null;
  balance: bigint;
  /** Credits from other instances waiting for their settlement (not spendable yet). */
  pending: PendingCreditView[];
  /** What the close would take from the wallet: min(budget, balance). */
  charged: bigint;
  /** No flattr yet: the budget would go to the charity (or stay, if the instance keeps it). */
  idle: boolean;
  items: { flattr: FlattrItem; gross: bigint; fee: bigint; net: bigint }[];
}

export async function monthSoFar(ctx: Context, caller: Caller): Promise<MonthSoFar> {
  const period = periodOf(ctx.clock.now());
  const [report, budget, next, balance, charity, pending] = await Promise.all([
    myFlattrs(ctx, caller, period),
    budgetFor(ctx.db, caller.id, period),
    budgetFor(ctx.db, caller.id, addMonths(period, 1)),
    walletAccountId(ctx.db, caller.id).then((wallet) => balanceOf(ctx.db, wallet)),
    charityUsername(ctx),
    pendingCreditsOf(ctx.db, caller.id),
  ]);
  const inForce = budget ?? ctx.config.minBudget;
  // Owners are named by username (remote ones by actor IRI); the plan only compares them with the charity's name.
  const plan = planClose({
    members: [
      {
        id: caller.username,
        budget: inForce,
        balance,
        flattrs: report.items.map((f) => ({ flattrId: f.id, owner: f.thing.owner.username ?? f.thing.owner.actor })),
      },
    ],
    feePpm: ctx.config.feePpm,
    idleBudget: ctx.config.idleBudget,
    charity,
  });
  const charge = plan.charges[0];
  const shares = new Map(plan.shares.map((s) => [s.flattrId, s]));
  return {
    period,
    budget: inForce,
    nextBudget: next !== null && next !== inForce ? next : null,
    balance,
    pending,
    charged: charge?.charged ?? 0n,
    idle: report.items.length === 0,
    items: report.items.map((flattr) => {
      const share = shares.get(flattr.id);
      return { flattr, gross: share?.gross ?? 0n, fee: share?.fee ?? 0n, net: share?.net ?? 0n };
    }),
  };
}

async function charityUsername(ctx: Context): Promise<string | null> {
  const id = await charityMemberId(ctx);
  if (id === null) return null;
  const row = await ctx.db.selectFrom('members').select('username').where('id', '=', id).executeTakeFirst();
  return row?.username ?? null;
}

/** The front page's picture: the seeds' example (5.00, ten flattrs) priced by the close's rule at this instance's fee. */
export function seedsExample(ctx: Context) {
  const budget = 5_000_000n;
  const flattrs = Array.from({ length: 10 }, (_, i) => ({ flattrId: `f${i}`, owner: `creator${i}` }));
  const plan = planClose({ members: [{ id: 'reader', budget, balance: budget, flattrs }], feePpm: ctx.config.feePpm, idleBudget: 'charity', charity: null });
  return {
    budget: formatAmount(budget),
    count: flattrs.length,
    net: formatAmount(plan.shares[0]?.net ?? 0n),
    instance: formatAmount(plan.totals.fees),
    feePercent: (Number(ctx.config.feePpm) / 10_000).toString(),
    currency: ctx.config.currency,
  };
}
