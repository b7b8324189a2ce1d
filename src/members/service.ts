/**
 * Members: registration (open, invite-only or closed), sign-in, invites, the admin and the
 * charity account. A new member gets a wallet and the instance's minimum budget at once.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { parseInput, rule } from '../core/input.ts';
import { memberIri } from '../core/iris.ts';
import { periodOf } from '../core/period.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { getSetting, setSetting } from '../db/settings.ts';
import { ensureAccount, walletCode } from '../ledger/accounts.ts';
import { scopesForRole } from '../oauth/scopes.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { checkPassword, checkUsername, PASSWORD_MAX, PASSWORD_MIN, PASSWORD_RULE, USERNAME_PATTERN, USERNAME_RULE } from './rules.ts';
import { beginPasswordAttempt } from './sign-in-limits.ts';
import { issueToken } from './tokens.ts';

/**
 * POST /api/v1/accounts and the sign-up page's form. A refused username or password reads
 * "username must be …" on the page and in the CLI, "username: must be …" on the API (its words
 * before the rule was shared; rule()'s apiWords).
 */
export const SignUpInput = z.object({
  username: rule(z.string().meta({ pattern: USERNAME_PATTERN.source }), checkUsername, { apiWords: USERNAME_RULE }),
  password: rule(z.string().meta({ minLength: PASSWORD_MIN, maxLength: PASSWORD_MAX }), checkPassword, { apiWords: PASSWORD_RULE }),
  invite: z.string().max(200).optional(),
});
export type RegisterInput = z.output<typeof SignUpInput>;

/** POST /api/v1/tokens and the sign-in page's form: any strings; a wrong one is `unauthorized` like a wrong password. */
export const SignInInput = z.object({ username: z.string(), password: z.string() });
export type SignInInput = z.output<typeof SignInInput>;

export interface RegisterOptions {
  role?: 'member' | 'admin';
  /** Admins made by FARTHING_ADMIN or the CLI are not subject to the registration mode. */
  bypassRegistration?: boolean;
}

export interface RegisteredMember {
  id: bigint;
  username: string;
  actor: string;
}

export function actorIri(ctx: Context, username: string): string {
  return memberIri(ctx.config.origin, username);
}

export async function registerMember(ctx: Context, input: RegisterInput, options: RegisterOptions = {}): Promise<RegisteredMember> {
  const { username, password } = input;
  const mode = options.bypassRegistration ? 'open' : ctx.config.registration;
  if (mode === 'closed') throw new AppError('registration_closed', 'this instance is not taking new members');
  let invite: string | undefined;
  if (mode === 'invite') {
    if (input.invite === undefined || input.invite.length === 0) {
      throw new AppError('invite_required', 'this instance is invite-only: an invite code is required', { field: 'invite' });
    }
    invite = input.invite.slice(0, 100);
  }
  const passwordHash = await hashPassword(password, ctx.config.fastPasswordHashing);
  const now = ctx.clock.now();
  try {
    return await ctx.db.transaction().execute(async (trx) => {
      // The invite is checked (and locked) first, so a stranger learns nothing about usernames.
      if (invite !== undefined) {
        const open = await trx.selectFrom('invites').select('code').where('code', '=', invite).where('used_by', 'is', null).forUpdate().executeTakeFirst();
        if (!open) throw new AppError('invite_required', 'the invite code is not valid or has been used', { field: 'invite' });
      }
      const member = await trx
        .insertInto('members')
        .values({ username, password_hash: passwordHash, role: options.role ?? 'member', invited_with: invite ?? null, created_at: now })
        .returning('id')
        .executeTakeFirstOrThrow();
      if (invite !== undefined) {
        await trx.updateTable('invites').set({ used_by: member.id, used_at: now }).where('code', '=', invite).execute();
      }
      await ensureAccount(trx, { code: walletCode(member.id), type: 'wallet', memberId: member.id, currency: ctx.config.currency, now });
      await trx
        .insertInto('budgets')
        .values({ member_id: member.id, period: periodOf(now), amount: ctx.config.minBudget, set_at: now })
        .execute();
      return { id: member.id, username, actor: actorIri(ctx, username) };
    });
  } catch (error) {
    if (isUniqueViolation(error, 'members_username_key')) {
      throw new AppError('username_taken', `the username "${username}" is taken`, { field: 'username' });
    }
    throw error;
  }
}

/**
 * Checks a username and password; the same `unauthorized` whichever of the two is wrong. Every
 * check counts against the sign-in limits (src/members/sign-in-limits.ts) of the client's
 * `address` and of the account: over either, 429 `rate_limited` before the password is looked at.
 */
export async function signIn(ctx: Context, input: SignInInput, address: string | undefined): Promise<Caller> {
  const username = input.username.slice(0, 30);
  const password = input.password.slice(0, 256);
  const row = username && USERNAME_PATTERN.test(username) ? await findMember(ctx, username) : undefined;
  const attempt = beginPasswordAttempt(ctx, address, row?.id);
  const ok = await verifyPassword(row?.password_hash, password, ctx.config.fastPasswordHashing);
  if (!row || !ok) throw new AppError('unauthorized', 'the username or the password is wrong');
  attempt.succeeded();
  return { id: row.id, username: row.username, role: row.role, scopes: scopesForRole(row.role) };
}

export async function createApiToken(ctx: Context, input: SignInInput, address: string | undefined): Promise<string> {
  const member = await signIn(ctx, input, address);
  return issueToken(ctx, member.id, 'api');
}

export function findMember(ctx: Context, username: string) {
  return ctx.db
    .selectFrom('members')
    .selectAll()
    .where((eb) => eb(eb.fn('lower', ['username']), '=', username.toLowerCase()))
    .executeTakeFirst();
}

export async function requireMember(ctx: Context, username: unknown) {
  const row = typeof username === 'string' && username.length <= 30 ? await findMember(ctx, username) : undefined;
  if (!row) throw new AppError('not_found', `no member is called ${JSON.stringify(username ?? null)}`, { field: 'username' });
  return row;
}

/**
 * A single-use invite code. Admins make as many as they like; members make up to the instance's
 * allowance (three by default, as Flattr gave them). A null caller is the instance itself (the CLI).
 */
export async function createInvite(ctx: Context, caller: Caller | null): Promise<string> {
  const code = randomBytes(12).toString('base64url');
  const now = ctx.clock.now();
  await ctx.db.transaction().execute(async (trx) => {
    if (caller && caller.role !== 'admin') {
      // The member row lock makes concurrent requests count one after the other.
      await trx.selectFrom('members').select('id').where('id', '=', caller.id).forUpdate().execute();
      const made = await trx
        .selectFrom('invites')
        .select((eb) => eb.fn.countAll<bigint>().as('n'))
        .where('created_by', '=', caller.id)
        .executeTakeFirstOrThrow();
      if (Number(made.n) >= ctx.config.invitesPerMember) {
        throw new AppError('invite_limit', `members can make ${ctx.config.invitesPerMember} invites; you have made them all`);
      }
    }
    await trx
      .insertInto('invites')
      .values({ code, created_by: caller?.id ?? null, created_at: now, used_by: null, used_at: null })
      .execute();
  });
  return code;
}

export async function listInvites(ctx: Context, caller: Caller) {
  const rows = await ctx.db
    .selectFrom('invites')
    .leftJoin('members', 'members.id', 'invites.used_by')
    .select(['invites.code', 'invites.created_at', 'invites.used_at', 'members.username as used_by'])
    .where('invites.created_by', '=', caller.id)
    .orderBy('invites.created_at')
    .execute();
  return rows.map((r) => ({ code: r.code, created_at: r.created_at.toISOString(), used_by: r.used_by, used_at: r.used_at?.toISOString() ?? null }));
}

/** Creates the admin named by FARTHING_ADMIN (or the CLI) unless a member of that name exists. */
export async function ensureAdmin(ctx: Context, username: string, password: string): Promise<{ created: boolean }> {
  const existing = await findMember(ctx, username);
  if (existing) return { created: false };
  try {
    await registerMember(ctx, parseInput(SignUpInput, { username, password }, 'arguments'), { role: 'admin', bypassRegistration: true });
    return { created: true };
  } catch (error) {
    // Two processes starting at once: the other one created it.
    if (error instanceof AppError && error.code === 'username_taken') return { created: false };
    throw error;
  }
}

export async function setCharity(ctx: Context, username: unknown): Promise<{ username: string }> {
  const member = await requireMember(ctx, username);
  await setSetting(ctx.db, 'charity_member_id', member.id.toString());
  return { username: member.username };
}

export async function charityMemberId(ctx: Pick<Context, 'db'>): Promise<bigint | null> {
  const value = await getSetting<string>(ctx.db, 'charity_member_id');
  return value === undefined ? null : BigInt(value);
}
