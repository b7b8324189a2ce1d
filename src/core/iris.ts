/**
 * Every URL this instance mints, and the one parser from an IRI back to what it names (issue 11).
 * The one place that spells the paths of this instance's IRIs and pages; route declarations
 * (fastify's `app.get('/things/:id')`, Fedify's `setActorDispatcher('/users/{identifier}')`)
 * stay with their handlers. A leaf: imports nothing from the project.
 *
 * `origin` is the instance origin as configured (`ctx.config.origin`, no trailing slash), or a
 * peer's origin when naming something on another instance (its actor, its settlement inbox).
 * The `*Path` functions answer the same path without the origin, for links and redirects in pages.
 */

/** What an IRI of an instance names; `parseIri` answers one of these or null. */
export type Named =
  | { kind: 'member'; username: string }
  | { kind: 'memberInbox'; username: string }
  | { kind: 'followers'; username: string }
  | { kind: 'following'; username: string }
  | { kind: 'outbox'; username: string }
  | { kind: 'avatar'; username: string; version: string | null }
  | { kind: 'instance' }
  | { kind: 'sharedInbox' }
  | { kind: 'thing'; id: string }
  | { kind: 'flattr'; id: string }
  | { kind: 'undo'; id: string }
  | { kind: 'post'; id: string }
  | { kind: 'period'; period: string }
  | { kind: 'statement'; id: string }
  | { kind: 'settlementMessage'; id: string }
  | { kind: 'settlementInbox' }
  | { kind: 'notice'; id: string }
  | { kind: 'unclaimed'; account: string };

export type NamedKind = Named['kind'];

/** What may follow a member's path: their avatar and their ActivityPub collections. */
export type MemberSub = 'avatar' | 'inbox' | 'followers' | 'following' | 'outbox';
/** What may follow a thing's path: its pages' forms and its embeds. */
export type ThingSub = 'flattr' | 'title' | 'badge.svg' | 'button';

// ---- paths (no origin) ----

/** Where members' paths (their actors, collections, avatars) begin. */
export const MEMBERS_PATH_PREFIX = '/users/';

export function memberPath(username: string, sub?: MemberSub): string {
  return `${MEMBERS_PATH_PREFIX}${username}${sub ? `/${sub}` : ''}`;
}

/** The profile page is the member's actor IRI (content negotiation decides which answers). */
export const profilePath = memberPath;

export function avatarPath(username: string, version: string | null = null): string {
  return `${memberPath(username, 'avatar')}${version ? `?v=${version}` : ''}`;
}

export const INSTANCE_ACTOR_PATH = '/actor';
export const SHARED_INBOX_PATH = '/inbox';
export const SETTLEMENT_INBOX_PATH = '/settlement/inbox';

export function thingPath(id: string, sub?: ThingSub): string {
  return `/things/${id}${sub ? `/${sub}` : ''}`;
}

export function flattrPath(id: string): string {
  return `/flattrs/${id}`;
}

export function postPath(id: string): string {
  return `/posts/${id}`;
}

export function periodPath(period: string): string {
  return `/periods/${period}`;
}

export function statementPath(id: string): string {
  return `/settlement/statements/${id}`;
}

export function settlementMessagePath(id: string): string {
  return `/settlement/messages/${id}`;
}

export function noticePath(id: string | bigint): string {
  return `/notices/${id}`;
}

/** The public page of a fediverse account's unclaimed money; the account IRI URL-encoded. */
export function unclaimedPath(account: string): string {
  return `/unclaimed/${encodeURIComponent(account)}`;
}

// ---- IRIs (origin + path) ----

/** A member's actor, also their profile page. */
export function memberIri(origin: string, username: string): string {
  return origin + memberPath(username);
}

export function memberInboxIri(origin: string, username: string): string {
  return origin + memberPath(username, 'inbox');
}

export function followersIri(origin: string, username: string): string {
  return origin + memberPath(username, 'followers');
}

export function followingIri(origin: string, username: string): string {
  return origin + memberPath(username, 'following');
}

export function outboxIri(origin: string, username: string): string {
  return origin + memberPath(username, 'outbox');
}

export function avatarIri(origin: string, username: string, version: string | null = null): string {
  return origin + avatarPath(username, version);
}

/** The instance actor (an Application), the one that signs for the instance and settles. */
export function instanceActorIri(origin: string): string {
  return origin + INSTANCE_ACTOR_PATH;
}

export function sharedInboxIri(origin: string): string {
  return origin + SHARED_INBOX_PATH;
}

export function thingIri(origin: string, id: string): string {
  return origin + thingPath(id);
}

/** A flattr's Like. */
export function flattrIri(origin: string, id: string): string {
  return origin + flattrPath(id);
}

/** The Undo of a flattr's Like (a fragment of the Like's IRI; it does not dereference). */
export function undoIri(origin: string, flattrId: string): string {
  return `${flattrIri(origin, flattrId)}#undo`;
}

/** The Like an Undo IRI of ours undoes (the IRI itself when it is not one). */
export function likeOfUndo(origin: string, undo: string): string {
  const named = parseIri(origin, undo);
  return named?.kind === 'undo' ? flattrIri(origin, named.id) : undo;
}

/** A published flattr's Note. */
export function postIri(origin: string, id: string): string {
  return origin + postPath(id);
}

/** A period (YYYY-MM), the `context` of every Like. */
export function periodIri(origin: string, period: string): string {
  return origin + periodPath(period);
}

export function statementIri(origin: string, id: string): string {
  return origin + statementPath(id);
}

export function settlementMessageIri(origin: string, id: string): string {
  return origin + settlementMessagePath(id);
}

export function settlementInboxIri(origin: string): string {
  return origin + SETTLEMENT_INBOX_PATH;
}

/** The id of a direct message telling an account about its unclaimed money. */
export function noticeIri(origin: string, id: string | bigint): string {
  return origin + noticePath(id);
}

export function unclaimedIri(origin: string, account: string): string {
  return origin + unclaimedPath(account);
}

// ---- parsing ----

const USERNAME = '([A-Za-z0-9_]{1,30})';
const UUID = '([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})';
const MONTH = '(\\d{4}-(?:0[1-9]|1[0-2]))';

/** Each shape, anchored on the whole rest of the IRI after the origin (query and fragment included). */
const SHAPES: [RegExp, (m: RegExpExecArray) => Named | null][] = [
  [new RegExp(`^/users/${USERNAME}$`), (m) => ({ kind: 'member', username: m[1]! })],
  [new RegExp(`^/users/${USERNAME}/inbox$`), (m) => ({ kind: 'memberInbox', username: m[1]! })],
  [new RegExp(`^/users/${USERNAME}/followers$`), (m) => ({ kind: 'followers', username: m[1]! })],
  [new RegExp(`^/users/${USERNAME}/following$`), (m) => ({ kind: 'following', username: m[1]! })],
  [new RegExp(`^/users/${USERNAME}/outbox$`), (m) => ({ kind: 'outbox', username: m[1]! })],
  [new RegExp(`^/users/${USERNAME}/avatar(?:\\?v=([A-Za-z0-9_-]{1,64}))?$`), (m) => ({ kind: 'avatar', username: m[1]!, version: m[2] ?? null })],
  [/^\/actor$/, () => ({ kind: 'instance' })],
  [/^\/inbox$/, () => ({ kind: 'sharedInbox' })],
  [new RegExp(`^/things/${UUID}$`), (m) => ({ kind: 'thing', id: m[1]!.toLowerCase() })],
  [new RegExp(`^/flattrs/${UUID}$`), (m) => ({ kind: 'flattr', id: m[1]!.toLowerCase() })],
  [new RegExp(`^/flattrs/${UUID}#undo$`), (m) => ({ kind: 'undo', id: m[1]!.toLowerCase() })],
  [new RegExp(`^/posts/${UUID}$`), (m) => ({ kind: 'post', id: m[1]!.toLowerCase() })],
  [new RegExp(`^/periods/${MONTH}$`), (m) => ({ kind: 'period', period: m[1]! })],
  [new RegExp(`^/settlement/statements/${UUID}$`), (m) => ({ kind: 'statement', id: m[1]!.toLowerCase() })],
  [new RegExp(`^/settlement/messages/${UUID}$`), (m) => ({ kind: 'settlementMessage', id: m[1]!.toLowerCase() })],
  [/^\/settlement\/inbox$/, () => ({ kind: 'settlementInbox' })],
  [/^\/notices\/([1-9][0-9]{0,18})$/, (m) => ({ kind: 'notice', id: m[1]! })],
  [/^\/unclaimed\/([A-Za-z0-9%._~!*'()-]+)$/, (m) => unclaimedAccount(m[1]!)],
];

function unclaimedAccount(encoded: string): Named | null {
  let account: string;
  try {
    account = decodeURIComponent(encoded);
  } catch {
    return null; // a malformed escape names nothing
  }
  // Only the one spelling unclaimedPath writes: `%2f` or needless escapes name nothing.
  return encodeURIComponent(account) === encoded ? { kind: 'unclaimed', account } : null;
}

/**
 * What `iri` names on the instance at `origin`, or null when it is not one of its IRIs: the
 * origin must be exactly `origin` and the rest exactly one of the shapes minted above (ids that
 * are UUIDs must be UUIDs, answered lower case). Nothing is normalised first, so `..`, `//`, `%2F`,
 * a trailing slash, a query or a fragment (but `#undo` of a flattr, `?v=` of an avatar) name nothing;
 * a caller that tolerates a trailing slash removes it itself.
 */
export function parseIri(origin: string, iri: string | URL): Named | null {
  const text = typeof iri === 'string' ? iri : iri.href;
  if (!text.startsWith(`${origin}/`)) return null;
  const rest = text.slice(origin.length);
  for (const [shape, named] of SHAPES) {
    const match = shape.exec(rest);
    if (match) return named(match);
  }
  return null;
}

/** parseIri, answering only when the IRI names a `kind`. */
export function parseIriOf<K extends NamedKind>(origin: string, iri: string | URL, kind: K): Extract<Named, { kind: K }> | null {
  const named = parseIri(origin, iri);
  return named?.kind === kind ? (named as Extract<Named, { kind: K }>) : null;
}

/** What a request path (no origin; a query or fragment is part of it) names on this instance. */
export function parsePath(path: string): Named | null {
  return parseIri('', path);
}

// ---- classifying request paths ----
//
// Looser than parsePath on purpose: these decide who answers a request (Fedify or fastify, JSON or
// a page), not what it names; a path that names nothing is then a 404 from whoever answers it.

/** A request's path: its URL without the query. */
function pathOf(url: string): string {
  return url.split('?', 1)[0] as string;
}

const THING_PATH = /^\/things\/[0-9a-fA-F-]{36}$/;
/** Objects whose ids we mint (activitypub/objects.ts): flattrs, posts and periods. */
const OBJECT_PATH = /^\/(?:flattrs\/[0-9a-fA-F-]{36}|posts\/[0-9a-fA-F-]{36}|periods\/[0-9]{4}-[0-9]{2})$/;
const INBOX_PATH = /^\/(?:inbox|users\/[^/]+\/inbox)$/;
/** The API, OAuth's token endpoints, health, federation and webhooks from Stripe. */
const JSON_PATH = /^\/(?:api\/|oauth\/(?:token|revoke)$|healthz$|\.well-known\/|nodeinfo\/|settlement\/|stripe\/|inbox$|users\/[^/]+\/inbox$)/;
const OAUTH_TOKEN_URL = /^\/oauth\/(?:token|revoke)(?:\?|$)/;

/** The IRI of a thing or of an object we mint (a flattr, a post, a period): ActivityPub for AP clients, a page otherwise. */
export function isObjectPath(url: string): boolean {
  const path = pathOf(url);
  return THING_PATH.test(path) || OBJECT_PATH.test(path);
}

/** An inbox: the shared one or a member's. */
export function isInboxPath(url: string): boolean {
  return INBOX_PATH.test(pathOf(url));
}

/** What may be Fedify's: WebFinger, NodeInfo, members' actors and collections, the instance actor and inbox, objects' IRIs. */
export function isFederationPath(url: string): boolean {
  const path = pathOf(url);
  return (
    path === '/.well-known/webfinger' ||
    path === '/.well-known/nodeinfo' ||
    path.startsWith('/nodeinfo/') ||
    path.startsWith(MEMBERS_PATH_PREFIX) ||
    path === INSTANCE_ACTOR_PATH ||
    path === SHARED_INBOX_PATH ||
    isObjectPath(path)
  );
}

/** Paths answered in JSON (errors included): see JSON_PATH. Everything else is a page. */
export function isJsonPath(url: string): boolean {
  const path = pathOf(url);
  return JSON_PATH.test(path) || path === '/api';
}

/** OAuth's token and revocation endpoints, which answer errors in OAuth's own shape. */
export function isOAuthTokenUrl(url: string): boolean {
  return OAUTH_TOKEN_URL.test(url);
}
