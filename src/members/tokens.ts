/**
 * Bearer tokens and browser sessions. The secret is 32 random bytes shown once; only its
 * SHA-256 is stored, so a leaked database does not leak working tokens.
 */
import { createHash, hash as oneShotHash, randomBytes } from 'node:crypto';
import type { Caller, Context } from '../context.ts';
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
export async function issueTokenRow(
  ctx: Context,
  memberId: bigint,
  kind: 'api' | 'session',
  ttlMs?: number,
  grant?: TokenGrant,
): Promise<{ secret: string; id: bigint }> {
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
 * that long (revoked by this process: at once). Expiry (absolute and idle) is checked on every use.
 *
 * Last use: a token made with a password (or a session) ends after FARTHING_TOKEN_IDLE_HOURS
 * unused. `last_used_at` is written when the row is read and the stored value is a minute old or
 * more (or was never written): at most once a minute per token, never on a cached click.
 */
const CACHE_MS = 10_000;
const CACHE_MAX = 10_000;
/** How stale `last_used_at` may be: it is written at most this often per token. */
export const LAST_USED_STEP_MS = 60_000;
interface CachedCaller {
  caller: Caller;
  /** The earliest of its expiry and its idle end. */
  endsAt: Date | null;
  /** The `last_used_at` the database holds (or created_at); a minute later the row is read again. */
  lastUsedAt: Date;
  cachedUntil: number;
}
const verified = new WeakMap<object, Map<string, CachedCaller>>();

function cacheOf(ctx: Context): Map<string, CachedCaller> {
  let cache = verified.get(ctx.db);
  if (!cache) verified.set(ctx.db, (cache = new Map()));
  return cache;
}

/** When a token ends: its expiry, or its idle end for a token without an app. Null: never. */
export function tokenEndsAt(ctx: Context, row: { expires_at: Date | null; app_id: bigint | null; last_used_at: Date | null; created_at: Date }): Date | null {
  const idleEnd = row.app_id === null ? new Date((row.last_used_at ?? row.created_at).getTime() + ctx.config.tokenIdleMs) : null;
  if (!idleEnd) return row.expires_at;
  return row.expires_at && row.expires_at < idleEnd ? row.expires_at : idleEnd;
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
  const now = ctx.clock.now();
  if (
    cached &&
    cached.cachedUntil > performance.now() &&
    !(cached.endsAt && cached.endsAt <= now) &&
    now.getTime() - cached.lastUsedAt.getTime() < LAST_USED_STEP_MS
  ) {
    return cached.caller;
  }
  const row = await ctx.db
    .selectFrom('tokens')
    .innerJoin('members', 'members.id', 'tokens.member_id')
    .innerJoin('accounts', 'accounts.member_id', 'members.id')
    .select([
      'members.id',
      'members.username',
      'members.role',
      'accounts.id as wallet_id',
      'tokens.id as token_id',
      'tokens.expires_at',
      'tokens.revoked_at',
      'tokens.scopes',
      'tokens.app_id',
      'tokens.created_at',
      'tokens.last_used_at',
    ])
    .where('tokens.secret_hash', '=', Buffer.from(tokenHash, 'base64'))
    .where('tokens.kind', '=', kind)
    .executeTakeFirst();
  const endsAt = row ? tokenEndsAt(ctx, row) : null;
  if (!row || row.revoked_at || (endsAt && endsAt <= now)) {
    cache.delete(key);
    throw new AppError('unauthorized', 'the token is not valid, expired or revoked');
  }
  let lastUsedAt = row.last_used_at ?? row.created_at;
  if (row.last_used_at === null || now.getTime() - row.last_used_at.getTime() >= LAST_USED_STEP_MS) {
    await ctx.db.updateTable('tokens').set({ last_used_at: now }).where('id', '=', row.token_id).execute();
    lastUsedAt = now;
  }
  // A token's scopes never exceed the role's now (an admin who is no longer one loses `admin`).
  const roleScopes = scopesForRole(row.role);
  const scopes = row.scopes === null ? roleScopes : row.scopes.split(' ').filter((s) => (roleScopes as readonly string[]).includes(s));
  const caller: Caller = {
    id: row.id,
    username: row.username,
    role: row.role,
    walletId: row.wallet_id,
    scopes,
    tokenHash,
    tokenId: row.token_id,
    viaApp: row.app_id !== null,
  };
  if (cache.size >= CACHE_MAX) cache.clear();
  cache.set(key, { caller, endsAt: tokenEndsAt(ctx, { ...row, last_used_at: lastUsedAt }), lastUsedAt, cachedUntil: performance.now() + CACHE_MS });
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
