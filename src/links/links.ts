/**
 * Linked fediverse accounts (product.md, Federation): a member adds an account they control by
 * its handle (`@alice@mastodon.example`) or actor IRI. It is stored as 'pending' and the member's
 * actor lists it in `alsoKnownAs` at once (federation.ts); "verify" reads the account's actor
 * document and marks the link 'verified' when the account points back to the member's actor
 * (its `alsoKnownAs`, its `url`, or a link in a profile field) and the member's actor lists it:
 * the one proof claims.ts routes money by, so a verified link is a claim here at once. One
 * account is verified for one member at most. Routing does not trust this table alone: claims.ts
 * checks both directions again whenever a thing of the account is discovered, on every instance.
 */

import { z } from 'zod';
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { rule } from '../core/input.ts';
import { isUniqueViolation } from '../db/errors.ts';
import { actorIri } from '../members/service.ts';
import type { ActorRecord } from '../ports.ts';
import { pointsTo, recordClaim, refreshClaimOf, SIGNED } from './claims.ts';

/** Links a member may have, pending or verified. */
export const MAX_LINKS = 10;
const HANDLE = /^@?([^@\s/]+)@([^@\s/]+)$/;

export interface LinkView {
  id: string;
  /** The account's actor IRI. */
  account: string;
  handle: string | null;
  state: 'pending' | 'verified';
  created_at: string;
  verified_at: string | null;
}

type LinkRow = { id: bigint; actor_iri: string; handle: string | null; state: 'pending' | 'verified'; created_at: Date; verified_at: Date | null };

function view(row: LinkRow): LinkView {
  return {
    id: String(row.id),
    account: row.actor_iri,
    handle: row.handle,
    state: row.state,
    created_at: row.created_at.toISOString(),
    verified_at: row.verified_at?.toISOString() ?? null,
  };
}

const COLUMNS = ['id', 'actor_iri', 'handle', 'state', 'created_at', 'verified_at'] as const;

export async function listLinks(ctx: Context, memberId: bigint): Promise<LinkView[]> {
  const rows = await ctx.db.selectFrom('member_links').select(COLUMNS).where('member_id', '=', memberId).orderBy('id').execute();
  return rows.map(view);
}

/** The accounts a member's actor lists in alsoKnownAs: every link, pending or verified. */
export async function linkedAccounts(ctx: Context, memberId: bigint): Promise<URL[]> {
  const rows = await ctx.db.selectFrom('member_links').select('actor_iri').where('member_id', '=', memberId).orderBy('id').execute();
  return rows.map((r) => new URL(r.actor_iri));
}

/** POST /api/v1/me/links and the linked accounts page's form: the account, trimmed. */
export const LinkInput = z.object({
  account: rule(z.string().meta({ minLength: 1, maxLength: 500, description: '@alice@mastodon.example or an actor IRI' }), (input) => {
    if (input.trim() === '' || input.length > 500) {
      throw new AppError('invalid_request', 'account must be a handle like @alice@mastodon.example or an actor URL', { field: 'account' });
    }
    return input.trim();
  }),
});

/** Adds a link as pending, after finding the account's actor (by WebFinger for a handle); `account` as LinkInput parsed it. */
export async function addLink(ctx: Context, caller: Caller, account: string): Promise<LinkView> {
  const actor = await findAccount(ctx, account);
  const iri = new URL(actor.iri);
  if (iri.origin === new URL(ctx.config.origin).origin) {
    throw new AppError('invalid_request', 'that is an account on this instance; link an account elsewhere in the fediverse', { field: 'account' });
  }
  const count = await ctx.db
    .selectFrom('member_links')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('member_id', '=', caller.id)
    .executeTakeFirstOrThrow();
  if (Number(count.n) >= MAX_LINKS) throw new AppError('invalid_request', `you can link at most ${MAX_LINKS} accounts`, { field: 'account' });
  const handle = actor.preferredUsername ? `@${actor.preferredUsername}@${iri.host}` : null;
  await ctx.db
    .insertInto('member_links')
    .values({ member_id: caller.id, actor_iri: iri.href, handle, state: 'pending', created_at: ctx.clock.now(), verified_at: null })
    .onConflict((oc) => oc.columns(['member_id', 'actor_iri']).doNothing())
    .execute();
  const row = await ctx.db
    .selectFrom('member_links')
    .select(COLUMNS)
    .where('member_id', '=', caller.id)
    .where('actor_iri', '=', iri.href)
    .executeTakeFirstOrThrow();
  return view(row);
}

async function ownLink(ctx: Context, caller: Caller, id: string): Promise<LinkRow> {
  const row = /^[0-9]{1,18}$/.test(id)
    ? await ctx.db.selectFrom('member_links').select(COLUMNS).where('id', '=', BigInt(id)).where('member_id', '=', caller.id).executeTakeFirst()
    : undefined;
  if (!row) throw new AppError('not_found', 'no such link');
  return row;
}

/** The two halves of the proof (claims.ts), as the member is shown them. */
export interface LinkProof {
  /** The account points to the member (alsoKnownAs, url, or a profile field linking to the profile). */
  account_points_to_member: boolean;
  /** The member's actor lists the account in alsoKnownAs. */
  member_lists_account: boolean;
}

/**
 * Reads the account's actor again and checks both halves of the proof, the same proof that
 * routes money (claims.ts). Answers the link, verified, or still pending with `problem` saying
 * exactly which half is missing. A verified link is a claim at once: the account's things and
 * the money waiting for it here become the member's (claims.ts recordClaim).
 */
export async function verifyLink(ctx: Context, caller: Caller, id: string): Promise<LinkView & { problem?: string; proof?: LinkProof }> {
  const row = await ownLink(ctx, caller, id);
  const found = await ctx.directory.lookup(row.actor_iri, SIGNED);
  const mine = actorIri(ctx, caller.username);
  if (found?.kind !== 'actor' || found.iri !== row.actor_iri) {
    return { ...view(row), problem: 'the account could not be read just now; try again later' };
  }
  const account = found;
  const proof: LinkProof = {
    account_points_to_member: await pointsTo(ctx, account, [mine], SIGNED),
    member_lists_account: (await linkedAccounts(ctx, caller.id)).some((u) => u.href === row.actor_iri),
  };
  if (!proof.account_points_to_member || !proof.member_lists_account) {
    if (row.state === 'verified') {
      // The account no longer points here: the proof is gone, so is the verification.
      await ctx.db.updateTable('member_links').set({ state: 'pending', verified_at: null }).where('id', '=', row.id).execute();
      await refreshClaimOf(ctx, account, SIGNED);
    }
    const missing = !proof.account_points_to_member
      ? `the account does not point back yet: add ${mine} to its profile links (a profile field) or its aliases (alsoKnownAs)`
      : `your Farthing actor ${mine} does not list the account (remove the link and add it again)`;
    return { ...view({ ...row, state: 'pending', verified_at: null }), problem: missing, proof };
  }
  let verified = row;
  if (row.state !== 'verified') {
    const now = ctx.clock.now();
    try {
      await ctx.db.updateTable('member_links').set({ state: 'verified', verified_at: now }).where('id', '=', row.id).execute();
    } catch (error) {
      if (isUniqueViolation(error, 'member_links_verified'))
        throw new AppError('forbidden', 'this account is already linked to another member', { field: 'account' });
      throw error;
    }
    verified = { ...row, state: 'verified', verified_at: now };
  }
  // Both halves hold: the account's things and waiting money are the member's from now on.
  await refreshClaimOf(ctx, account, SIGNED);
  return { ...view(verified), proof };
}

export async function removeLink(ctx: Context, caller: Caller, id: string): Promise<void> {
  const row = await ownLink(ctx, caller, id);
  await ctx.db.deleteFrom('member_links').where('id', '=', row.id).execute();
  // A claim that rested on this link ends: the account's things go back to it.
  const claimed = await ctx.db
    .selectFrom('remote_actors')
    .select('id')
    .where('iri', '=', row.actor_iri)
    .where('claimed_member_id', '=', caller.id)
    .executeTakeFirst();
  if (claimed) await recordClaim(ctx, claimed.id, null);
}

/** The actor of a handle (WebFinger) or of an actor IRI; not_found when there is none. */
async function findAccount(ctx: Context, account: string): Promise<ActorRecord> {
  const handle = HANDLE.exec(account);
  let found = null;
  if (/^https?:\/\//i.test(account)) {
    found = await ctx.directory.lookup(account, SIGNED);
  } else if (handle) {
    found = await ctx.directory.handle(handle[1] as string, handle[2] as string, SIGNED);
  } else {
    throw new AppError('invalid_request', 'account must be a handle like @alice@mastodon.example or an actor URL', { field: 'account' });
  }
  if (found?.kind !== 'actor') {
    throw new AppError('not_found', `no fediverse account was found for ${account}`, { field: 'account' });
  }
  return found;
}
