/** A member's followers in the fediverse (the ActivityPub adapter records them: src/activitypub/follows.ts). */
import type { Context } from '../context.ts';

/** How many accounts follow the member. */
export async function followerCount(ctx: Context, memberId: bigint): Promise<number> {
  const row = await ctx.db
    .selectFrom('followers')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('member_id', '=', memberId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
