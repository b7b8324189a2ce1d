/**
 * The Directory port (src/ports.ts) on Fedify: lookups of actors and objects (Fedify's lookup does
 * Mastodon's content negotiation and follows an HTML page's `rel=alternate` link), handles by
 * WebFinger, the heads of web pages, and NodeInfo's software name. It answers plain records; the
 * Fedify object behind a record is kept (weakly) so its author and profile fields are read from
 * the document that was looked up, with the same loader, as before the port.
 */
import { type DocumentLoader, type Federation, parseNodeInfo } from '@fedify/fedify';
import { type Actor, type Object as ApObject, isActor, Link, PropertyValue } from '@fedify/vocab';
import type { Context } from '../context.ts';
import { type OutboundResponse, outboundOf } from '../net/outbound.ts';
import type { ActorRecord, Directory, DirectoryRecord, LookupOptions, ObjectRecord, Page } from '../ports.ts';
import { INSTANCE_ACTOR } from './instance-actor.ts';

/** A page is read up to this size; owners are named in its head. */
const PAGE_LIMIT_BYTES = 512 * 1024;
/** At most this many links of one kind are read from a page (each may cost a lookup). */
const PAGE_LINKS_MAX = 5;
/** At most this many aliases, urls and profile fields of one account are read. */
const MAX_POINTERS = 16;

export function createDirectory(ctx: Context, federation: Federation<void>): Directory {
  const fctx = () => federation.createContext(new URL(ctx.config.origin), undefined);
  const documents = new WeakMap<DirectoryRecord, ApObject>();
  let signed: Promise<DocumentLoader> | undefined;
  const signedLoader = (): Promise<DocumentLoader> => {
    signed ??= fctx().getDocumentLoader({ identifier: INSTANCE_ACTOR });
    signed.catch(() => {
      signed = undefined;
    });
    return signed;
  };
  /** A document loader that signs only when a server refuses an unsigned request. */
  const signedWhenRefused: DocumentLoader = async (url, options) => {
    try {
      return await fctx().documentLoader(url, options);
    } catch (error) {
      const status = (error as { response?: Response }).response?.status;
      if (status !== 401 && status !== 403) throw error;
      return (await signedLoader())(url, options);
    }
  };
  const loaderFor = async (options?: LookupOptions): Promise<DocumentLoader | undefined> =>
    options?.signing === 'always' ? signedLoader() : options?.signing === 'when-refused' ? signedWhenRefused : undefined;
  const record = (object: ApObject | null): DirectoryRecord | null => {
    if (!object) return null;
    const made = isActor(object) ? actorRecord(object) : objectRecord(object);
    if (made) documents.set(made, object);
    return made;
  };
  const lookupObject = async (iri: string, loader: DocumentLoader | undefined): Promise<ApObject | null> => {
    try {
      return await fctx().lookupObject(iri, loader ? { documentLoader: loader } : {});
    } catch {
      return null;
    }
  };
  /** The Fedify document behind a record: the one looked up, or looked up again by its IRI. */
  const documentOf = async (r: DirectoryRecord, loader: DocumentLoader | undefined): Promise<ApObject | null> =>
    documents.get(r) ?? (r.iri ? lookupObject(r.iri, loader) : null);

  const lookup = async (iri: string, options?: LookupOptions): Promise<DirectoryRecord | null> => {
    const loader = await loaderFor(options);
    return record(await lookupObject(iri, loader));
  };

  return {
    lookup,
    /** Fedify's WebFinger client speaks https only, so where private addresses are allowed (development, tests) plain http is tried too. */
    handle: async (user, host, options) => {
      const found = await lookup(`acct:${user}@${host}`, options);
      if (found || !ctx.config.allowPrivateAddress) return found;
      try {
        const url = new URL(`http://${host}/.well-known/webfinger`);
        url.searchParams.set('resource', `acct:${user}@${host}`);
        const response = await outboundOf(ctx).fetch(url, { headers: { accept: 'application/jrd+json' }, maxBytes: PAGE_LIMIT_BYTES });
        if (!response.ok) return null;
        const jrd = response.json() as { links?: { rel?: string; type?: string; href?: string }[] };
        const self = jrd.links?.find((l) => l.rel === 'self' && /activity\+json|ld\+json/.test(l.type ?? ''))?.href;
        return self ? await lookup(self, options) : null;
      } catch {
        return null;
      }
    },
    author: async (object, options) => {
      const loader = await loaderFor(options);
      const document = await documentOf(object, loader);
      if (!document || isActor(document)) return null;
      const ids = document.attributionIds;
      const first = ids[0];
      if (!first || !document.id || first.origin !== document.id.origin) return null;
      try {
        for await (const attribution of document.getAttributions(loader ? { documentLoader: loader } : {})) {
          if (isActor(attribution) && attribution.id?.href === first.href) return record(attribution) as ActorRecord | null;
        }
      } catch {
        return null;
      }
      return null;
    },
    pointers: async (actor, options) => {
      const loader = await loaderFor(options);
      const document = await documentOf(actor, loader);
      return document && isActor(document) ? accountPointers(document, loader) : [];
    },
    page: (url) => readPage(ctx, url),
    software: (iri) => instanceSoftware(ctx, new URL(iri)),
  };
}

function actorRecord(actor: Actor): ActorRecord | null {
  if (!actor.id) return null;
  return {
    kind: 'actor',
    iri: actor.id.href,
    inbox: actor.inboxId?.href ?? null,
    sharedInbox: actor.endpoints?.sharedInbox?.href ?? null,
    preferredUsername: actor.preferredUsername?.toString() ?? null,
    aliases: actor.aliasIds.map((u) => u.href),
    publicKeyIds: actor.publicKeyIds.map((u) => u.href),
  };
}

function objectRecord(object: ApObject): ObjectRecord {
  return { kind: 'object', iri: object.id?.href ?? null, url: object.url instanceof URL ? object.url.href : null, title: titleOf(object) };
}

function titleOf(object: ApObject): string | null {
  const name = object.name?.toString() ?? object.summary?.toString() ?? object.content?.toString();
  if (!name) return null;
  const text = name
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return text ? text.slice(0, 200) : null;
}

/**
 * Every URL a fediverse actor document points to as its owner's elsewhere: `alsoKnownAs`, `url`,
 * and the links in profile fields (Mastodon's PropertyValue attachments, whose value is HTML
 * with the link in it). Bounded: a hostile document cannot make this read without end.
 */
async function accountPointers(actor: Actor, loader?: DocumentLoader): Promise<string[]> {
  const seen: string[] = [...actor.aliasIds.map((u) => u.href)].slice(0, MAX_POINTERS);
  for (const url of actor.urls.slice(0, MAX_POINTERS)) seen.push(url instanceof URL ? url.href : ((url as Link).href?.href ?? ''));
  let attachments = 0;
  try {
    for await (const attachment of actor.getAttachments({ ...(loader ? { documentLoader: loader } : {}), suppressError: true })) {
      if (++attachments > MAX_POINTERS) break;
      if (attachment instanceof PropertyValue) {
        const value = (attachment.value?.toString() ?? '').slice(0, 2000);
        for (const m of value.matchAll(/href\s*=\s*"([^"]+)"|href\s*=\s*'([^']+)'|(https?:\/\/[^\s<>"']+)/gi))
          seen.push(decodeEntities(m[1] ?? m[2] ?? m[3] ?? ''));
      } else if (attachment instanceof Link && attachment.href) {
        seen.push(attachment.href.href);
      }
    }
  } catch {
    // attachments that cannot be read prove nothing
  }
  const unique: string[] = [];
  for (const s of seen) if (s && !unique.some((u) => canonical(u) === canonical(s))) unique.push(s);
  return unique;
}

function canonical(url: string): string {
  try {
    return new URL(url).href.replace(/\/$/, '');
  } catch {
    return url;
  }
}

/** The head of an HTML page: its title, rel=payment links, fediverse:creator handles and author links. */
async function readPage(ctx: Context, url: string): Promise<Page | null> {
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
    if (attrs.name?.toLowerCase() === 'fediverse:creator' && attrs.content && /^@?[^@\s]+@[^@\s]+$/.test(attrs.content) && creators.length < PAGE_LINKS_MAX)
      creators.push(attrs.content);
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
  return text
    .replace(/&amp;/g, '&')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'");
}

/**
 * NodeInfo's software name, e.g. 'farthing' or 'mastodon'; null when it cannot be read. Fedify's
 * own NodeInfo client refuses private addresses whatever the federation allows, so this one
 * reads the two documents itself under the same rule as the rest (FARTHING_ALLOW_PRIVATE_ADDRESS).
 */
async function instanceSoftware(ctx: Context, iri: URL): Promise<string | null> {
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
