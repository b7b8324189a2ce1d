/**
 * Browser sessions: the secret of a 'session' token (src/members/tokens.ts) in an HttpOnly,
 * SameSite=Lax cookie, Secure and `__Host-` prefixed when the instance is served over https (the
 * prefix stops a sibling subdomain from planting its own cookie). Only the token's hash is stored,
 * so signing out revokes it for good.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Caller, Context } from '../context.ts';
import { AppError, isAppError } from '../core/errors.ts';
import { authenticateToken, issueToken, revokeToken } from '../members/tokens.ts';

export const SESSION_TTL_MS = 30 * 24 * 60 * 60 * 1000;

export function isHttps(ctx: Context): boolean {
  return ctx.config.origin.startsWith('https:');
}

/** presession: a visitor's random id before sign-in, which the sign-in and sign-up forms' CSRF tokens are bound to. */
export function cookieNames(ctx: Context): { session: string; csrf: string; presession: string } {
  const prefix = isHttps(ctx) ? '__Host-' : '';
  return { session: `${prefix}farthing_session`, csrf: `${prefix}farthing_csrf`, presession: `${prefix}farthing_presession` };
}

export function cookieOptions(ctx: Context) {
  return { path: '/', httpOnly: true, sameSite: 'lax' as const, secure: isHttps(ctx) };
}

/** Thrown by pages that need a member; the page error handler turns it into a redirect. */
export class SignInRequired extends Error {
  readonly next: string;
  constructor(next: string) {
    super('sign in first');
    this.name = 'SignInRequired';
    this.next = next;
  }
}

const resolved = new WeakMap<FastifyRequest, Promise<Caller | undefined>>();

/** The signed-in member, or undefined for a visitor (a forged, expired or revoked cookie included). */
export function currentMember(ctx: Context, request: FastifyRequest): Promise<Caller | undefined> {
  let found = resolved.get(request);
  if (!found) {
    const secret = request.cookies[cookieNames(ctx).session];
    found = secret
      ? authenticateToken(ctx, secret, 'session').catch((error: unknown) => {
          if (isAppError(error) && error.code === 'unauthorized') return undefined;
          throw error;
        })
      : Promise.resolve(undefined);
    resolved.set(request, found);
  }
  return found;
}

/**
 * The signed-in member, or a redirect to the sign-in page that comes back to `next` (by default
 * this page for a GET; a form's own page cannot be re-posted, so it names where to go).
 */
export async function requireMemberPage(ctx: Context, request: FastifyRequest, next?: string): Promise<Caller> {
  const caller = await currentMember(ctx, request);
  if (caller) return caller;
  throw new SignInRequired(next ?? (request.method === 'GET' ? request.url : '/dashboard'));
}

export async function requireAdminPage(ctx: Context, request: FastifyRequest): Promise<Caller> {
  const caller = await requireMemberPage(ctx, request);
  if (caller.role !== 'admin') throw new AppError('forbidden', 'this page is for the instance admins');
  return caller;
}

/**
 * Where to go after signing in: a path on this site only, so `next` cannot send anyone elsewhere;
 * printable ASCII only (a URL's own alphabet), since it becomes a Location header.
 */
export function safeNext(value: unknown, fallback = '/dashboard'): string {
  if (typeof value !== 'string' || value.length > 2000) return fallback;
  return /^\/(?![/\\])[\x21-\x5b\x5d-\x7e]*$/.test(value) ? value : fallback;
}

export async function startSession(ctx: Context, reply: FastifyReply, memberId: bigint): Promise<void> {
  const secret = await issueToken(ctx, memberId, 'session', SESSION_TTL_MS);
  const names = cookieNames(ctx);
  reply.setCookie(names.session, secret, { ...cookieOptions(ctx), maxAge: SESSION_TTL_MS / 1000 });
  // A fresh CSRF secret with every session: one known before sign-in is worth nothing after it
  // (and the tokens are bound to the session from now on, not to the pre-session).
  reply.clearCookie(names.csrf, cookieOptions(ctx));
  reply.clearCookie(names.presession, cookieOptions(ctx));
}

export async function endSession(ctx: Context, request: FastifyRequest, reply: FastifyReply): Promise<void> {
  const names = cookieNames(ctx);
  const secret = request.cookies[names.session];
  if (secret && secret.length <= 200) await revokeToken(ctx, secret);
  reply.clearCookie(names.session, cookieOptions(ctx));
  reply.clearCookie(names.csrf, cookieOptions(ctx));
  reply.clearCookie(names.presession, cookieOptions(ctx));
}
