/**
 * The one setting only pages change: whether a member is listed on the popular pages. The JSON
 * API has no field for it, so there is no service to share; it is a single-row update here.
 * `members.listed` also tells the fediverse whether the member's actor is discoverable
 * (src/activitypub/federation.ts), so one choice covers both.
 */
import { z } from 'zod';
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { rule } from '../core/input.ts';

/** A checkbox's value: present ("on", as browsers send it) or absent; anything else is refused. */
export function checkbox(field: string) {
  return rule(z.unknown().optional(), (value): boolean => {
    if (value === undefined) return false;
    if (value === 'on' || value === 'true' || value === '1') return true;
    throw new AppError('invalid_request', `${field} is a checkbox: "on" or absent`, { field });
  });
}

/** The profile page's preferences form: both boxes are read before anything is saved. */
export const PreferencesForm = z.object({ listed: checkbox('listed'), publish_flattrs: checkbox('publish_flattrs') });

export async function setListed(ctx: Context, caller: Caller, listed: boolean): Promise<void> {
  await ctx.db.updateTable('members').set({ listed }).where('id', '=', caller.id).execute();
}
