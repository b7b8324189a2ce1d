/**
 * Where webhooks may point: http(s) URLs without credentials, and not at an address that is not
 * globally reachable (the instance must not be a way into its own network) unless
 * FARTHING_ALLOW_PRIVATE_ADDRESS is set. An address in the URL is refused here; a name is
 * judged by what it resolves to at each delivery, when the connection is made (src/net/outbound.ts).
 */

import { isIP } from 'node:net';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { addressRefusal } from '../net/addresses.ts';

export const WEBHOOK_URL_MAX = 2000;

/** The URL as it will be called, or 400 invalid_request naming what is wrong. */
export function checkWebhookUrl(ctx: Context, input: unknown): string {
  const refuse = (why: string): never => {
    throw new AppError('invalid_request', `url ${why}`, { field: 'url' });
  };
  if (typeof input !== 'string' || input.length === 0 || input.length > WEBHOOK_URL_MAX)
    return refuse(`must be an http(s) URL of at most ${WEBHOOK_URL_MAX} characters`);
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    return refuse('must be an http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return refuse('must be an http(s) URL');
  if (url.username || url.password) return refuse('must not contain credentials');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const local = host === 'localhost' || host.endsWith('.localhost');
  if (!ctx.config.allowPrivateAddress && (local || (isIP(host) && addressRefusal(host) !== null))) {
    return refuse('points at a private address, which this instance does not call');
  }
  url.hash = '';
  return url.href;
}
