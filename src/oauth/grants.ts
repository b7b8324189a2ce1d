/**
 * The apps a member has authorized (they hold a live token of the member's) and taking that back:
 * revoking an app revokes every token it holds for the member and every code not yet exchanged.
 */
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { forgetTokens } from '../members/tokens.ts';
import { SCOPES } from './scopes.ts';

export interface AuthorizedApp {
  id: string;
  name: string;
  website: string | null;
  scopes: string[];
  /** ISO 8601: when the member first authorized it (its oldest live token). */
  authorized_at: string;
}

export async function listAuthorizedApps(ctx: Context, memberId: bigint): Promise<AuthorizedApp[]> {
  const now = ctx.clock.now();
  const rows = await ctx.db
    .selectFrom('tokens')
    .innerJoin('oauth_apps', 'oauth_apps.id', 'tokens.app_id')
    .select(['oauth_apps.id', 'oauth_apps.name', 'oauth_apps.website', 'tokens.scopes', 'tokens.created_at'])
    .where('tokens.member_id', '=', memberId)
    .where('tokens.revoked_at', 'is', null)
    .where((eb) => eb.or([eb('tokens.expires_at', 'is', null), eb('tokens.expires_at', '>', now)]))
    .orderBy('tokens.created_at')
    .execute();
  const apps = new Map<bigint, AuthorizedApp>();
  for (const row of rows) {
    const app = apps.get(row.id) ?? { id: String(row.id), name: row.name, website: row.website, scopes: [], authorized_at: row.created_at.toISOString() };
    for (const s of (row.scopes ?? '').split(' ')) if (s && !app.scopes.includes(s)) app.scopes.push(s);
    apps.set(row.id, app);
  }
  for (const app of apps.values()) app.scopes.sort((a, b) => SCOPES.indexOf(a as never) - SCOPES.indexOf(b as never));
  return [...apps.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Revokes the app's tokens and codes for this member; `not_found` when it holds none. */
export async function revokeApp(ctx: Context, memberId: bigint, appId: unknown): Promise<void> {
  if (typeof appId !== 'string' || !/^[0-9]{1,18}$/.test(appId)) throw new AppError('not_found', 'no such app');
  const id = BigInt(appId);
  const now = ctx.clock.now();
  const revoked = await ctx.db.transaction().execute(async (trx) => {
    await trx
      .updateTable('oauth_codes')
      .set({ used_at: now })
      .where('member_id', '=', memberId)
      .where('app_id', '=', id)
      .where('used_at', 'is', null)
      .execute();
    return trx
      .updateTable('tokens')
      .set({ revoked_at: now })
      .where('member_id', '=', memberId)
      .where('app_id', '=', id)
      .where('revoked_at', 'is', null)
      .returning('secret_hash')
      .execute();
  });
  forgetTokens(
    ctx,
    revoked.map((r) => r.secret_hash),
  );
  if (revoked.length === 0) throw new AppError('not_found', 'this app holds no access to your account');
}
