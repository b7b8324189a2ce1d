/**
 * A member's sessions and tokens, and their password: list what can act as them (browser
 * sessions, tokens made with the password, tokens of authorized apps) and revoke any; change the
 * password (the current one required, counted by the sign-in limits; a wrong one is 403 forbidden,
 * not 401, which would tell a client its token is bad), which revokes every other
 * session, token and unused OAuth code; and an admin's reset of a member's password (there is no
 * email to send a link to), which revokes them all.
 *
 * Revoking drops the tokens from this process's cache at once (src/members/tokens.ts); another
 * process of the instance stops accepting them within its cache's ten seconds.
 */
import { z } from 'zod';
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { rule } from '../core/input.ts';
import type { Executor } from '../ledger/accounts.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { checkPassword, PASSWORD_MAX, PASSWORD_MIN } from './rules.ts';
import { requireMember } from './service.ts';
import { beginPasswordAttempt } from './sign-in-limits.ts';
import { forgetTokens, tokenEndsAt } from './tokens.ts';

export interface TokenItem {
  id: string;
  kind: 'api' | 'session';
  /** The OAuth app's name, for a token issued to an app. */
  app?: string;
  created_at: string;
  /** Null until first used (written at most once a minute). */
  last_used_at: string | null;
  /** When it ends unless used again (idle) or for good; null: only when revoked. */
  expires_at: string | null;
  /** The token (or session) this very request came with. */
  current?: true;
}

/** The member's live sessions and tokens, newest first. */
export async function listTokens(ctx: Context, caller: Caller): Promise<TokenItem[]> {
  const rows = await ctx.db
    .selectFrom('tokens')
    .leftJoin('oauth_apps', 'oauth_apps.id', 'tokens.app_id')
    .select(['tokens.id', 'tokens.kind', 'tokens.created_at', 'tokens.last_used_at', 'tokens.expires_at', 'tokens.app_id', 'oauth_apps.name as app_name'])
    .where('tokens.member_id', '=', caller.id)
    .where('tokens.revoked_at', 'is', null)
    .orderBy('tokens.id', 'desc')
    .limit(1000)
    .execute();
  const now = ctx.clock.now();
  const items: TokenItem[] = [];
  for (const row of rows) {
    const endsAt = tokenEndsAt(ctx, row);
    if (endsAt && endsAt <= now) continue;
    items.push({
      id: row.id.toString(),
      kind: row.kind,
      ...(row.app_name !== null ? { app: row.app_name } : {}),
      created_at: row.created_at.toISOString(),
      last_used_at: row.last_used_at?.toISOString() ?? null,
      expires_at: endsAt?.toISOString() ?? null,
      ...(caller.tokenId === row.id ? { current: true as const } : {}),
    });
  }
  return items;
}

function tokenId(value: unknown): bigint {
  if (typeof value !== 'string' || !/^[1-9][0-9]{0,17}$/.test(value)) throw new AppError('not_found', 'no such token', { field: 'id' });
  return BigInt(value);
}

/** Revokes one of the caller's sessions or tokens (the calling one included); not_found for anyone else's. */
export async function revokeTokenOf(ctx: Context, caller: Caller, id: unknown): Promise<void> {
  const rows = await ctx.db
    .updateTable('tokens')
    .set({ revoked_at: ctx.clock.now() })
    .where('id', '=', tokenId(id))
    .where('member_id', '=', caller.id)
    .where('revoked_at', 'is', null)
    .returning('secret_hash')
    .execute();
  if (rows.length === 0) throw new AppError('not_found', 'no such token: it is not yours, or it is revoked already', { field: 'id' });
  forgetTokens(
    ctx,
    rows.map((r) => r.secret_hash),
  );
}

/** Revokes every token of the member but `keep`, and every OAuth code not yet exchanged. */
async function revokeAllBut(ctx: Context, trx: Executor, memberId: bigint, keep: bigint | undefined): Promise<Uint8Array[]> {
  const now = ctx.clock.now();
  let update = trx.updateTable('tokens').set({ revoked_at: now }).where('member_id', '=', memberId).where('revoked_at', 'is', null);
  if (keep !== undefined) update = update.where('id', '!=', keep);
  const rows = await update.returning('secret_hash').execute();
  await trx.updateTable('oauth_codes').set({ used_at: now }).where('member_id', '=', memberId).where('used_at', 'is', null).execute();
  return rows.map((r) => r.secret_hash);
}

/** PUT /api/v1/me/password and the password page's form: `new` is PASSWORD_MIN to PASSWORD_MAX characters. */
export const PasswordChangeInput = z.object({
  current: z.string(),
  new: rule(z.string().meta({ minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX }), (value) => checkPasswordField(value, 'new')),
});
export type PasswordChangeInput = z.output<typeof PasswordChangeInput>;

/**
 * The member changes their own password: `current` must be right (a password attempt like a
 * sign-in, limited the same way); every other session and token is revoked, the calling one kept.
 * Apps cannot: an OAuth token is refused whatever its scopes.
 */
export async function changePassword(ctx: Context, caller: Caller, input: PasswordChangeInput, address: string | undefined): Promise<{ revoked: number }> {
  if (caller.viaApp) throw new AppError('forbidden', 'an app cannot change the password: use a session or a token made with the password');
  const next = input.new;
  const current = input.current.slice(0, 256);
  const row = await ctx.db.selectFrom('members').select(['id', 'password_hash']).where('id', '=', caller.id).executeTakeFirstOrThrow();
  const attempt = beginPasswordAttempt(ctx, address, row.id);
  if (!(await verifyPassword(row.password_hash, current, ctx.config.fastPasswordHashing)))
    throw new AppError('forbidden', 'the current password is wrong', { field: 'current' });
  attempt.succeeded();
  const hash = await hashPassword(next, ctx.config.fastPasswordHashing);
  const revoked = await ctx.db.transaction().execute(async (trx) => {
    await trx.updateTable('members').set({ password_hash: hash }).where('id', '=', caller.id).execute();
    return revokeAllBut(ctx, trx, caller.id, caller.tokenId);
  });
  forgetTokens(ctx, revoked);
  return { revoked: revoked.length };
}

/** The admin's set-a-password form and `farthing password`: the member (looked up by setPasswordByAdmin) and the new password. */
export const AdminPasswordInput = z.object({
  username: z.string(),
  password: rule(z.string(), (value) => checkPasswordField(value, 'password')),
});
export type AdminPasswordInput = z.output<typeof AdminPasswordInput>;

/** An admin (or the CLI) sets a member's password; every session and token of theirs is revoked. */
export async function setPasswordByAdmin(ctx: Context, input: AdminPasswordInput): Promise<{ username: string; revoked: number }> {
  const member = await requireMember(ctx, input.username);
  const next = input.password;
  const hash = await hashPassword(next, ctx.config.fastPasswordHashing);
  const revoked = await ctx.db.transaction().execute(async (trx) => {
    await trx.updateTable('members').set({ password_hash: hash }).where('id', '=', member.id).execute();
    return revokeAllBut(ctx, trx, member.id, undefined);
  });
  forgetTokens(ctx, revoked);
  return { username: member.username, revoked: revoked.length };
}

function checkPasswordField(value: unknown, field: string): string {
  try {
    return checkPassword(value);
  } catch (error) {
    if (error instanceof AppError) throw new AppError('invalid_request', error.message.replace(/^password/, field), { field });
    throw error;
  }
}
