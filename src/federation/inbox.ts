/**
 * Flattrs in: a Like of one of our things from a Farthing instance is an incoming flattr, pending
 * until the sender's statement pays it; its Undo withdraws it. Fedify has verified the HTTP
 * signature, and the bridge (key-guard.ts) that the key belongs to the actor, before these run;
 * `authenticated` checks again, on the activity as Fedify parsed it and every key that may have
 * authenticated it (inbox-auth.ts), and drops what fails.
 *
 * A Farthing flattr is told apart from a Mastodon favourite by its `context`: the period's IRI on
 * the sender's instance (`{origin}/periods/YYYY-MM`). Its id must be on the actor's server too,
 * so nobody can use up another instance's activity ids. Each activity id counts once forever:
 * incoming_flattrs.activity_id is UNIQUE (Fedify's own de-duplication lasts a day).
 */
import { randomUUID } from 'node:crypto';
import type { InboxContext } from '@fedify/fedify';
import type { Activity, Like, Undo } from '@fedify/vocab';
import type { Context } from '../context.ts';
import { reconcileDisputed } from '../settlement/receive.ts';
import { ownThingId } from '../things/service.ts';
import { linkedThingId } from './claims.ts';
import { inboxActor } from './inbox-auth.ts';
import { parsePath } from '../core/iris.ts';

/** A listener that runs only for an activity its actor's own key authenticated; others are logged and dropped. */
export function authenticated<A extends Activity>(ctx: Context, listener: (ctx: Context, fctx: InboxContext<void>, activity: A) => Promise<void>) {
  return async (fctx: InboxContext<void>, activity: A): Promise<void> => {
    const checked = await inboxActor(fctx, activity);
    if (!checked.ok) {
      ctx.log.warn({ activity: activity.id?.href, actor: activity.actorId?.href, reason: checked.reason }, 'inbox activity refused');
      return;
    }
    await listener(ctx, fctx, activity);
  };
}

export async function onLike(ctx: Context, _fctx: InboxContext<void>, like: Like): Promise<void> {
  const id = like.id;
  const actor = like.actorId;
  const object = like.objectId;
  if (!id || !actor || !object || id.origin !== actor.origin) return;
  const period = farthingPeriod(like, actor);
  if (!period) return; // a favourite from a plain fediverse server: nothing to pay
  // Or a post of a fediverse account linked to one of our members: their thing here (claims.ts).
  const thingId = ownThingId(ctx, object.href) ?? (await linkedThingId(ctx, object.href, like.toIds));
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

export async function onUndo(ctx: Context, _fctx: InboxContext<void>, undo: Undo): Promise<void> {
  const actor = undo.actorId;
  const target = undo.objectId;
  if (!actor || !target || target.origin !== actor.origin) return;
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

function farthingPeriod(like: Like, actor: URL): string | null {
  for (const context of like.contextIds) {
    if (context.origin !== actor.origin) continue;
    const named = parsePath(context.pathname);
    if (named?.kind === 'period') return named.period;
  }
  return null;
}
