/**
 * A URL's thing, found here or made at its first flattr from what discover.ts finds: owned by a
 * member here when the owner's actor is ours or an account a member here claims (the account is
 * kept as the thing's author, whose server still gets the Likes), else by the remote actor.
 * Found by what its content names, such a thing is verified.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { parseIriOf } from '../core/iris.ts';
import { findClaim, recordClaim } from '../links/claims.ts';
import { findMember } from '../members/service.ts';
import { discoverRemoteThing, rememberActor } from './discover.ts';
import { findThingByUrl, ownThingId, type ThingRow } from './service.ts';

/** onlyLocalOwner: make no thing for a remote owner (an incoming Like of a linked account's post). */
export async function thingForUrl(ctx: Context, url: string, options: { onlyLocalOwner?: boolean } = {}): Promise<ThingRow> {
  const known = await findThingByUrl(ctx, url);
  if (known) return known;
  if (ownThingId(ctx, url)) throw new AppError('not_found', 'no such thing', { field: 'url' });
  const found = await discoverRemoteThing(ctx, url);
  // A page may pay one of our own things, or the owner may be one of our members.
  const ownId = found.uri ? ownThingId(ctx, found.uri) : undefined;
  if (ownId) {
    const own = await findThingByUrl(ctx, found.uri as string);
    if (own) return own;
  }
  const ownerIri = new URL(found.owner.iri);
  // A fediverse account linked both ways to a Farthing member is that member's (claims.ts).
  const claim = ownerIri.origin === new URL(ctx.config.origin).origin ? null : await findClaim(ctx, found.owner);
  const localOwner =
    ownerIri.origin === new URL(ctx.config.origin).origin ? await localMemberOf(ctx, ownerIri) : claim?.kind === 'local' ? claim.memberId : undefined;
  if (!localOwner && options.onlyLocalOwner) throw new AppError('not_found', 'the owner named for this URL is not a member here');
  // A claimed account's post is the member's, and its Likes still go to the post's server.
  const remembered = ownerIri.origin === new URL(ctx.config.origin).origin ? null : await rememberActor(ctx, ctx.db, found.owner);
  if (remembered !== null) await recordClaim(ctx, remembered, claim);
  const actorId = localOwner ? null : remembered;
  // The thing's URL may already be taken by another thing: then it is known by its uri alone.
  const taken = await findThingByUrl(ctx, found.url);
  await ctx.db
    .insertInto('things')
    .values({
      id: randomUUID(),
      url: taken ? (found.uri ?? url) : found.url,
      title: found.title,
      owner_member_id: localOwner ?? null,
      owner_actor_id: actorId,
      author_actor_id: localOwner ? remembered : null,
      // Found by what its content names.
      verified: true,
      uri: found.uri,
      created_at: ctx.clock.now(),
    })
    // Two first clicks at once: one insert wins, both read the same thing.
    .onConflict((oc) => oc.doNothing())
    .execute();
  const made = (await findThingByUrl(ctx, found.uri ?? found.url)) ?? (await findThingByUrl(ctx, url));
  if (!made) throw new AppError('not_found', 'the thing could not be recorded; try again');
  return made;
}

async function localMemberOf(ctx: Context, actor: URL): Promise<bigint | undefined> {
  // Called for an actor of this origin; the path alone decides.
  const username = parseIriOf(actor.origin, actor.origin + actor.pathname, 'member')?.username;
  const member = username ? await findMember(ctx, username) : undefined;
  if (!member) throw new AppError('not_found', 'the owner named for this URL is not a member here');
  return member.id;
}
