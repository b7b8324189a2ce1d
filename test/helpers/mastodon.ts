/**
 * A Mastodon-shaped server for federation tests: it serves the documents Mastodon serves (actors
 * with their RSA key, `alsoKnownAs` and profile fields, Notes, WebFinger, NodeInfo saying
 * "mastodon", and plain HTML pages a test puts up) and checks each delivery to its inboxes as
 * Mastodon does: a draft-cavage Signature covering (request-target), host, date and digest; the
 * Digest equal to the body's SHA-256; a recent Date; the key fetched from its keyId and owned by
 * the activity's actor, who lists it. RFC 9421 signatures it does not know are answered 401, so
 * Fedify falls back as it would with Mastodon.
 *
 * A `Create` of a `Note` is also read as Mastodon reads a status: its visibility from its
 * addressing (public, unlisted, private, direct or limited) and the accounts it mentions, and it
 * is refused when the Note's author is not the activity's actor.
 */
import { createHash, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import { signRequest } from '@fedify/fedify';
import type { Test } from 'tap';
import { close, listen, readAll } from './network.ts';

export const AP = 'application/activity+json';
const PUBLIC = new Set(['https://www.w3.org/ns/activitystreams#Public', 'as:Public', 'Public']);

/** Mastodon's actor @context, with alsoKnownAs and profile fields (PropertyValue). */
const MASTODON_CONTEXT = [
  'https://www.w3.org/ns/activitystreams',
  'https://w3id.org/security/v1',
  {
    manuallyApprovesFollowers: 'as:manuallyApprovesFollowers',
    toot: 'http://joinmastodon.org/ns#',
    alsoKnownAs: { '@id': 'as:alsoKnownAs', '@type': '@id' },
    schema: 'http://schema.org#',
    PropertyValue: 'schema:PropertyValue',
    value: 'schema:value',
  },
];

export interface Profile {
  alsoKnownAs: string[];
  /** Profile fields: name → HTML value, as Mastodon serves them. */
  fields: Record<string, string>;
}

export interface Delivery {
  verified: boolean;
  reason?: string;
  /** The inbox path it was posted to. */
  inbox: string;
  activity: any;
  /** For a Create of a Note: what Mastodon makes of it. */
  status?: { visibility: 'public' | 'unlisted' | 'private' | 'direct' | 'limited'; mentions: string[]; accepted: boolean; reason?: string };
}

export interface MastodonServer {
  origin: string;
  host: string;
  profiles: Record<string, Profile>;
  /** HTML pages by path, served as text/html. */
  pages: Record<string, string>;
  deliveries: Delivery[];
  actor(name: string): string;
  status(name: string, n: number): string;
  /** GET `url` as this server fetches for an account (Mastodon's signed fetch): signed with `name`'s key. */
  signedGet(url: string, name: string): Promise<Response>;
  /** POSTs `activity` (its `actor` set to `name`) to `inbox`, signed as Mastodon signs (draft-cavage, RSA). */
  send(inbox: string, activity: Record<string, unknown>, name?: string): Promise<Response>;
}

/** Starts the server with these accounts (each has statuses /users/{name}/statuses/{n}). */
export async function mastodon(t: Test, accounts: string[] = ['alice']): Promise<MastodonServer> {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  // Every account of this server signs with the one key pair (each actor lists it as its own).
  const signingKey = crypto.subtle.importKey(
    'pkcs8',
    privateKey.export({ type: 'pkcs8', format: 'der' }),
    { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
    true,
    ['sign'],
  );
  const profiles: Record<string, Profile> = Object.fromEntries(accounts.map((a) => [a, { alsoKnownAs: [], fields: {} }]));
  const pages: Record<string, string> = {};
  const deliveries: Delivery[] = [];
  let origin = '';
  let host = '';
  const server = createServer(async (req, res) => {
    const body = await readAll(req);
    const url = new URL(req.url ?? '/', origin);
    const path = url.pathname;
    const json = (status: number, doc: unknown, type = AP) => res.writeHead(status, { 'content-type': type }).end(JSON.stringify(doc));
    const user = /^\/users\/([a-z0-9_]+)$/.exec(path)?.[1];
    if (req.method === 'GET' && user && profiles[user]) {
      const p = profiles[user]!;
      return json(200, {
        '@context': MASTODON_CONTEXT,
        id: `${origin}/users/${user}`,
        type: 'Person',
        preferredUsername: user,
        url: `${origin}/@${user}`,
        inbox: `${origin}/users/${user}/inbox`,
        outbox: `${origin}/users/${user}/outbox`,
        followers: `${origin}/users/${user}/followers`,
        endpoints: { sharedInbox: `${origin}/inbox` },
        alsoKnownAs: p.alsoKnownAs,
        attachment: Object.entries(p.fields).map(([name, value]) => ({ type: 'PropertyValue', name, value })),
        publicKey: {
          id: `${origin}/users/${user}#main-key`,
          owner: `${origin}/users/${user}`,
          publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }),
        },
      });
    }
    const status = /^\/users\/([a-z0-9_]+)\/statuses\/(\d+)$/.exec(path);
    if (req.method === 'GET' && status && profiles[status[1]!]) {
      const [, name, n] = status;
      return json(200, {
        '@context': 'https://www.w3.org/ns/activitystreams',
        id: `${origin}/users/${name}/statuses/${n}`,
        type: 'Note',
        attributedTo: `${origin}/users/${name}`,
        url: `${origin}/@${name}/${n}`,
        content: n === '1' ? '<p>A toot worth a flattr</p>' : `<p>Toot number ${n}</p>`,
        to: ['https://www.w3.org/ns/activitystreams#Public'],
      });
    }
    if (req.method === 'GET' && pages[path] !== undefined) {
      return res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(pages[path]);
    }
    if (req.method === 'GET' && path === '/.well-known/webfinger') {
      const resource = url.searchParams.get('resource') ?? '';
      const who = accounts.find((a) => resource === `acct:${a}@${host}`);
      if (!who) return res.writeHead(404).end();
      return json(200, { subject: resource, links: [{ rel: 'self', type: AP, href: `${origin}/users/${who}` }] }, 'application/jrd+json');
    }
    if (req.method === 'GET' && path === '/.well-known/nodeinfo') {
      return json(200, { links: [{ rel: 'http://nodeinfo.diaspora.software/ns/schema/2.0', href: `${origin}/nodeinfo/2.0` }] }, 'application/json');
    }
    if (req.method === 'GET' && path === '/nodeinfo/2.0') {
      return json(
        200,
        {
          version: '2.0',
          software: { name: 'mastodon', version: '4.3.0' },
          protocols: ['activitypub'],
          services: { outbound: [], inbound: [] },
          usage: { users: {}, localPosts: 1 },
          openRegistrations: false,
          metadata: {},
        },
        'application/json',
      );
    }
    if (req.method === 'POST' && (path === '/inbox' || /^\/users\/[a-z0-9_]+\/inbox$/.test(path))) {
      // RFC 9421 (Signature-Input) is not what this Mastodon knows: 401, and the sender falls back.
      if (req.headers['signature-input']) return res.writeHead(401).end('Unknown signature scheme');
      if (!req.headers.signature) return res.writeHead(401).end('Request not signed');
      const result = await verifyAsMastodon(req, path, body);
      let activity: any = null;
      try {
        activity = JSON.parse(body.toString('utf8'));
      } catch {
        // recorded as unparsable
      }
      const delivery: Delivery = { ...result, inbox: path, activity };
      if (activity?.type === 'Create' && activity.object?.type === 'Note') delivery.status = readStatus(activity, origin);
      deliveries.push(delivery);
      return res.writeHead(result.verified ? 202 : 401).end();
    }
    res.writeHead(404).end();
  });
  const port = await listen(server);
  origin = `http://127.0.0.1:${port}`;
  host = `127.0.0.1:${port}`;
  t.teardown(() => close(server));
  return {
    origin,
    host,
    profiles,
    pages,
    deliveries,
    actor: (name) => `${origin}/users/${name}`,
    status: (name, n) => `${origin}/users/${name}/statuses/${n}`,
    signedGet: async (url, name) =>
      fetch(await signRequest(new Request(url, { headers: { accept: AP } }), await signingKey, new URL(`${origin}/users/${name}#main-key`))),
    send: async (inbox, activity, name = 'alice') => {
      const request = new Request(inbox, {
        method: 'POST',
        headers: { 'content-type': AP, accept: AP },
        body: JSON.stringify({ '@context': 'https://www.w3.org/ns/activitystreams', actor: `${origin}/users/${name}`, ...activity }),
      });
      return fetch(await signRequest(request, await signingKey, new URL(`${origin}/users/${name}#main-key`)));
    },
  };
}

function list(value: unknown): string[] {
  return [value ?? []]
    .flat()
    .map((v) => (typeof v === 'string' ? v : ((v as { id?: string })?.id ?? '')))
    .filter(Boolean);
}

/**
 * A status as Mastodon's ActivityPub::Activity::Create makes it: the Note's author must be the
 * activity's actor; visibility from the Note's `to`/`cc` (Public in to: public, in cc: unlisted;
 * a followers collection: private; otherwise direct when it mentions those it is addressed to,
 * else limited); mentions from `Mention` tags whose href is an account here.
 */
function readStatus(activity: any, origin: string): NonNullable<Delivery['status']> {
  const note = activity.object;
  const to = list(note.to);
  const cc = list(note.cc);
  const mentions = [note.tag ?? []]
    .flat()
    .filter((tag: any) => tag?.type === 'Mention' && typeof tag.href === 'string')
    .map((tag: any) => tag.href as string);
  let visibility: NonNullable<Delivery['status']>['visibility'];
  if (to.some((a) => PUBLIC.has(a))) visibility = 'public';
  else if (cc.some((a) => PUBLIC.has(a))) visibility = 'unlisted';
  else if ([...to, ...cc].some((a) => /\/followers$/.test(a))) visibility = 'private';
  else if ([...to, ...cc].every((a) => mentions.includes(a))) visibility = 'direct';
  else visibility = 'limited';
  const local = mentions.filter((m) => m.startsWith(`${origin}/users/`));
  if (list(note.attributedTo)[0] !== activity.actor) return { visibility, mentions, accepted: false, reason: "the Note is not by the activity's actor" };
  if (local.length === 0) return { visibility, mentions, accepted: false, reason: 'mentions nobody here' };
  return { visibility, mentions, accepted: true };
}

/** What Mastodon's SignatureVerification concern checks, written from its documented behaviour. */
export async function verifyAsMastodon(req: IncomingMessage, path: string, body: Buffer): Promise<{ verified: boolean; reason?: string }> {
  const header = req.headers.signature;
  if (typeof header !== 'string') return { verified: false, reason: 'no Signature header' };
  const params = Object.fromEntries([...header.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
  const headers: string[] = (params.headers ?? 'date').split(' ');
  for (const required of ['(request-target)', 'host', 'date', 'digest']) {
    if (!headers.includes(required)) return { verified: false, reason: `signature does not cover ${required}` };
  }
  if (params.algorithm && !['rsa-sha256', 'hs2019'].includes(params.algorithm)) return { verified: false, reason: `algorithm ${params.algorithm}` };
  const digest = `SHA-256=${createHash('sha256').update(body).digest('base64')}`;
  if (req.headers.digest !== digest) return { verified: false, reason: 'digest does not match the body' };
  const date = Date.parse(String(req.headers.date));
  if (!Number.isFinite(date) || Math.abs(Date.now() - date) > 60 * 60 * 1000) return { verified: false, reason: 'date out of range' };
  const signingString = headers
    .map((name) => (name === '(request-target)' ? `(request-target): ${req.method!.toLowerCase()} ${path}` : `${name}: ${req.headers[name]}`))
    .join('\n');
  let keyDoc: any;
  try {
    keyDoc = await (await fetch(params.keyId!, { headers: { accept: AP } })).json();
  } catch {
    return { verified: false, reason: 'the key could not be fetched' };
  }
  const key = keyDoc.publicKey?.id === params.keyId ? keyDoc.publicKey : keyDoc.id === params.keyId ? keyDoc : null;
  if (!key) return { verified: false, reason: 'the actor does not list the key' };
  let actor: unknown;
  try {
    actor = JSON.parse(body.toString('utf8')).actor;
  } catch {
    return { verified: false, reason: 'the body is not JSON' };
  }
  if (key.owner !== actor || keyDoc.id !== actor) return { verified: false, reason: "the key is not the actor's" };
  const ok = verify('sha256', Buffer.from(signingString), createPublicKey(key.publicKeyPem), Buffer.from(params.signature!, 'base64'));
  return ok ? { verified: true } : { verified: false, reason: 'bad signature' };
}
