/**
 * Flattrs (product rule 5): one click by a member on a thing in the current period; at most one
 * per member, thing and period; never on one's own thing; only with a wallet that covers the
 * budget; withdrawable until the period is closed.
 */
import { randomUUID } from 'node:crypto';
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { formatAmount } from '../core/money.ts';
import { type Period, periodOf } from '../core/period.ts';
import { UUID_PATTERN } from '../db/errors.ts';
import { budgetFor } from '../budgets/service.ts';
import { closeHasBegun, sharePeriodLock } from '../close/locks.ts';
import { balanceOf, walletAccountId } from '../ledger/accounts.ts';
import { findThingById, findThingByUrl, type ThingRow, type ThingView, thingView } from '../things/service.ts';
import { normalizeUrl } from '../things/urls.ts';

export interface FlattrView {
  id: string;
  thing: ThingView;
  period: Period;
  created_at: string;
}

export function flattrIri(ctx: Context, id: string): string {
  return `${ctx.config.origin}/flattrs/${id}`;
}

async function resolveThing(ctx: Context, input: { url?: unknown; thing_id?: unknown }): Promise<ThingRow> {
  if (input.thing_id !== undefined) {
    if (typeof input.thing_id !== 'string' || !UUID_PATTERN.test(input.thing_id)) {
      throw new AppError('invalid_request', 'thing_id must be a thing id', { field: 'thing_id' });
    }
    const row = await findThingById(ctx, input.thing_id);
    if (!row) throw new AppError('not_found', 'no such thing');
    return row;
  }
  if (input.url === undefined) throw new AppError('invalid_request', 'send either url or thing_id', { field: 'url' });
  const url = normalizeUrl(input.url);
  const row = await findThingByUrl(ctx, url);
  if (!row) throw new AppError('not_found', 'nobody has claimed this URL yet, so it cannot be flattred', { field: 'url' });
  return row;
}

export async function createFlattr(ctx: Context, caller: Caller, input: { url?: unknown; thing_id?: unknown }): Promise<FlattrView> {
  const thing = await resolveThing(ctx, input);
  if (thing.owner_member_id === caller.id) throw new AppError('flattr_owner', 'you cannot flattr your own thing');
  const now = ctx.clock.now();
  const period = periodOf(now);
  const id = randomUUID();
  await ctx.db.transaction().execute(async (trx) => {
    await sharePeriodLock(trx, period);
    // One member's clicks, budget changes and payouts are decided one at a time.
    await trx.selectFrom('members').select('id').where('id', '=', caller.id).forUpdate().execute();
    if (await closeHasBegun(trx, period)) throw new AppError('period_closed', `the period ${period} is being closed`);
    const existing = await trx
      .selectFrom('flattrs')
      .select('id')
      .where('member_id', '=', caller.id)
      .where('thing_id', '=', thing.id)
      .where('period', '=', period)
      .where('withdrawn_at', 'is', null)
      .executeTakeFirst();
    if (existing) {
      throw new AppError('flattr_once', `you have flattred this thing in ${period} already`, { existing_id: existing.id });
    }
    const budget = (await budgetFor(trx, caller.id, period)) ?? ctx.config.minBudget;
    const balance = await balanceOf(trx, await walletAccountId(trx, caller.id));
    if (balance < budget) {
      throw new AppError('no_means', `your wallet (${formatAmount(balance)}) does not cover your monthly budget (${formatAmount(budget)})`, {
        balance: formatAmount(balance),
        budget: formatAmount(budget),
      });
    }
    await trx.insertInto('flattrs').values({ id, member_id: caller.id, thing_id: thing.id, period, created_at: now, withdrawn_at: null }).execute();
  });
  return { id, thing: thingView(ctx, thing), period, created_at: now.toISOString() };
}

export async function withdrawFlattr(ctx: Context, caller: Caller, id: string): Promise<void> {
  if (!UUID_PATTERN.test(id)) throw new AppError('not_found', 'no such flattr');
  await ctx.db.transaction().execute(async (trx) => {
    const flattr = await trx
      .selectFrom('flattrs')
      .select(['id', 'period', 'withdrawn_at'])
      .where('id', '=', id.toLowerCase())
      .where('member_id', '=', caller.id)
      .executeTakeFirst();
    if (!flattr || flattr.withdrawn_at) throw new AppError('not_found', 'no such flattr');
    await sharePeriodLock(trx, flattr.period);
    if (await closeHasBegun(trx, flattr.period)) {
      throw new AppError('period_closed', `the period ${flattr.period} is closed: its flattrs are paid and final`);
    }
    const updated = await trx
      .updateTable('flattrs')
      .set({ withdrawn_at: ctx.clock.now() })
      .where('id', '=', flattr.id)
      .where('withdrawn_at', 'is', null)
      .executeTakeFirst();
    if (updated.numUpdatedRows === 0n) throw new AppError('not_found', 'no such flattr');
  });
}
