/**
 * Where a member's payouts go: their IBAN (checked with ibantools) and the account holder's
 * name. The SEPA file takes them from here when the admin exports the requested payouts.
 */
import { z } from 'zod';
import type { Caller, Context } from '../context.ts';
import { rule } from '../core/input.ts';
import type { Executor } from '../ledger/accounts.ts';
import { parseHolder, parseIban } from './iban.ts';

export interface PayoutAccountView {
  iban: string;
  holder: string;
  updated_at: string;
}

/** PUT /api/v1/me/payout-account and the payout account page's form: the IBAN in electronic format, the holder's name tidied. */
export const PayoutAccountInput = z.object({ iban: rule(z.string(), (input) => parseIban(input)), holder: rule(z.string(), (input) => parseHolder(input)) });
export type PayoutAccountInput = z.output<typeof PayoutAccountInput>;

export async function setPayoutAccount(ctx: Context, caller: Caller, input: PayoutAccountInput): Promise<PayoutAccountView> {
  const { iban, holder } = input;
  const now = ctx.clock.now();
  await ctx.db
    .insertInto('payout_accounts')
    .values({ member_id: caller.id, iban, holder, updated_at: now })
    .onConflict((oc) => oc.column('member_id').doUpdateSet({ iban, holder, updated_at: now }))
    .execute();
  return { iban, holder, updated_at: now.toISOString() };
}

export async function payoutAccountOf(db: Executor, memberId: bigint): Promise<PayoutAccountView | undefined> {
  const row = await db.selectFrom('payout_accounts').selectAll().where('member_id', '=', memberId).executeTakeFirst();
  return row ? { iban: row.iban, holder: row.holder, updated_at: row.updated_at.toISOString() } : undefined;
}
