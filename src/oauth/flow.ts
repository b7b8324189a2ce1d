/**
 * The authorization code flow with PKCE (RFC 6749 4.1, RFC 7636 with S256 only): the checks of an
 * authorization request, the code a member's approval makes, and its exchange for a token.
 *
 * A code is 32 random bytes; only its SHA-256 is stored. It lives ten minutes, is bound to the
 * app, the redirect URI and the PKCE challenge, and is used once: the exchange takes the code's
 * row FOR UPDATE and marks it used whatever the outcome, so a code cannot be tried twice; a
 * second exchange of a code that already made a token revokes that token (RFC 6749 4.1.2).
 * The verifier's SHA-256 is compared with the challenge in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Caller, Context } from '../context.ts';
import { isAppError } from '../core/errors.ts';
import { forgetTokens, hashSecret, issueTokenRow } from '../members/tokens.ts';
import { findApp, type OAuthApp } from './apps.ts';
import { OAuthError, UnsafeRedirectError } from './errors.ts';
import { parseScopes, type Scope, scopesForRole } from './scopes.ts';

export const CODE_TTL_MS = 10 * 60 * 1000;

/** A PKCE verifier: 43 to 128 characters of [A-Za-z0-9-._~] (RFC 7636 4.1). */
const VERIFIER = /^[A-Za-z0-9\-._~]{43,128}$/;
/** An S256 challenge: the base64url of a SHA-256, 43 characters. */
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;

export interface AuthorizationRequest {
  app: OAuthApp;
  redirectUri: string;
  /** What the app asked for (its registered scopes when it named none). */
  scopes: Scope[];
  state: string | undefined;
  codeChallenge: string;
}

function one(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/**
 * Checks the query of GET /oauth/authorize (or the consent form that repeats it). Errors that
 * cannot be sent back safely (unknown client, unregistered redirect URI) are UnsafeRedirectError;
 * the rest are OAuthError to send to the redirect URI along with `redirect`.
 */
export async function checkAuthorizationRequest(
  ctx: Context,
  query: Record<string, unknown>,
): Promise<{ request: AuthorizationRequest } | { error: OAuthError; redirectUri: string; state: string | undefined }> {
  const app = await findApp(ctx, query.client_id);
  if (!app) throw new UnsafeRedirectError('There is no app with this client_id on this instance.');
  const asked = one(query.redirect_uri);
  let redirectUri: string;
  if (asked === undefined || asked === '') {
    if (app.redirectUris.length !== 1) throw new UnsafeRedirectError('The app registered several redirect URIs and named none of them.');
    redirectUri = app.redirectUris[0] as string;
  } else if (app.redirectUris.includes(asked)) {
    redirectUri = asked;
  } else {
    throw new UnsafeRedirectError('The redirect_uri is not one that this app registered.');
  }
  const state = one(query.state);
  const fail = (error: OAuthError) => ({ error, redirectUri, state: state && state.length <= 1000 ? state : undefined });
  if (state !== undefined && state.length > 1000) return fail(new OAuthError('invalid_request', 'state is longer than 1000 characters'));
  if (query.response_type !== 'code') return fail(new OAuthError('unsupported_response_type', 'only response_type=code is supported'));
  const method = one(query.code_challenge_method);
  const challenge = one(query.code_challenge);
  if (!challenge) return fail(new OAuthError('invalid_request', 'code_challenge is required (PKCE with S256)'));
  if (method !== 'S256') return fail(new OAuthError('invalid_request', 'code_challenge_method must be S256 (plain is not supported)'));
  if (!CHALLENGE.test(challenge))
    return fail(new OAuthError('invalid_request', 'code_challenge must be the base64url SHA-256 of the verifier (43 characters)'));
  let scopes: Scope[];
  try {
    scopes = parseScopes(query.scope, app.scopes);
  } catch (error) {
    if (!isAppError(error)) throw error;
    return fail(new OAuthError('invalid_scope', error.message));
  }
  const beyond = scopes.find((s) => !app.scopes.includes(s));
  if (beyond) return fail(new OAuthError('invalid_scope', `the app did not register the scope '${beyond}'`));
  return { request: { app, redirectUri, scopes, state, codeChallenge: challenge } };
}

/** The scopes a member can grant: `admin` only to admins. */
export function grantableScopes(request: AuthorizationRequest, member: Caller): Scope[] {
  const allowed = scopesForRole(member.role);
  return request.scopes.filter((s) => allowed.includes(s));
}

/** Where the app's redirect URI sends the member, with the parameters added to its query. */
export function redirectTo(redirectUri: string, params: Record<string, string | undefined>): string {
  const url = new URL(redirectUri);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
  return url.toString();
}

/** The member approved: a code for these scopes, valid ten minutes. */
export async function issueCode(ctx: Context, member: Caller, request: AuthorizationRequest, scopes: readonly Scope[]): Promise<string> {
  const code = randomBytes(32).toString('base64url');
  const now = ctx.clock.now();
  await ctx.db
    .insertInto('oauth_codes')
    .values({
      code_hash: hashSecret(code),
      app_id: request.app.id,
      member_id: member.id,
      redirect_uri: request.redirectUri,
      scopes: scopes.join(' '),
      code_challenge: request.codeChallenge,
      created_at: now,
      expires_at: new Date(now.getTime() + CODE_TTL_MS),
      used_at: null,
      token_id: null,
    })
    .execute();
  return code;
}

export interface TokenAnswer {
  access_token: string;
  token_type: 'Bearer';
  scope: string;
  created_at: number;
}

export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** grant_type=authorization_code for an authenticated client. */
export async function exchangeCode(
  ctx: Context,
  app: OAuthApp,
  params: { code: unknown; redirect_uri: unknown; code_verifier: unknown },
): Promise<TokenAnswer> {
  const code = one(params.code);
  if (!code || code.length > 200) throw new OAuthError('invalid_request', 'code is required');
  const verifier = one(params.code_verifier);
  if (!verifier) throw new OAuthError('invalid_request', 'code_verifier is required (PKCE)');
  const now = ctx.clock.now();
  // The transaction commits the code's use even when the exchange is refused; the refusal is
  // thrown after it.
  const outcome = await ctx.db.transaction().execute(async (trx): Promise<{ answer: TokenAnswer } | { error: OAuthError; revoked?: Uint8Array[] }> => {
    const row = await trx.selectFrom('oauth_codes').selectAll().where('code_hash', '=', hashSecret(code)).forUpdate().executeTakeFirst();
    const invalid = (why: string) => ({ error: new OAuthError('invalid_grant', why) });
    if (!row || row.app_id !== app.id) return invalid('the code is not valid for this client');
    if (row.used_at) {
      const revoked =
        row.token_id === null
          ? []
          : await trx
              .updateTable('tokens')
              .set({ revoked_at: now })
              .where('id', '=', row.token_id)
              .where('revoked_at', 'is', null)
              .returning('secret_hash')
              .execute();
      return { ...invalid('the code was already used; the token it made is revoked'), revoked: revoked.map((r) => r.secret_hash) };
    }
    await trx.updateTable('oauth_codes').set({ used_at: now }).where('id', '=', row.id).execute();
    if (row.expires_at <= now) return invalid('the code has expired (codes live ten minutes)');
    if (params.redirect_uri !== row.redirect_uri) return invalid('redirect_uri differs from the one the code was issued for');
    if (!VERIFIER.test(verifier) || !sameText(pkceChallenge(verifier), row.code_challenge))
      return invalid('the code_verifier does not match the code_challenge');
    const scopes = row.scopes.split(' ').filter(Boolean);
    const token = await issueTokenRow({ ...ctx, db: trx }, row.member_id, 'api', undefined, { scopes, appId: app.id });
    await trx.updateTable('oauth_codes').set({ token_id: token.id }).where('id', '=', row.id).execute();
    return { answer: { access_token: token.secret, token_type: 'Bearer', scope: scopes.join(' '), created_at: Math.floor(now.getTime() / 1000) } };
  });
  if ('error' in outcome) {
    if (outcome.revoked) forgetTokens(ctx, outcome.revoked);
    throw outcome.error;
  }
  return outcome.answer;
}

/** RFC 7009: the app's own token is revoked; any other token (or none) changes nothing. */
export async function revokeAppToken(ctx: Context, app: OAuthApp, token: unknown): Promise<void> {
  if (typeof token !== 'string' || token.length === 0) throw new OAuthError('invalid_request', 'token is required');
  if (token.length > 200) return;
  const revoked = await ctx.db
    .updateTable('tokens')
    .set({ revoked_at: ctx.clock.now() })
    .where('secret_hash', '=', hashSecret(token))
    .where('app_id', '=', app.id)
    .where('revoked_at', 'is', null)
    .returning('secret_hash')
    .execute();
  forgetTokens(
    ctx,
    revoked.map((r) => r.secret_hash),
  );
}
