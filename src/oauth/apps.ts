/**
 * Apps (OAuth clients) register themselves as Mastodon clients do: POST /api/v1/apps with a name,
 * redirect URIs and scopes answers a client_id and a client_secret. The secret is shown once and
 * only its SHA-256 is stored (as for tokens); a client proves it with the secret, compared in
 * constant time.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { hashSecret, newSecret } from '../members/tokens.ts';
import { OAuthError } from './errors.ts';
import { parseScopes, type Scope } from './scopes.ts';

/** Out of band (Mastodon and older OAuth clients): the code is shown to the member to copy. */
export const OOB_REDIRECT = 'urn:ietf:wg:oauth:2.0:oob';

const MAX_REDIRECT_URIS = 10;
/** Schemes that would run or read something in the member's browser instead of reaching an app. */
const REFUSED_SCHEMES = new Set(['javascript:', 'data:', 'vbscript:', 'file:', 'blob:', 'about:', 'filesystem:']);

export interface OAuthApp {
  id: bigint;
  clientId: string;
  name: string;
  website: string | null;
  redirectUris: string[];
  scopes: Scope[];
}

export interface RegisteredApp {
  id: string;
  name: string;
  website: string | null;
  redirect_uri: string;
  redirect_uris: string[];
  client_id: string;
  client_secret: string;
  scopes: Scope[];
}

function text(value: unknown, field: string, max: number, required: boolean): string | null {
  if (value === undefined || value === null || value === '') {
    if (required) throw new AppError('invalid_request', `${field} is required`, { field });
    return null;
  }
  if (typeof value !== 'string') throw new AppError('invalid_request', `${field} must be a string`, { field });
  const trimmed = value.trim();
  if (trimmed.length > max) throw new AppError('invalid_request', `${field} is longer than ${max} characters`, { field });
  if (required && trimmed === '') throw new AppError('invalid_request', `${field} is required`, { field });
  return trimmed === '' ? null : trimmed;
}

/** Absolute, no fragment (RFC 6749 3.1.2), and not a scheme that runs in the browser. */
export function checkRedirectUri(uri: string): string {
  if (uri === OOB_REDIRECT) return uri;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new AppError('invalid_request', `redirect_uris: '${uri.slice(0, 100)}' is not an absolute URI`, { field: 'redirect_uris' });
  }
  if (uri.includes('#')) throw new AppError('invalid_request', 'redirect_uris: a redirect URI must not have a fragment', { field: 'redirect_uris' });
  if (REFUSED_SCHEMES.has(url.protocol))
    throw new AppError('invalid_request', `redirect_uris: the scheme ${url.protocol} is not allowed`, { field: 'redirect_uris' });
  if ((url.protocol === 'http:' || url.protocol === 'https:') && !url.hostname) {
    throw new AppError('invalid_request', 'redirect_uris: an http(s) redirect URI needs a host', { field: 'redirect_uris' });
  }
  return uri;
}

/** Mastodon's fields; redirect_uris may be one string (URIs separated by spaces or newlines) or a list. */
export async function registerApp(ctx: Context, input: Record<string, unknown>): Promise<RegisteredApp> {
  const name = text(input.client_name, 'client_name', 100, true) as string;
  const website = text(input.website, 'website', 2000, false);
  if (website !== null && !/^https?:\/\/[^\s]+$/i.test(website)) throw new AppError('invalid_request', 'website must be an http(s) URL', { field: 'website' });
  const rawUris = Array.isArray(input.redirect_uris) ? input.redirect_uris : [input.redirect_uris];
  const uris: string[] = [];
  for (const raw of rawUris) {
    const value = text(raw, 'redirect_uris', 20_000, true) as string;
    for (const uri of value.split(/\s+/).filter(Boolean)) if (!uris.includes(uri)) uris.push(checkRedirectUri(uri));
  }
  if (uris.length === 0) throw new AppError('invalid_request', 'redirect_uris is required', { field: 'redirect_uris' });
  if (uris.length > MAX_REDIRECT_URIS) throw new AppError('invalid_request', `at most ${MAX_REDIRECT_URIS} redirect URIs`, { field: 'redirect_uris' });
  if (uris.some((u) => u.length > 2000))
    throw new AppError('invalid_request', 'redirect_uris: a URI is longer than 2000 characters', { field: 'redirect_uris' });
  // Mastodon's default scope is read.
  const scopes = parseScopes(input.scopes ?? input.scope, ['read']);

  const clientId = randomBytes(24).toString('base64url');
  const clientSecret = newSecret('fcs');
  const row = await ctx.db
    .insertInto('oauth_apps')
    .values({
      client_id: clientId,
      client_secret_hash: hashSecret(clientSecret),
      name,
      website,
      redirect_uris: uris.join('\n'),
      scopes: scopes.join(' '),
      created_at: ctx.clock.now(),
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return {
    id: String(row.id),
    name,
    website,
    redirect_uri: uris.join('\n'),
    redirect_uris: uris,
    client_id: clientId,
    client_secret: clientSecret,
    scopes,
  };
}

function toApp(row: { id: bigint; client_id: string; name: string; website: string | null; redirect_uris: string; scopes: string }): OAuthApp {
  return {
    id: row.id,
    clientId: row.client_id,
    name: row.name,
    website: row.website,
    redirectUris: row.redirect_uris.split('\n'),
    scopes: row.scopes.split(' ').filter(Boolean) as Scope[],
  };
}

export async function findApp(ctx: Context, clientId: unknown): Promise<OAuthApp | undefined> {
  if (typeof clientId !== 'string' || clientId.length === 0 || clientId.length > 100) return undefined;
  const row = await ctx.db
    .selectFrom('oauth_apps')
    .select(['id', 'client_id', 'name', 'website', 'redirect_uris', 'scopes'])
    .where('client_id', '=', clientId)
    .executeTakeFirst();
  return row ? toApp(row) : undefined;
}

/** The app whose id and secret these are, or `invalid_client` (the same whichever is wrong). */
export async function authenticateClient(ctx: Context, clientId: unknown, clientSecret: unknown): Promise<OAuthApp> {
  const refused = new OAuthError('invalid_client', 'the client_id or the client_secret is wrong');
  if (typeof clientId !== 'string' || typeof clientSecret !== 'string' || clientId.length > 100 || clientSecret.length > 200) throw refused;
  const row = await ctx.db
    .selectFrom('oauth_apps')
    .select(['id', 'client_id', 'name', 'website', 'redirect_uris', 'scopes', 'client_secret_hash'])
    .where('client_id', '=', clientId)
    .executeTakeFirst();
  const given = hashSecret(clientSecret);
  const stored = row ? Buffer.from(row.client_secret_hash) : Buffer.alloc(given.length);
  if (!row || stored.length !== given.length || !timingSafeEqual(stored, given)) throw refused;
  return toApp(row);
}
