/**
 * Flattrs in (product.md, Federation): a Like of one of our things from a Farthing instance is an
 * incoming flattr, pending until the sender's statement pays it; its Undo withdraws it. The
 * ActivityPub adapter (src/activitypub/inbox.ts) hands over only what its checks let through: an
 * activity its actor's own key authenticated, on the actor's server, in a period named by the
 * sender's `context`. Each activity id counts once forever: incoming_flattrs.activity_id is UNIQUE.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from '../context.ts';
import { localMember } from '../links/claims.ts';
import { reconcileDisputed } from '../settlement/receive.ts';
import { thingForUrl } from '../things/remote.ts';
import { ownThingId } from '../things/service.ts';

export interface IncomingLike {
  /** The Like's id, on the actor's server. */
  activityId: URL;
  actor: URL;
  /** What it likes: a thing here, or a post of an account linked to a member here. */
  object: URL;
  /** The period (YYYY-MM) its `context` names on the sender's instance. */
  period: string;
  /** Its `to`. */
  addressees: URL[];
}

/** Records an incoming flattr (once per activity id) for a thing of a member here. */
export async function receiveFlattr(ctx: Context, like: IncomingLike): Promise<void> {
  const { activityId: id, actor, object, period } = like;
  // Or a post of a fediverse account linked to one of our members: their thing here (links/claims.ts).
  const thingId = ownThingId(ctx, object.href) ?? (await linkedThingId(ctx, object.href, like.addressees));
  if (!thingId) return;
  const inserted = await ctx.db
    .insertInto('incoming_flattrs')
    .columns(['id', 'activity_id', 'thing_id', 'actor_iri', 'instance_origin', 'period', 'received_at'])
    .expression((eb) =>
      eb
        .selectFrom('things')
        .select([
          eb.val(randomUUID()).as('id'),
          eb.val(id.href).as('activity_id'),
          'things.id',
          eb.val(actor.href).as('actor_iri'),
          eb.val(actor.origin).as('instance_origin'),
          eb.val(period).as('period'),
          eb.val(ctx.clock.now()).as('received_at'),
        ])
        .where('things.id', '=', thingId)
        .where('things.owner_member_id', 'is not', null),
    )
    .onConflict((oc) => oc.column('activity_id').doNothing())
    .executeTakeFirst();
  const counted = (inserted.numInsertedOrUpdatedRows ?? 0n) === 1n;
  ctx.log.info({ activity: id.href, thing: thingId, counted }, 'incoming flattr');
  // A Like re-sent to repair a disputed statement may settle the dispute.
  if (counted) await reconcileDisputed(ctx, actor.origin, period);
}

/** Withdraws the incoming flattr `target` names, when `actor` sent it and no statement has paid it yet. */
export async function withdrawIncomingFlattr(ctx: Context, undo: { actor: URL; target: URL }): Promise<void> {
  const { actor, target } = undo;
  if (target.origin !== actor.origin) return;
  // Only the actor who liked can undo, and only until the sender's statement has paid it.
  const result = await ctx.db
    .updateTable('incoming_flattrs')
    .set({ withdrawn_at: ctx.clock.now() })
    .where('activity_id', '=', target.href)
    .where('actor_iri', '=', actor.href)
    .where('withdrawn_at', 'is', null)
    .where('state', '=', 'pending')
    .executeTakeFirst();
  ctx.log.info({ activity: target.href, withdrawn: result.numUpdatedRows === 1n }, 'incoming flattr withdrawn');
}

/**
 * The thing here for a post that a Like from another Farthing instance names (addressed to a
 * member here who links accounts): made at the first such Like when the post's author is linked
 * both ways to a member here, else undefined.
 */
export async function linkedThingId(ctx: Context, iri: string, addressees: URL[]): Promise<string | undefined> {
  // Only for a Like addressed to a member here who links an account: no fetches for anyone else's.
  let linked = false;
  for (const to of addressees.slice(0, 5)) {
    const member = await localMember(ctx, to);
    if (member && (await ctx.db.selectFrom('member_links').select('id').where('member_id', '=', member.id).executeTakeFirst())) linked = true;
  }
  if (!linked) return undefined;
  try {
    const thing = await thingForUrl(ctx, iri, { onlyLocalOwner: true });
    return thing.owner_member_id !== null ? thing.id : undefined;
  } catch {
    return undefined;
  }
}
