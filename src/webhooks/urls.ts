/**
 * Where webhooks may point: http(s) URLs without credentials, and not at loopback, private or
 * link-local addresses (the instance must not be a way into its own network) unless
 * FARTHING_ALLOW_PRIVATE_ADDRESS is set. Names are checked again, resolved, at each delivery.
 */
import { isIP } from 'node:net';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';

export const WEBHOOK_URL_MAX = 2000;

/** Loopback, private, link-local, unspecified and unique-local addresses and local names. */
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

/** The URL as it will be called, or 400 invalid_request naming what is wrong. */
export function checkWebhookUrl(ctx: Context, input: unknown): string {
  const refuse = (why: string): never => {
    throw new AppError('invalid_request', `url ${why}`, { field: 'url' });
  };
  if (typeof input !== 'string' || input.length === 0 || input.length > WEBHOOK_URL_MAX) return refuse(`must be an http(s) URL of at most ${WEBHOOK_URL_MAX} characters`);
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return refuse('must be an http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return refuse('must be an http(s) URL');
  if (url.username || url.password) return refuse('must not contain credentials');
  if (!ctx.config.allowPrivateAddress && isPrivateAddress(url.hostname)) return refuse('points at a private address, which this instance does not call');
  url.hash = '';
  return url.href;
}
