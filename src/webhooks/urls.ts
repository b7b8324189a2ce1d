/**
 * Where webhooks may point: http(s) URLs without credentials, and not at loopback, private or
 * link-local addresses (the instance must not be a way into its own network) unless
 * FARTHING_ALLOW_PRIVATE_ADDRESS is set. Names are checked again, resolved, at each delivery.
 */
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { isPrivateAddress } from '../public-address.ts';

export const WEBHOOK_URL_MAX = 2000;

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
