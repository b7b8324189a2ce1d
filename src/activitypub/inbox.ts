/**
 * Flattrs in (the rules are src/flattrs/incoming.ts'): a Like of one of our things from a Farthing
 * instance is an incoming flattr, pending until the sender's statement pays it; its Undo
 * withdraws it. Fedify has verified the HTTP
 * signature, and the bridge (key-guard.ts) that the key belongs to the actor, before these run;
 * `authenticated` checks again, on the activity as Fedify parsed it and every key that may have
 * authenticated it (inbox-auth.ts), and drops what fails.
 *
 * A Farthing flattr is told apart from a Mastodon favourite by its `context`: the period's IRI on
 * the sender's instance (`{origin}/periods/YYYY-MM`). Its id must be on the actor's server too,
 * so nobody can use up another instance's activity ids. Each activity id counts once forever:
 * incoming_flattrs.activity_id is UNIQUE (Fedify's own de-duplication lasts a day).
 */
import type { InboxContext } from '@fedify/fedify';
import type { Activity, Like, Undo } from '@fedify/vocab';
import type { Context } from '../context.ts';
import { parsePath } from '../core/iris.ts';
import { receiveFlattr, withdrawIncomingFlattr } from '../flattrs/incoming.ts';
import { inboxActor } from './inbox-auth.ts';

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
  await receiveFlattr(ctx, { activityId: id, actor, object, period, addressees: like.toIds });
}

export async function onUndo(ctx: Context, _fctx: InboxContext<void>, undo: Undo): Promise<void> {
  const actor = undo.actorId;
  const target = undo.objectId;
  if (!actor || !target) return;
  await withdrawIncomingFlattr(ctx, { actor, target });
}

function farthingPeriod(like: Like, actor: URL): string | null {
  for (const context of like.contextIds) {
    if (context.origin !== actor.origin) continue;
    const named = parsePath(context.pathname);
    if (named?.kind === 'period') return named.period;
  }
  return null;
}
