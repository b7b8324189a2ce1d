/**
 * Whose a URL is, by what its content says (issue 13, product.md Federation): registering a URL
 * as one's thing reads it first. An ActivityPub object names its owner by `attributedTo`; a web
 * page by `<link rel="payment">` (an actor, or a Farthing thing whose owner it names),
 * `<meta name="fediverse:creator">` or author links (`rel="author"`, `rel="me"`) to a profile.
 *
 * Named owner is the caller (their actor, or a fediverse account they linked and verified):
 * the thing is verified. Named owner is anyone else: refused, `not_owner`, saying whose it is.
 * Named nobody, or could not be read: registered unverified, and said so wherever it is shown.
 * Fediverse accounts, other Farthing instances' things and this instance's own URLs are never
 * things one registers. The reading itself is discover.ts's, so registration and first flattrs
 * read pages alike.
 */
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { type Named, parseIri } from '../core/iris.ts';
import type { Executor } from '../ledger/accounts.ts';
import { actorIri, findMember } from '../members/service.ts';
import type { ActorRecord, DirectoryRecord, LookupOptions, ObjectRecord } from '../ports.ts';

export interface NamedOwner {
  /** The owner's actor IRI. */
  iri: string;
  /** How to name them to a person: @name@host, or the IRI. */
  name: string;
  /** The actor document, when it was fetched (a remote owner). */
  actor?: ActorRecord;
}

export interface OwnershipProof {
  verified: boolean;
  /** What the content calls itself, for a thing registered without a title. */
  title: string | null;
  /** A fediverse account of the caller's that the content names (its server gets the Likes). */
  author?: ActorRecord;
  /** How the owner was named, for messages. */
  named: NamedOwner[];
}

/** What a link's path names on the instance at its origin; its query and fragment, and one trailing slash, are ignored. */
function namedBy(url: URL): Named | null {
  return parseIri(url.origin, url.origin + url.pathname.replace(/(.)\/$/, '$1'));
}

/** Reads `url` and decides whether `caller` may register it; throws not_owner/invalid_request when not. */
export async function proveOwnership(ctx: Context, caller: Caller, url: string): Promise<OwnershipProof> {
  const own = new URL(ctx.config.origin);
  const target = new URL(url);
  if (target.origin === own.origin) {
    throw new AppError('invalid_request', `${url} is an address on this instance: register a page of yours elsewhere`, { field: 'url' });
  }
  const named = await namedOwners(ctx, url);
  const mine = await callerIdentities(ctx.db, ctx, caller);
  const match = named.owners.find((o) => mine.has(canonical(o.iri)));
  if (match) {
    const author = match.iri === actorIri(ctx, caller.username) ? undefined : match.actor;
    return { verified: true, title: named.title, named: named.owners, ...(author ? { author } : {}) };
  }
  const other = named.owners[0];
  if (other) {
    throw new AppError('not_owner', `this belongs to ${other.name}: its content names them as its owner, not you`, { field: 'url', owner: other.iri });
  }
  return { verified: false, title: named.title, named: [] };
}

/** The caller's actor and the accounts they linked and verified (canonical IRIs). */
async function callerIdentities(db: Executor, ctx: Context, caller: Caller): Promise<Set<string>> {
  const links = await db.selectFrom('member_links').select('actor_iri').where('member_id', '=', caller.id).where('state', '=', 'verified').execute();
  return new Set([actorIri(ctx, caller.username), ...links.map((l) => l.actor_iri)].map(canonical));
}

/**
 * Every owner the content at `url` names (none when it names nobody or cannot be read), and its
 * title. Refuses a URL that is an actor, or a thing on another Farthing instance.
 */
export async function namedOwners(ctx: Context, url: string): Promise<{ owners: NamedOwner[]; title: string | null }> {
  const dir = ctx.directory;
  // Signed (as the instance actor, for servers in authorized-fetch mode) only when a server
  // refuses an unsigned request: registering a page on an unreachable host costs no instance keys.
  const loader: LookupOptions = { signing: 'when-refused' };
  const find = (iri: string) => dir.lookup(iri, loader);
  const owners: NamedOwner[] = [];
  const add = (o: NamedOwner | undefined) => {
    if (o && !owners.some((x) => canonical(x.iri) === canonical(o.iri))) owners.push(o);
  };
  let title: string | null = null;
  const found = await find(url);
  if (found?.kind === 'actor') {
    throw new AppError('invalid_request', `${url} is a fediverse account, not a thing: register one of its posts or pages`, { field: 'url' });
  }
  if (found) {
    title = found.title;
    const owner = await dir.author(found, loader);
    if (await isFarthingThing(ctx, found)) {
      const whose = owner ? `, owned by ${nameOf(owner)}` : '';
      throw new AppError('not_owner', `this is a thing on ${new URL(found.iri as string).host}${whose}: flattr it, it cannot be registered again here`, {
        field: 'url',
        ...(owner ? { owner: owner.iri } : {}),
      });
    }
    if (owner) add(remoteOwner(owner));
  }
  if (owners.length > 0) return { owners, title };
  const page = await dir.page(url);
  if (!page) return { owners, title };
  title ??= page.title;
  for (const href of page.payment) add(await ownerAt(ctx, href, find, loader, true));
  for (const handle of page.creators) {
    const [user, host] = handle.replace(/^@/, '').split('@') as [string, string];
    if (host.toLowerCase() === new URL(ctx.config.origin).host) {
      add(await localOwner(ctx, user));
      continue;
    }
    const actor = await dir.handle(user, host, loader);
    if (actor?.kind === 'actor') add(remoteOwner(actor));
  }
  for (const href of page.authors) add(await ownerAt(ctx, href, find, loader, false));
  return { owners, title };
}

/** The owner a link on a page names: an actor (here or elsewhere), or for rel=payment a thing's owner. */
async function ownerAt(
  ctx: Context,
  href: string,
  find: (iri: string) => Promise<DirectoryRecord | null>,
  loader: LookupOptions,
  things: boolean,
): Promise<NamedOwner | undefined> {
  const url = new URL(href);
  if (url.origin === new URL(ctx.config.origin).origin) {
    const named = namedBy(url);
    if (named?.kind === 'member') return localOwner(ctx, named.username);
    if (!things || named?.kind !== 'thing') return undefined;
    const id = named.id;
    const thing = await ctx.db
      .selectFrom('things')
      .leftJoin('members', 'members.id', 'things.owner_member_id')
      .leftJoin('remote_actors', 'remote_actors.id', 'things.owner_actor_id')
      .select(['members.username', 'remote_actors.iri', 'remote_actors.handle'])
      .where('things.id', '=', id.toLowerCase())
      .executeTakeFirst();
    if (thing?.username) return localOwner(ctx, thing.username);
    return thing?.iri ? { iri: thing.iri, name: thing.handle ?? thing.iri } : undefined;
  }
  const target = await find(href);
  if (!target) return undefined;
  if (target.kind === 'actor') return remoteOwner(target);
  if (!things) return undefined;
  const owner = await ctx.directory.author(target, loader);
  return owner ? remoteOwner(owner) : undefined;
}

async function localOwner(ctx: Context, username: string): Promise<NamedOwner | undefined> {
  const member = await findMember(ctx, username);
  if (!member) return undefined;
  return { iri: actorIri(ctx, member.username), name: `@${member.username}@${new URL(ctx.config.origin).host}` };
}

function remoteOwner(actor: ActorRecord): NamedOwner | undefined {
  return { iri: actor.iri, name: nameOf(actor), actor };
}

function nameOf(actor: ActorRecord): string {
  return actor.preferredUsername ? `@${actor.preferredUsername}@${new URL(actor.iri).host}` : actor.iri;
}

/** A thing on another Farthing instance: an object at /things/{id} there, on a server that says it runs Farthing. */
async function isFarthingThing(ctx: Context, object: ObjectRecord): Promise<boolean> {
  const id = object.iri ? new URL(object.iri) : null;
  if (!id || namedBy(id)?.kind !== 'thing') return false;
  return (await ctx.directory.software(id.href)) === 'farthing';
}

export function canonical(url: string): string {
  try {
    return new URL(url).href.replace(/\/$/, '');
  } catch {
    return url;
  }
}
