/**
 * Followers (issue 13): a fediverse account that follows a member is answered with an Accept
 * (signed by the member, delivered through Fedify's queue, so Mastodon and Hollo stop showing
 * "requested"), kept in `followers` and counted on the actor's followers collection and the
 * profile page; its Undo(Follow) removes it. The follower's actor document is read (signed as
 * the followed member, for servers in authorized-fetch mode) for its inbox and must be the very
 * actor that signed the Follow. The instance actor takes no followers.
 *
 * Activities nobody here handles are logged at debug level: a fediverse server sends all sorts
 * (Create, Announce, Update, Delete, Move, …) and none of it is an error of ours.
 */

import { randomUUID } from 'node:crypto';
import type { Context as FedifyContext, InboxContext, InboxListenerSetters, RequestContext } from '@fedify/fedify';
import { Accept, Activity, type Actor, Follow, isActor, type Undo } from '@fedify/vocab';
import type { Context } from '../context.ts';
import { followerCount } from '../members/followers.ts';
import { USERNAME_PATTERN } from '../members/rules.ts';
import { authenticated } from './inbox.ts';

/** The member (exact username) whose actor a URL is, if any. The instance actor is nobody's. */
async function followedMember(ctx: Context, fctx: FedifyContext<void>, iri: URL | null): Promise<{ id: bigint; username: string } | undefined> {
  const parsed = fctx.parseUri(iri);
  if (parsed?.type !== 'actor' || !USERNAME_PATTERN.test(parsed.identifier)) return undefined;
  return ctx.db.selectFrom('members').select(['id', 'username']).where('username', '=', parsed.identifier).executeTakeFirst();
}

export async function onFollow(ctx: Context, fctx: InboxContext<void>, follow: Follow): Promise<void> {
  const actorId = follow.actorId;
  if (!follow.id || !actorId || !follow.objectId) return;
  const member = await followedMember(ctx, fctx, follow.objectId);
  if (!member) {
    ctx.log.debug({ activity: follow.id.href, object: follow.objectId.href }, 'Follow of nobody who takes followers: ignored');
    return;
  }
  const documentLoader = await fctx.getDocumentLoader({ identifier: member.username });
  let follower: Actor | null = null;
  try {
    const actor = await follow.getActor({ documentLoader, contextLoader: fctx.contextLoader });
    if (actor && isActor(actor)) follower = actor;
  } catch (error) {
    ctx.log.info({ err: error, actor: actorId.href }, 'Follow: the follower could not be read');
  }
  // The document must be the signer's own, with an inbox to deliver to.
  if (!follower?.id || follower.id.href !== actorId.href || !follower.inboxId) {
    ctx.log.info({ activity: follow.id.href, actor: actorId.href }, 'Follow from an actor without a readable inbox: ignored');
    return;
  }
  const row = {
    inbox: follower.inboxId.href,
    shared_inbox: follower.endpoints?.sharedInbox?.href ?? null,
    follow_id: follow.id.href,
  };
  await ctx.db
    .insertInto('followers')
    .values({ member_id: member.id, actor_iri: actorId.href, created_at: ctx.clock.now(), ...row })
    .onConflict((oc) => oc.columns(['member_id', 'actor_iri']).doUpdateSet(row))
    .execute();
  const me = fctx.getActorUri(member.username);
  // Accepted at once (the actor says manuallyApprovesFollowers: false); a repeated Follow is
  // accepted again, as Mastodon does, so a follower stuck on "requested" can recover.
  await fctx.sendActivity(
    { identifier: member.username },
    follower,
    new Accept({ id: new URL(`${me.href}#accepts/${randomUUID()}`), actor: me, object: follow, to: actorId }),
  );
  ctx.log.info({ member: member.username, follower: actorId.href }, 'follower accepted');
}

/**
 * An Undo of a Follow removes that follower: by the Follow's id when we kept it, else by the
 * embedded Follow (never fetched: an Undo's object is only trusted as its actor sent it).
 * Answers false when the Undo is not about a follow, for the flattr listener to look at.
 */
export async function onUndoFollow(ctx: Context, fctx: InboxContext<void>, undo: Undo): Promise<boolean> {
  const actor = undo.actorId;
  const target = undo.objectId;
  if (!actor || !target) return false;
  const byId = await ctx.db.deleteFrom('followers').where('actor_iri', '=', actor.href).where('follow_id', '=', target.href).executeTakeFirst();
  if ((byId.numDeletedRows ?? 0n) > 0n) {
    ctx.log.info({ follower: actor.href }, 'follower removed');
    return true;
  }
  let object: unknown = null;
  try {
    object = await undo.getObject({ documentLoader: refuseToFetch, contextLoader: fctx.contextLoader });
  } catch {
    return false; // not embedded: not something we keep
  }
  if (!(object instanceof Follow) || object.actorId?.href !== actor.href) return false;
  const member = await followedMember(ctx, fctx, object.objectId);
  if (member) await ctx.db.deleteFrom('followers').where('member_id', '=', member.id).where('actor_iri', '=', actor.href).execute();
  ctx.log.info({ follower: actor.href, member: member?.username ?? null }, 'follower removed');
  return true;
}

async function refuseToFetch(url: string): Promise<never> {
  throw new Error(`not fetched: ${url}`);
}

/** Follow, and the catch-all for what nobody handles, on the inbox listeners. */
export function followListeners(ctx: Context, listeners: InboxListenerSetters<void>): InboxListenerSetters<void> {
  return listeners.on(Follow, authenticated(ctx, onFollow)).on(Activity, async (_fctx, activity) => {
    ctx.log.debug({ activity: activity.id?.href ?? null, type: activity.constructor.name, actor: activity.actorId?.href ?? null }, 'activity not handled here');
  });
}

/** The followers collection: counted for everyone; the list itself only for delivering. */
export async function followersOf(ctx: Context, fctx: RequestContext<void> | FedifyContext<void>, memberId: bigint) {
  // A request from outside sees totalItems only: who follows a member of a payment platform is theirs to know.
  if ('request' in fctx) return { items: [] };
  const rows = await ctx.db.selectFrom('followers').select(['actor_iri', 'inbox', 'shared_inbox']).where('member_id', '=', memberId).orderBy('id').execute();
  return {
    items: rows.map((r) => ({
      id: new URL(r.actor_iri),
      inboxId: new URL(r.inbox),
      endpoints: r.shared_inbox ? { sharedInbox: new URL(r.shared_inbox) } : null,
    })),
  };
}

export { followerCount };
