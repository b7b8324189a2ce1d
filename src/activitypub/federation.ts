/**
 * The instance's ActivityPub face, built with Fedify: every member is a Person at
 * /users/{username}, the instance itself an Application at /actor, both found by WebFinger and
 * both with an RSA key (HTTP signatures) and an Ed25519 key (object proofs); NodeInfo 2.1; the
 * inboxes. src/activitypub/bridge.ts hands the HTTP requests to it.
 *
 * Fedify has one actor dispatcher and one URL template for actors. Members use it as
 * /users/{identifier} with their username as the identifier. The instance actor gets the fixed
 * path /actor from `mapActorAlias` (Fedify >= 2.3): its identifier is INSTANCE_ACTOR, and
 * getActorUri(INSTANCE_ACTOR) is /actor, so its id, WebFinger and signatures all name /actor.
 * Its inbox and collections still follow the member templates (/users/~instance/inbox, ...).
 */
import { createExponentialBackoffPolicy, createFederation, type Federation, type KvStore, type MessageQueue, type RequestContext } from '@fedify/fedify';
import { Object as APObject, Application, Endpoints, Image, Like, Note, Page, Person, PUBLIC_COLLECTION, Undo } from '@fedify/vocab';
import { sql } from 'kysely';
import packageJson from '../../package.json' with { type: 'json' };
import type { Context } from '../context.ts';
import { memberPath, thingIri } from '../core/iris.ts';
import { linkedAccounts } from '../links/links.ts';
import { bioHtml, profileOf } from '../members/profile.ts';
import { USERNAME_PATTERN } from '../members/rules.ts';
import { actorIri, findMember } from '../members/service.ts';
import { findThingById } from '../things/service.ts';
import { followerCount, followersOf, followListeners, onUndoFollow } from './follows.ts';
import { authenticated, onLike, onUndo } from './inbox.ts';
import { AuthenticatingQueue } from './inbox-auth.ts';
import { INSTANCE_ACTOR } from './instance-actor.ts';
import { actorKeyPairs } from './keys.ts';
import { routeFedifyLogs } from './logging.ts';
import { flattrObject, periodObject, postObject } from './objects.ts';
import { instant } from './temporal.ts';

declare module '../context.ts' {
  interface Context {
    /**
     * The instance's ActivityPub side, for the adapter's own files only (the domain reaches the
     * network through ctx.directory and ctx.transport, src/ports.ts); set by createInstance.
     */
    federation?: Federation<void>;
  }
}

export { INSTANCE_ACTOR };

/** Whose actor an identifier names: the instance's, a member's, or nobody's (null). */
type ActorOwner = { kind: 'instance' } | { kind: 'member'; id: bigint; username: string; listed: boolean };

export function createFarthingFederation(ctx: Context, stores: { kv: KvStore; queue: MessageQueue }): Federation<void> {
  routeFedifyLogs(ctx.log);
  const origin = new URL(ctx.config.origin);
  const federation = createFederation<void>({
    kv: stores.kv,
    // Inbox messages carry the key that verified their request to the listeners (inbox-auth.ts).
    queue: new AuthenticatingQueue(stores.queue),
    // instance.ts starts the queue worker and stops it on close.
    manuallyStartQueue: true,
    // URLs and handles come from FARTHING_ORIGIN, never from the Host header of a request.
    origin: ctx.config.origin,
    allowPrivateAddress: ctx.config.allowPrivateAddress,
    // A flattr's Like is what the peer's statement is reconciled against: keep trying for days
    // (1 s doubling to 6 h between attempts), not Fedify's default of ten attempts.
    outboxRetryPolicy: createExponentialBackoffPolicy({ maxAttempts: 20, maxDelay: { hours: 6 } }),
  });

  const owner = async (identifier: string): Promise<ActorOwner | null> => {
    if (identifier === INSTANCE_ACTOR) return { kind: 'instance' };
    if (!USERNAME_PATTERN.test(identifier)) return null;
    const member = await findMember(ctx, identifier);
    // Usernames are unique ignoring case, but an actor's URL is its username as registered.
    if (member?.username !== identifier) return null;
    return { kind: 'member', id: member.id, username: member.username, listed: member.listed };
  };

  federation
    .setActorDispatcher('/users/{identifier}', async (fctx, identifier) => {
      // The template also routes /users/~instance here; the instance actor's one URL is /actor.
      if (identifier === INSTANCE_ACTOR && fctx.url.pathname === memberPath(INSTANCE_ACTOR)) return null;
      const found = await owner(identifier);
      if (!found) return null;
      // A member's actor lists the fediverse accounts they link (links.ts) in alsoKnownAs.
      const aliases = found.kind === 'member' ? await linkedAccounts(ctx, found.id) : [];
      return actorDocument(fctx, identifier, found, origin, aliases, found.kind === 'member' ? await citizenFields(ctx, found.username) : {});
    })
    .mapActorAlias('/actor', INSTANCE_ACTOR)
    .setKeyPairsDispatcher(async (_fctx, identifier) => {
      const found = await owner(identifier);
      if (!found) return [];
      return actorKeyPairs(ctx, found.kind === 'member' ? found.id : null);
    })
    // WebFinger: acct:ann@host names member ann (in any case); acct:host@host the instance, as on Mastodon.
    .mapHandle(async (_fctx, handle) => {
      if (handle.toLowerCase() === origin.host) return INSTANCE_ACTOR; // URL hosts are lower case
      if (!USERNAME_PATTERN.test(handle)) return null;
      return (await findMember(ctx, handle))?.username ?? null;
    });

  // The outbox and following stay empty, but Mastodon expects the collections to exist; an
  // unknown actor's collection is a 404.
  const empty = async (_fctx: unknown, identifier: string) => ((await owner(identifier)) ? { items: [] } : null);
  federation.setOutboxDispatcher('/users/{identifier}/outbox', empty).setCounter(() => 0);
  // Followers (follows.ts): counted for everyone, listed only to deliver to them.
  federation
    .setFollowersDispatcher('/users/{identifier}/followers', async (fctx, identifier) => {
      const found = await owner(identifier);
      if (!found) return null;
      return found.kind === 'member' ? followersOf(ctx, fctx, found.id) : { items: [] };
    })
    .setCounter(async (_fctx, identifier) => {
      const found = await owner(identifier);
      return found?.kind === 'member' ? followerCount(ctx, found.id) : 0;
    });
  federation.setFollowingDispatcher('/users/{identifier}/following', empty).setCounter(() => 0);

  // Incoming activities, verified by the bridge's key guard and Fedify's signature check, and
  // worked by the queue. Other types are answered 202 and logged at debug level. Every listener
  // is `authenticated`: it runs only if the keys that may have authenticated the activity are
  // its actor's (inbox-auth.ts).
  const listeners = federation
    .setInboxListeners('/users/{identifier}/inbox', '/inbox')
    // No day-long cache of activity ids: incoming_flattrs.activity_id is UNIQUE for good, and a
    // Like sent again to repair a disputed statement must reach the listener.
    .withIdempotency(() => null)
    .on(Like, authenticated(ctx, onLike))
    // An Undo of a Follow removes a follower (follows.ts); any other is a flattr's.
    .on(
      Undo,
      authenticated(ctx, async (ctx, fctx, undo: Undo) => {
        if (!(await onUndoFollow(ctx, fctx, undo))) await onUndo(ctx, fctx, undo);
      }),
    );
  // Follow (answered with Accept, authenticated as above), and a debug line for every activity nobody handles.
  followListeners(ctx, listeners);

  // A local thing is an ActivityPub object at its uri (a browser gets its page there instead):
  // other instances find its owner by `attributedTo`.
  federation.setObjectDispatcher(Page, '/things/{id}', async (_fctx, { id }) => {
    const thing = await findThingById(ctx, id);
    if (!thing?.owner_username || id !== thing.id) return null;
    const created = await ctx.db.selectFrom('things').select('created_at').where('id', '=', thing.id).executeTakeFirst();
    return new Page({
      id: new URL(thingIri(ctx.config.origin, thing.id)),
      url: new URL(thing.url),
      name: thing.title,
      attribution: new URL(actorIri(ctx, thing.owner_username)),
      to: PUBLIC_COLLECTION,
      ...(created ? { published: instant(created.created_at) } : {}),
    });
  });

  // Every id we mint dereferences (objects.ts): a flattr's Like, a published flattr's Note, a
  // period. Withdrawn ones are not Fedify's to answer: fastify says 410 (web/routes/citizens.ts).
  federation.setObjectDispatcher(Like, '/flattrs/{id}', async (_fctx, { id }) => {
    const found = await flattrObject(ctx, id);
    return found?.state === 'live' ? found.object : null;
  });
  federation.setObjectDispatcher(Note, '/posts/{id}', async (fctx, { id }) => {
    const found = await postObject(ctx, (username) => fctx.getFollowersUri(username), id);
    return found?.state === 'live' ? found.object : null;
  });
  federation.setObjectDispatcher(APObject, '/periods/{period}', async (_fctx, { period }) => periodObject(ctx, period));

  federation.setNodeInfoDispatcher('/nodeinfo/2.1', async () => {
    const { rows } = await sql<{ users: number; things: number }>`
      SELECT (SELECT count(*) FROM members)::int AS users, (SELECT count(*) FROM things)::int AS things
    `.execute(ctx.db);
    const { users, things } = rows[0]!;
    return {
      software: { name: 'farthing', version: packageJson.version },
      protocols: ['activitypub'],
      usage: { users: { total: users }, localPosts: things, localComments: 0 },
      openRegistrations: ctx.config.registration === 'open',
    };
  });

  return federation;
}

/** What a member's actor says of them beyond their username (members/profile.ts). */
interface CitizenFields {
  name?: string;
  summary?: string | null;
  icon?: Image;
  published?: ReturnType<typeof instant>;
}

async function citizenFields(ctx: Context, username: string): Promise<CitizenFields> {
  const profile = await profileOf(ctx, username);
  if (!profile) return {};
  return {
    name: profile.display_name ?? profile.username,
    summary: bioHtml(profile.bio),
    icon: new Image({ url: new URL(profile.avatar), mediaType: profile.avatar_uploaded ? 'image/webp' : 'image/png' }),
    published: instant(profile.created_at),
  };
}

async function actorDocument(
  fctx: RequestContext<void>,
  identifier: string,
  owner: ActorOwner,
  origin: URL,
  aliases: URL[],
  fields: CitizenFields,
): Promise<Person | Application> {
  const keys = await fctx.getActorKeyPairs(identifier);
  const common = {
    id: fctx.getActorUri(identifier),
    inbox: fctx.getInboxUri(identifier),
    endpoints: new Endpoints({ sharedInbox: fctx.getInboxUri() }),
    outbox: fctx.getOutboxUri(identifier),
    followers: fctx.getFollowersUri(identifier),
    following: fctx.getFollowingUri(identifier),
    // Mastodon verifies HTTP signatures with `publicKey`, which must be the RSA key.
    publicKey: keys.find((k) => k.privateKey.algorithm.name === 'RSASSA-PKCS1-v1_5')?.cryptographicKey ?? null,
    // Object proofs (and the instance's settlement statements) name an Ed25519 Multikey.
    assertionMethods: keys.filter((k) => k.privateKey.algorithm.name === 'Ed25519').map((k) => k.multikey),
  };
  if (owner.kind === 'instance') {
    // Like Mastodon's instance actor: named after the host, follows nobody and takes no followers.
    return new Application({ ...common, preferredUsername: origin.host, name: origin.host, url: origin, manuallyApprovesFollowers: true, discoverable: false });
  }
  return new Person({
    ...common,
    preferredUsername: owner.username,
    name: owner.username,
    ...fields,
    // The profile page is served at the same URL to browsers (bridge.ts, web/routes/citizens.ts).
    url: common.id,
    manuallyApprovesFollowers: false,
    discoverable: owner.listed,
    aliases,
  });
}
