/**
 * Bearer tokens and browser sessions. The secret is 32 random bytes shown once; only its
 * SHA-256 is stored, so a leaked database does not leak working tokens.
 */
import { createHash, hash as oneShotHash, randomBytes } from 'node:crypto';
import type { Context, Caller } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { scopesForRole } from '../oauth/scopes.ts';

export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

export function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

/** What an OAuth token carries (src/oauth/); without it a token has every scope of the member's role. */
export interface TokenGrant {
  scopes: readonly string[];
  appId: bigint;
}

export async function issueToken(ctx: Context, memberId: bigint, kind: 'api' | 'session', ttlMs?: number, grant?: TokenGrant): Promise<string> {
  return (await issueTokenRow(ctx, memberId, kind, ttlMs, grant)).secret;
}

/** issueToken, also answering the row's id (an OAuth code remembers the token it made). */
export async function issueTokenRow(ctx: Context, memberId: bigint, kind: 'api' | 'session', ttlMs?: number, grant?: TokenGrant): Promise<{ secret: string; id: bigint }> {
  const secret = newSecret(kind === 'api' ? 'fth' : 'fts');
  const now = ctx.clock.now();
  const row = await ctx.db
    .insertInto('tokens')
    .values({
      member_id: memberId,
      secret_hash: hashSecret(secret),
      kind,
      created_at: now,
      expires_at: ttlMs ? new Date(now.getTime() + ttlMs) : null,
      revoked_at: null,
      scopes: grant ? grant.scopes.join(' ') : null,
      app_id: grant ? grant.appId : null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { secret, id: row.id };
}

/**
 * Recently verified tokens, per database, so that a burst of clicks costs one token lookup.
 * An entry lives CACHE_MS of real time: a token revoked by another process stops working within
 * that long (revoked by this process: at once). Expiry is checked on every use.
 */
const CACHE_MS = 10_000;
const CACHE_MAX = 10_000;
interface CachedCaller {
  caller: Caller;
  tokenExpiresAt: Date | null;
  cachedUntil: number;
}
const verified = new WeakMap<object, Map<string, CachedCaller>>();

function cacheOf(ctx: Context): Map<string, CachedCaller> {
  let cache = verified.get(ctx.db);
  if (!cache) verified.set(ctx.db, (cache = new Map()));
  return cache;
}

/** The member a token belongs to, or `unauthorized`. */
export async function authenticateToken(ctx: Context, secret: string, kind: 'api' | 'session'): Promise<Caller> {
  if (secret.length > 200) throw new AppError('unauthorized', 'the token is not valid');
  // In base64 straight from crypto.hash (no Hash object: a few times cheaper than hashSecret, and
  // this runs on every API call); the bytes are only needed to look the token up.
  const tokenHash = oneShotHash('sha256', secret, 'base64');
  const key = `${kind}:${tokenHash}`;
  const cache = cacheOf(ctx);
  const cached = cache.get(key);
  if (cached && cached.cachedUntil > performance.now() && !(cached.tokenExpiresAt && cached.tokenExpiresAt <= ctx.clock.now())) {
    return cached.caller;
  }
  const row = await ctx.db
    .selectFrom('tokens')
    .innerJoin('members', 'members.id', 'tokens.member_id')
    .innerJoin('accounts', 'accounts.member_id', 'members.id')
    .select(['members.id', 'members.username', 'members.role', 'accounts.id as wallet_id', 'tokens.expires_at', 'tokens.revoked_at', 'tokens.scopes'])
    .where('tokens.secret_hash', '=', Buffer.from(tokenHash, 'base64'))
    .where('tokens.kind', '=', kind)
    .executeTakeFirst();
  if (!row || row.revoked_at || (row.expires_at && row.expires_at <= ctx.clock.now())) {
    cache.delete(key);
    throw new AppError('unauthorized', 'the token is not valid, expired or revoked');
  }
  // A token's scopes never exceed the role's now (an admin who is no longer one loses `admin`).
  const roleScopes = scopesForRole(row.role);
  const scopes = row.scopes === null ? roleScopes : row.scopes.split(' ').filter((s) => (roleScopes as readonly string[]).includes(s));
  const caller: Caller = { id: row.id, username: row.username, role: row.role, walletId: row.wallet_id, scopes, tokenHash };
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(key, { caller, tokenExpiresAt: row.expires_at, cachedUntil: performance.now() + CACHE_MS });
  return caller;
}

/** Drops tokens revoked by hash (an app's tokens, say) from this process's cache at once. */
export function forgetTokens(ctx: Context, hashes: readonly Uint8Array[]): void {
  const cache = cacheOf(ctx);
  for (const hash of hashes) for (const kind of ['api', 'session']) cache.delete(`${kind}:${Buffer.from(hash).toString('base64')}`);
}

export async function revokeToken(ctx: Context, secret: string): Promise<void> {
  const hash = hashSecret(secret);
  await ctx.db.updateTable('tokens').set({ revoked_at: ctx.clock.now() }).where('secret_hash', '=', hash).execute();
  for (const kind of ['api', 'session']) cacheOf(ctx).delete(`${kind}:${hash.toString('base64')}`);
}
