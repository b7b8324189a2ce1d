/**
 * Bearer tokens and browser sessions. The secret is 32 random bytes shown once; only its
 * SHA-256 is stored, so a leaked database does not leak working tokens.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Context, Caller } from '../context.ts';
import { AppError } from '../core/errors.ts';

export function newSecret(prefix: string): string {
  return `${prefix}_${randomBytes(32).toString('base64url')}`;
}

function hashSecret(secret: string): Buffer {
  return createHash('sha256').update(secret).digest();
}

export async function issueToken(ctx: Context, memberId: bigint, kind: 'api' | 'session', ttlMs?: number): Promise<string> {
  const secret = newSecret(kind === 'api' ? 'fth' : 'fts');
  const now = ctx.clock.now();
  await ctx.db
    .insertInto('tokens')
    .values({
      member_id: memberId,
      secret_hash: hashSecret(secret),
      kind,
      created_at: now,
      expires_at: ttlMs ? new Date(now.getTime() + ttlMs) : null,
      revoked_at: null,
    })
    .execute();
  return secret;
}

/** The member a token belongs to, or `unauthorized`. */
export async function authenticateToken(ctx: Context, secret: string, kind: 'api' | 'session'): Promise<Caller> {
  if (secret.length > 200) throw new AppError('unauthorized', 'the token is not valid');
  const row = await ctx.db
    .selectFrom('tokens')
    .innerJoin('members', 'members.id', 'tokens.member_id')
    .innerJoin('accounts', 'accounts.member_id', 'members.id')
    .select(['members.id', 'members.username', 'members.role', 'accounts.id as wallet_id', 'tokens.expires_at', 'tokens.revoked_at'])
    .where('tokens.secret_hash', '=', hashSecret(secret))
    .where('tokens.kind', '=', kind)
    .executeTakeFirst();
  if (!row || row.revoked_at || (row.expires_at && row.expires_at <= ctx.clock.now())) {
    throw new AppError('unauthorized', 'the token is not valid, expired or revoked');
  }
  return { id: row.id, username: row.username, role: row.role, walletId: row.wallet_id };
}

export async function revokeToken(ctx: Context, secret: string): Promise<void> {
  await ctx.db.updateTable('tokens').set({ revoked_at: ctx.clock.now() }).where('secret_hash', '=', hashSecret(secret)).execute();
}
