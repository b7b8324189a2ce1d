/**
 * Changing a thing after it was registered: only its title, and only by its owner. The URL stays
 * as it is (it is what buttons, badges and other instances know the thing by); an empty title
 * clears it, so the thing is shown by its URL again.
 */
import { z } from 'zod';
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { rule } from '../core/input.ts';
import { UUID_PATTERN } from '../db/errors.ts';
import { findThingById, type ThingView, thingView } from './service.ts';
import { normalizeTitle } from './urls.ts';

/** The thing page's title form: the title normalized (null when empty, which clears it). */
export const ThingTitleInput = z.object({
  title: rule(z.unknown(), (input) => {
    // An absent field is a form that lost it, not "clear the title": that is an empty string.
    if (input === undefined) throw new AppError('invalid_request', 'title is required (empty clears it)', { field: 'title' });
    return normalizeTitle(input);
  }),
});

/** `title` as ThingTitleInput parsed it. */
export async function updateThingTitle(ctx: Context, caller: Caller, id: string, title: string | null): Promise<ThingView> {
  if (!UUID_PATTERN.test(id)) throw new AppError('not_found', 'no such thing');
  const updated = await ctx.db
    .updateTable('things')
    .set({ title })
    .where('id', '=', id.toLowerCase())
    .where('owner_member_id', '=', caller.id)
    .returning('id')
    .executeTakeFirst();
  const row = await findThingById(ctx, id);
  if (!row) throw new AppError('not_found', 'no such thing');
  if (!updated) throw new AppError('forbidden', 'only the owner of a thing can change its title', { field: 'title' });
  return thingView(ctx, row);
}
