/**
 * The one setting only pages change: whether a member is listed on the popular pages. The JSON
 * API has no field for it, so there is no service to share; it is a single-row update here.
 * `members.listed` also tells the fediverse whether the member's actor is discoverable
 * (src/activitypub/federation.ts), so one choice covers both.
 */
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';

/** A checkbox's value: present ("on", as browsers send it) or absent; anything else is refused. */
export function checkboxValue(value: unknown, field: string): boolean {
  if (value === undefined) return false;
  if (value === 'on' || value === 'true' || value === '1') return true;
  throw new AppError('invalid_request', `${field} is a checkbox: "on" or absent`, { field });
}

export async function setListed(ctx: Context, caller: Caller, listed: boolean): Promise<void> {
  await ctx.db.updateTable('members').set({ listed }).where('id', '=', caller.id).execute();
}
