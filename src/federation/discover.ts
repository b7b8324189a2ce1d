/**
 * Finding the owner of a URL nobody here has registered, at its first flattr (product.md,
 * Federation): a fediverse post's `attributedTo` (Fedify's lookup does Mastodon's content
 * negotiation and follows an HTML page's `rel=alternate` link), a thing on another Farthing
 * instance (its `uri` is an ActivityPub object attributed to a member there), or a web page that
 * names its owner with `<link rel="payment" href>` (a thing's uri or an actor) or
 * `<meta name="fediverse:creator" content="@name@host">`.
 *
 * The owner is remembered in remote_actors with its inboxes and what software its instance runs:
 * a Farthing instance is paid by settlement statements, anyone else's shares are unclaimed.
 */
import { type Context as FedifyContext, type DocumentLoader, parseNodeInfo } from '@fedify/fedify';
import { type Actor, isActor, type Object as ApObject } from '@fedify/vocab';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import type { Executor } from '../ledger/accounts.ts';
import { INSTANCE_ACTOR } from './federation.ts';
import { type OutboundResponse, outboundOf } from '../net/outbound.ts';

/** A page is read up to this size; owners are named in its head. */
const PAGE_LIMIT_BYTES = 512 * 1024;

export interface RemoteThing {
  /** What was flattred: the post's or page's URL. */
  url: string;
  /** The thing's own IRI: the ActivityPub object, when there is one. */
  uri: string | null;
  title: string | null;
  owner: Actor;
}

export async function discoverRemoteThing(ctx: Context, url: string): Promise<RemoteThing> {
  const federation = ctx.federation;
  if (!federation) throw new AppError('not_found', 'this instance does not federate, so it cannot find remote owners');
  const fctx = federation.createContext(new URL(ctx.config.origin), undefined);
  // Signed with the instance actor's key: servers in "authorized fetch" mode answer only so.
  const loader = await fctx.getDocumentLoader({ identifier: INSTANCE_ACTOR });
  const found = await lookup(fctx, url, loader);
  if (found && !isActor(found)) {
    const owner = await attributedActor(found, loader);
    if (owner) return { url: found.url instanceof URL ? found.url.href : url, uri: found.id?.href ?? null, title: titleOf(found), owner };
  }
  const page = await readPage(ctx, url);
  if (page) {
    for (const href of page.payment) {
      const target = await lookup(fctx, href, loader);
      if (target && isActor(target)) return { url, uri: null, title: page.title, owner: target };
      const owner = target && (await attributedActor(target, loader));
      // The page pays the Farthing thing it names: flattring the page flattrs that thing.
      if (owner && target) return { url: target.url instanceof URL ? target.url.href : url, uri: target.id?.href ?? null, title: titleOf(target) ?? page.title, owner };
    }
    for (const handle of page.creators) {
      const [user, host] = handle.replace(/^@/, '').split('@') as [string, string];
      const actor = await lookupHandle(ctx, (iri) => lookup(fctx, iri, loader), user, host);
      if (actor && isActor(actor as never)) return { url, uri: null, title: page.title, owner: actor as Actor };
    }
    // Author links (rel="author", rel="me") to a fediverse profile.
    for (const href of page.authors) {
      const target = await lookup(fctx, href, loader);
      if (target && isActor(target)) return { url, uri: null, title: page.title, owner: target };
    }
  }
  throw new AppError('not_found', 'nobody has claimed this URL yet, and no owner could be found for it', { field: 'url' });
}

export async function lookup(fctx: FedifyContext<void>, url: string, loader: DocumentLoader): Promise<ApObject | null> {
  try {
    return await fctx.lookupObject(url, { documentLoader: loader });
  } catch {
    return null;
  }
}

/**
 * The account a handle (`user@host`) names, through WebFinger: Fedify's client speaks https
 * only, so where private addresses are allowed (development, tests) plain http is tried too.
 */
export async function lookupHandle(ctx: Context, lookupIri: (iri: string) => Promise<unknown>, user: string, host: string): Promise<unknown> {
  const found = await lookupIri(`acct:${user}@${host}`);
  if (found || !ctx.config.allowPrivateAddress) return found;
  try {
    const url = new URL(`http://${host}/.well-known/webfinger`);
    url.searchParams.set('resource', `acct:${user}@${host}`);
    const response = await outboundOf(ctx).fetch(url, { headers: { accept: 'application/jrd+json' }, maxBytes: PAGE_LIMIT_BYTES });
    if (!response.ok) return null;
    const jrd = response.json() as { links?: { rel?: string; type?: string; href?: string }[] };
    const self = jrd.links?.find((l) => l.rel === 'self' && /activity\+json|ld\+json/.test(l.type ?? ''))?.href;
    return self ? await lookupIri(self) : null;
  } catch {
    return null;
  }
}

/** The object's author, only if the author lives on the object's own server (as Mastodon requires). */
export async function attributedActor(object: ApObject, loader: DocumentLoader): Promise<Actor | null> {
  const ids = object.attributionIds;
  const first = ids[0];
  if (!first || !object.id || first.origin !== object.id.origin) return null;
  try {
    for await (const attribution of object.getAttributions({ documentLoader: loader })) {
      if (isActor(attribution) && attribution.id?.href === first.href) return attribution;
    }
  } catch {
    return null;
  }
  return null;
}

export function titleOf(object: ApObject): string | null {
  const name = object.name?.toString() ?? object.summary?.toString() ?? object.content?.toString();
  if (!name) return null;
  const text = name.replace(/<[^>]*>/g, ' ').replace(/\s+/g, ' ').trim();
  return text ? text.slice(0, 200) : null;
}

export interface Page {
  title: string | null;
  payment: string[];
  creators: string[];
  /** Author links (`rel="author"`, `rel="me"` on a link or an anchor) to a profile. */
  authors: string[];
}

/** At most this many links of one kind are read from a page (each may cost a lookup). */
const PAGE_LINKS_MAX = 5;

/** The head of an HTML page: its title, rel=payment links, fediverse:creator handles and author links. */
export async function readPage(ctx: Context, url: string): Promise<Page | null> {
  let response: OutboundResponse;
  try {
    response = await outboundOf(ctx).fetch(url, { headers: { accept: 'text/html' }, maxBytes: PAGE_LIMIT_BYTES });
  } catch {
    return null;
  }
  if (!response.ok || !/text\/html|application\/xhtml\+xml/.test(response.headers['content-type'] ?? '')) return null;
  const html = response.text();
  const base = response.url || url;
  const tags = html.match(/<(?:link|meta|a)\b[^>]*>/gi) ?? [];
  const payment: string[] = [];
  const creators: string[] = [];
  const authors: string[] = [];
  const push = (list: string[], href: string) => {
    if (list.length >= PAGE_LINKS_MAX) return;
    try {
      const url = new URL(href, base);
      if ((url.protocol === 'https:' || url.protocol === 'http:') && !list.includes(url.href)) list.push(url.href);
    } catch {
      // not a URL: ignored
    }
  };
  for (const tag of tags) {
    const attrs = attributes(tag);
    const rels = attrs.rel?.toLowerCase().split(/\s+/) ?? [];
    const isLink = /^<link\b/i.test(tag);
    if (isLink && rels.includes('payment') && attrs.href) push(payment, attrs.href);
    if (attrs.href && (rels.includes('me') || (isLink && rels.includes('author')))) push(authors, attrs.href);
    if (attrs.name?.toLowerCase() === 'fediverse:creator' && attrs.content && /^@?[^@\s]+@[^@\s]+$/.test(attrs.content) && creators.length < PAGE_LINKS_MAX) creators.push(attrs.content);
  }
  const title = /<title[^>]*>([^<]{1,400})<\/title>/i.exec(html)?.[1]?.trim() ?? null;
  return { title: title ? decodeEntities(title).slice(0, 200) : null, payment, creators, authors };
}

function attributes(tag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of tag.matchAll(/([a-zA-Z:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))/g)) {
    out[(m[1] as string).toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

function decodeEntities(text: string): string {
  return text.replace(/&amp;/g, '&').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#39;/g, "'");
}

/** The actor's row in remote_actors (inserted or refreshed), with its instance's software. */
export async function rememberActor(ctx: Context, db: Executor, actor: Actor): Promise<bigint> {
  const iri = actor.id;
  const inbox = actor.inboxId;
  if (!iri || !inbox) throw new AppError('not_found', 'the owner of this URL has no inbox to tell of flattrs');
  const software = await instanceSoftware(ctx, iri);
  const handle = actor.preferredUsername ? `@${actor.preferredUsername}@${iri.host}` : null;
  const row = await db
    .insertInto('remote_actors')
    .values({
      iri: iri.href,
      inbox: inbox.href,
      shared_inbox: actor.endpoints?.sharedInbox?.href ?? null,
      handle,
      instance_origin: iri.origin,
      software,
      fetched_at: ctx.clock.now(),
    })
    .onConflict((oc) =>
      oc.column('iri').doUpdateSet((eb) => ({
        inbox: eb.ref('excluded.inbox'),
        shared_inbox: eb.ref('excluded.shared_inbox'),
        handle: eb.ref('excluded.handle'),
        software: eb.fn.coalesce(eb.ref('excluded.software'), eb.ref('remote_actors.software')),
        fetched_at: eb.ref('excluded.fetched_at'),
      })),
    )
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/**
 * NodeInfo's software name, e.g. 'farthing' or 'mastodon'; null when it cannot be read. Fedify's
 * own NodeInfo client refuses private addresses whatever the federation allows, so this one
 * reads the two documents itself under the same rule as the rest (FARTHING_ALLOW_PRIVATE_ADDRESS).
 */
export async function instanceSoftware(ctx: Context, iri: URL): Promise<string | null> {
  const getJson = async (url: URL): Promise<unknown> => {
    const response = await outboundOf(ctx).fetch(url, { headers: { accept: 'application/json' }, maxBytes: PAGE_LIMIT_BYTES });
    return response.ok ? response.json() : null;
  };
  try {
    const links = ((await getJson(new URL('/.well-known/nodeinfo', iri.origin))) as { links?: { rel?: string; href?: string }[] } | null)?.links ?? [];
    const link = links.find((l) => /^http:\/\/nodeinfo\.diaspora\.software\/ns\/schema\/2\.[01]$/.test(l.rel ?? ''));
    if (!link?.href) return null;
    const info = parseNodeInfo(await getJson(new URL(link.href, iri.origin)), { tryBestEffort: true });
    return info?.software.name ?? null;
  } catch {
    return null;
  }
}
