/**
 * Where a member's payouts go: their IBAN (checked with ibantools) and the account holder's
 * name. The SEPA file takes them from here when the admin exports the requested payouts.
 */
import type { Caller, Context } from '../context.ts';
import type { Executor } from '../ledger/accounts.ts';
import { parseHolder, parseIban } from './iban.ts';

export interface PayoutAccountView {
  iban: string;
  holder: string;
  updated_at: string;
}

export async function setPayoutAccount(ctx: Context, caller: Caller, input: { iban: unknown; holder: unknown }): Promise<PayoutAccountView> {
  const iban = parseIban(input.iban);
  const holder = parseHolder(input.holder);
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
