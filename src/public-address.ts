/**
 * The instance calls URLs that members and peers give it (pages to discover, NodeInfo, webhooks);
 * it must not be a way into its own network. Unless FARTHING_ALLOW_PRIVATE_ADDRESS is set (tests,
 * local development), a host that is, or resolves to, a loopback, private, link-local, shared
 * (100.64/10) or unique-local address is refused, and so is every redirect to one.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Context } from './context.ts';

/** Loopback, private, link-local, unspecified and unique-local addresses and local names (no DNS). */
export function isPrivateAddress(host: string): boolean {
  let h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  const mapped = /^::ffff:([0-9.]+)$/.exec(h);
  if (mapped) h = mapped[1] as string;
  const kind = isIP(h);
  if (kind === 4) {
    return /^(127|10|0)\./.test(h) || /^192\.168\./.test(h) || /^169\.254\./.test(h) || /^172\.(1[6-9]|2\d|3[01])\./.test(h) ||
      /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./.test(h);
  }
  if (kind === 6) return h === '::1' || h === '::' || /^f[cd]/.test(h) || /^fe[89ab]/.test(h);
  return false;
}

/** Whether the host is, or resolves to, a private address (a name that does not resolve is not). */
export async function resolvesPrivately(hostname: string): Promise<boolean> {
  const host = hostname.replace(/^\[|\]$/g, '');
  if (isPrivateAddress(host)) return true;
  if (isIP(host)) return false;
  try {
    const addresses = await lookup(host, { all: true });
    return addresses.some((a) => isPrivateAddress(a.address));
  } catch {
    return false;
  }
}

export class PrivateAddressError extends Error {
  constructor(url: URL) {
    super(`${url.origin} is a private address, which this instance does not call`);
    this.name = 'PrivateAddressError';
  }
}

const MAX_REDIRECTS = 5;

/**
 * fetch() for a URL someone else chose: http(s) only, each hop checked (redirects are followed
 * by hand, at most five), a private address refused with PrivateAddressError.
 */
export async function fetchPublic(ctx: Context, input: string | URL, init: Omit<RequestInit, 'redirect'> = {}): Promise<Response> {
  let url = new URL(input);
  for (let hop = 0; ; hop++) {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`not an http(s) URL: ${url.protocol}`);
    if (!ctx.config.allowPrivateAddress && (await resolvesPrivately(url.hostname))) throw new PrivateAddressError(url);
    const response = await fetch(url, { ...init, redirect: 'manual' });
    const location = response.headers.get('location');
    if (response.status < 300 || response.status >= 400 || location === null) return response;
    await response.body?.cancel().catch(() => {});
    if (hop === MAX_REDIRECTS) throw new TypeError(`more than ${MAX_REDIRECTS} redirects`);
    url = new URL(location, url);
  }
}
