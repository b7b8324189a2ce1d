/**
 * The one HTTP client for everything the instance fetches on someone else's behalf: pages to
 * discover, NodeInfo, WebFinger over http, webhooks, the remote-flattr form's NodeInfo check,
 * and every redirect any of them is sent on. The instance must not be a way into its own network,
 * so (unless FARTHING_ALLOW_PRIVATE_ADDRESS is set) it refuses to connect to any address that is
 * not globally reachable (src/net/addresses.ts):
 *
 * - the address checked is the one the socket connects to: an undici Agent whose connect-time
 *   `lookup` resolves the name, judges every address it resolves to and hands only approved ones
 *   to the socket, so a name cannot resolve to a public address for a check and to loopback for
 *   the connection (DNS rebinding);
 * - an address written in the URL (which the socket uses without a lookup) is judged first;
 * - redirects are followed by hand (http and https only, at most five), each hop through the same
 *   checks; one time-out bounds the whole exchange; a body is read up to a size and then the
 *   connection is dropped.
 *
 * Fedify's own lookups (actors, objects, WebFinger over https) keep Fedify's own check.
 */

import type { LookupAddress, LookupOptions } from 'node:dns';
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { Agent, request } from 'undici';
import type { Context } from '../context.ts';
import { addressRefusal } from './addresses.ts';

/** Resolves a name to its addresses; a parameter so tests can make a name resolve anywhere. */
export type Resolver = (hostname: string) => Promise<LookupAddress[]>;

export const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** A connection that was not made because of where it would have gone. */
export class RefusedAddressError extends Error {
  readonly code = 'ERR_FARTHING_REFUSED_ADDRESS';
  readonly host: string;
  readonly reason: string;
  constructor(host: string, reason: string) {
    super(`${host} is not a public address (${reason}); this instance does not call it`);
    this.name = 'RefusedAddressError';
    this.host = host;
    this.reason = reason;
  }
}

/** True when the error, or one it wraps, is a refused address. */
export function isRefusedAddress(error: unknown): boolean {
  for (let e = error as { cause?: unknown; errors?: unknown[] } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e instanceof RefusedAddressError) return true;
    if (Array.isArray(e.errors) && e.errors.some(isRefusedAddress)) return true;
  }
  return false;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for net.connect/tls.connect: resolves, keeps the approved addresses (of the family
 * asked for, if any) and refuses the connection when none is left.
 */
export function guardedLookup(resolve: Resolver, refusal: (address: string) => string | null = addressRefusal) {
  return (hostname: string, options: LookupOptions, callback: LookupCallback): void => {
    resolve(hostname).then(
      (addresses) => {
        const wanted = addresses.filter((a) => !options.family || options.family === a.family || options.family === (`IPv${a.family}` as never));
        const approved = wanted.filter((a) => refusal(a.address) === null);
        if (approved.length === 0) {
          const first = wanted[0];
          const reason = first ? (refusal(first.address) ?? 'no address') : 'no address';
          callback(new RefusedAddressError(hostname, reason) as unknown as NodeJS.ErrnoException, options.all ? [] : '', undefined);
          return;
        }
        if (options.all) callback(null, approved);
        else callback(null, (approved[0] as LookupAddress).address, (approved[0] as LookupAddress).family);
      },
      (error: NodeJS.ErrnoException) => callback(error, options.all ? [] : '', undefined),
    );
  };
}

export interface OutboundOptions {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** The body is read up to this many bytes, then the connection is dropped (0: not read). */
  maxBytes?: number;
  /** For the whole exchange, every redirect included. */
  timeoutMs?: number;
  /** Redirects followed (each hop checked); with 0 a redirect is answered as it is. */
  maxRedirects?: number;
}

export interface OutboundResponse {
  status: number;
  ok: boolean;
  /** Lower-case names; a repeated header's values joined with ", ". */
  headers: Record<string, string>;
  /** The URL that answered, after redirects. */
  url: string;
  body: Buffer;
  /** Whether the body was longer than maxBytes (and was cut there). */
  truncated: boolean;
  text(): string;
  /** The body as JSON; refuses a cut body. */
  json(): unknown;
}

export interface OutboundClient {
  fetch(input: string | URL, options?: OutboundOptions): Promise<OutboundResponse>;
  close(): Promise<void>;
}

export const DEFAULT_MAX_BYTES = 512 * 1024;
export const DEFAULT_TIMEOUT_MS = 10_000;
export const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export interface OutboundClientOptions {
  /** FARTHING_ALLOW_PRIVATE_ADDRESS: no address is refused (tests, local development). */
  allowPrivateAddress: boolean;
  resolve?: Resolver;
  /** Which addresses are refused; the IANA registries unless a test says otherwise. */
  refusal?: (address: string) => string | null;
  userAgent?: string;
}

export function createOutboundClient(options: OutboundClientOptions): OutboundClient {
  const refusal = options.allowPrivateAddress ? () => null : (options.refusal ?? addressRefusal);
  const agent = new Agent({
    connect: { lookup: guardedLookup(options.resolve ?? systemResolver, refusal) as never, timeout: DEFAULT_TIMEOUT_MS },
    keepAliveTimeout: 4_000,
    headersTimeout: DEFAULT_TIMEOUT_MS,
    bodyTimeout: DEFAULT_TIMEOUT_MS,
  });

  const checkUrl = (url: URL): void => {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`not an http(s) URL: ${url.protocol}`);
    if (url.username || url.password) throw new TypeError('a URL with credentials is not called');
    // An address in the URL goes to the socket without a lookup: judged here.
    const host = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(host)) {
      const why = refusal(host);
      if (why !== null) throw new RefusedAddressError(url.hostname, why);
    }
  };

  const fetchOutbound = async (input: string | URL, o: OutboundOptions = {}): Promise<OutboundResponse> => {
    const maxBytes = o.maxBytes ?? DEFAULT_MAX_BYTES;
    const maxRedirects = Math.min(o.maxRedirects ?? MAX_REDIRECTS, MAX_REDIRECTS);
    const signal = AbortSignal.timeout(o.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    let url = new URL(input);
    let method = o.method ?? 'GET';
    let body = o.body;
    const headers: Record<string, string> = { 'user-agent': options.userAgent ?? 'Farthing', ...o.headers };
    for (let hop = 0; ; hop++) {
      checkUrl(url);
      const answer = await request(url, { dispatcher: agent, method, headers, body, signal });
      const location = answer.headers.location;
      if (REDIRECTS.has(answer.statusCode) && typeof location === 'string' && hop < maxRedirects) {
        discard(answer.body);
        const next = new URL(location, url);
        // As browsers do: 303 (and 301/302 after a POST) continue as a GET without the body.
        if (answer.statusCode === 303 || ((answer.statusCode === 301 || answer.statusCode === 302) && method === 'POST')) {
          method = 'GET';
          body = undefined;
          delete headers['content-type'];
        }
        url = next;
        continue;
      }
      if (REDIRECTS.has(answer.statusCode) && typeof location === 'string' && maxRedirects > 0) {
        discard(answer.body);
        throw new TypeError(`more than ${maxRedirects} redirects`);
      }
      const { bytes, truncated } = await readUpTo(answer.body, maxBytes);
      const flat: Record<string, string> = {};
      for (const [name, value] of Object.entries(answer.headers)) if (value !== undefined) flat[name] = Array.isArray(value) ? value.join(', ') : value;
      return {
        status: answer.statusCode,
        ok: answer.statusCode >= 200 && answer.statusCode < 300,
        headers: flat,
        url: url.href,
        body: bytes,
        truncated,
        text: () => bytes.toString('utf8'),
        json: () => {
          if (truncated) throw new RangeError(`the answer is larger than ${maxBytes} bytes`);
          return JSON.parse(bytes.toString('utf8'));
        },
      };
    }
  };

  return { fetch: fetchOutbound, close: () => agent.close() };
}

/** Drops a body not (or no longer) wanted, and its connection. */
function discard(body: { destroy(): unknown; on(event: 'error', listener: () => void): unknown }): void {
  body.on('error', () => {});
  body.destroy();
}

/** Reads a body until `limit` bytes, then drops the connection instead of reading on. */
async function readUpTo(body: AsyncIterable<Buffer> & Parameters<typeof discard>[0], limit: number): Promise<{ bytes: Buffer; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  if (limit > 0) {
    for await (const chunk of body) {
      chunks.push(chunk);
      size += chunk.byteLength;
      if (size > limit) break;
    }
  }
  discard(body);
  const all = Buffer.concat(chunks);
  return { bytes: all.subarray(0, limit), truncated: all.byteLength > limit };
}

/**
 * The instance's client, made at first use from its configuration; a test may set
 * `ctx.outbound` first (to make a name resolve to an address of its choosing).
 */
export function outboundOf(ctx: Context): OutboundClient {
  ctx.outbound ??= createOutboundClient({ allowPrivateAddress: ctx.config.allowPrivateAddress });
  return ctx.outbound;
}
