/**
 * Claims: a fediverse account linked to a Farthing member (product.md, Federation). One proof,
 * the same for linking (links.ts) and for routing money, each direction read from its own server:
 * the account points to the member (its `alsoKnownAs`, its `url`, or a profile field linking to
 * the member's profile, which is the member's actor URL and lists the account with rel="me"),
 * and the member's actor lists the account in `alsoKnownAs` (a member here does so for every
 * account they added on /settings/links). Either direction alone proves nothing: anybody can
 * write any IRI into their own profile.
 *
 * A claim by a member here (remote_actors.claimed_member_id) makes the account's things the
 * member's (things.owner_member_id, the account kept as author_actor_id so its server still gets
 * the Likes), and the next close pays the member what waits for the account as unclaimed
 * (close/stages.ts). A claim by a member of another Farthing instance is remembered as
 * remote_actors.claimed_by: the Like goes to that member's actor as well (outbox.ts) and the close
 * owes the shares to that instance, held unclaimed shares included.
 *
 * A Like that reaches us for a post of one of our members' linked accounts names the post, not a
 * thing of ours: flattrs/incoming.ts finds the thing it is here.
 */
import type { Context } from '../context.ts';
import { parseIriOf } from '../core/iris.ts';
import { addMonths, periodOf } from '../core/period.ts';
import { actorIri, findMember } from '../members/service.ts';
import type { ActorRecord, LookupOptions } from '../ports.ts';
import { rememberActor } from '../things/discover.ts';
import { startWorker, type Worker } from '../worker.ts';

/** At most this many `alsoKnownAs` entries of one account are followed. */
const MAX_ALIASES = 5;

/** Lookups signed as the instance actor (servers in authorized-fetch mode answer only so). */
export const SIGNED: LookupOptions = { signing: 'always' };

export type Claim = { kind: 'local'; memberId: bigint; actorIri: string } | { kind: 'remote'; actor: ActorRecord; actorIri: string };

/** The member of this instance whose actor an IRI is, or undefined. */
export async function localMember(ctx: Context, iri: URL): Promise<{ id: bigint; username: string } | undefined> {
  if (iri.origin !== new URL(ctx.config.origin).origin) return undefined;
  // The path alone decides (a query or fragment on an actor IRI is ignored, as before).
  const username = parseIriOf(ctx.config.origin, ctx.config.origin + iri.pathname, 'member')?.username;
  const member = username ? await findMember(ctx, username) : undefined;
  return member?.username === username && member ? { id: member.id, username: member.username } : undefined;
}

/**
 * Who claims the account `owner`, if anyone: the first Farthing actor the account points to
 * (the directory's pointers) that lists it back. A member here lists it by a row in member_links; an
 * actor elsewhere by its own document (fetched), on an instance whose NodeInfo says farthing.
 */
export async function findClaim(ctx: Context, owner: ActorRecord, options?: LookupOptions): Promise<Claim | null> {
  const ownerIri = new URL(owner.iri);
  const candidates = (await ctx.directory.pointers(owner, options))
    .map((p) => {
      try {
        return new URL(p);
      } catch {
        return null;
      }
    })
    .filter((u): u is URL => u !== null && (u.protocol === 'https:' || u.protocol === 'http:') && u.origin !== ownerIri.origin)
    .slice(0, MAX_ALIASES);
  if (candidates.length === 0) return null;
  for (const alias of candidates) {
    const member = await localMember(ctx, alias);
    if (member) {
      const listed = await ctx.db
        .selectFrom('member_links')
        .select('id')
        .where('member_id', '=', member.id)
        .where('actor_iri', '=', ownerIri.href)
        .executeTakeFirst();
      if (listed) return { kind: 'local', memberId: member.id, actorIri: actorIri(ctx, member.username) };
      continue;
    }
    if (alias.origin === new URL(ctx.config.origin).origin) continue;
    const farthing = await ctx.directory.lookup(alias.href, SIGNED);
    if (farthing?.kind !== 'actor') continue;
    // A profile URL names the actor at that same URL (Farthing serves both there).
    if (canonical(farthing.iri) !== canonical(alias.href)) continue;
    if (!farthing.aliases.includes(ownerIri.href)) continue;
    if ((await ctx.directory.software(farthing.iri)) !== 'farthing') continue;
    return { kind: 'remote', actor: farthing, actorIri: farthing.iri };
  }
  return null;
}

/**
 * Records what findClaim found for a remembered remote actor. A claim by a member here makes
 * the account's things the member's (and its link verified); a claim elsewhere names the
 * claiming Farthing actor in claimed_by (remembered too, for its inbox); no claim gives things a
 * member here held by an earlier claim back to the account.
 */
export async function recordClaim(ctx: Context, actorId: bigint, claim: Claim | null): Promise<void> {
  const claimedBy = claim?.kind === 'remote' ? claim.actorIri : null;
  const member = claim?.kind === 'local' ? claim.memberId : null;
  if (claim?.kind === 'remote') await rememberActor(ctx, ctx.db, claim.actor);
  await ctx.db.transaction().execute(async (trx) => {
    const before = await trx.selectFrom('remote_actors').select(['iri', 'claimed_member_id']).where('id', '=', actorId).forUpdate().executeTakeFirst();
    if (!before) return;
    await trx.updateTable('remote_actors').set({ claimed_by: claimedBy, claimed_member_id: member }).where('id', '=', actorId).execute();
    if (member !== null) {
      // The account's things (and those an earlier claimer held) are the member's now.
      await trx
        .updateTable('things')
        .set({ owner_member_id: member, owner_actor_id: null, author_actor_id: actorId, verified: true })
        .where((eb) => eb.or([eb('owner_actor_id', '=', actorId), eb('author_actor_id', '=', actorId)]))
        .execute();
      await trx
        .updateTable('member_links')
        .set({ state: 'verified', verified_at: ctx.clock.now() })
        .where('member_id', '=', member)
        .where('actor_iri', '=', before.iri)
        .where('state', '=', 'pending')
        .where((eb) =>
          eb.not(
            eb.exists(
              eb.selectFrom('member_links as other').select('other.id').where('other.actor_iri', '=', before.iri).where('other.state', '=', 'verified'),
            ),
          ),
        )
        .execute();
    } else if (before.claimed_member_id !== null) {
      await trx
        .updateTable('things')
        .set({ owner_member_id: null, owner_actor_id: actorId, author_actor_id: null })
        .where('author_actor_id', '=', actorId)
        .execute();
    }
  });
}

/** Finds and records the claim on an account now (after a link is verified or removed). */
export async function refreshClaimOf(ctx: Context, account: ActorRecord, options?: LookupOptions): Promise<Claim | null> {
  const claim = await findClaim(ctx, account, options);
  const known = await ctx.db.selectFrom('remote_actors').select('id').where('iri', '=', account.iri).executeTakeFirst();
  // An account nobody flattred here and nobody claims needs no row.
  if (!known && !claim) return null;
  const id = known?.id ?? (await rememberActor(ctx, ctx.db, account));
  await recordClaim(ctx, id, claim);
  return claim;
}

/**
 * Checks again the claims of remote accounts that matter for the next close — claimed now, with
 * shares waiting as unclaimed, or flattred this month or last — so a link made (or dropped) after
 * an account's first flattr counts without a new discovery. Checks up to `limit` accounts after
 * the id `after`; answers how many changed and where the next call goes on (0n: from the start).
 */
export async function refreshClaims(ctx: Context, limit = 200, after = 0n): Promise<{ changed: number; next: bigint }> {
  const since = addMonths(periodOf(ctx.clock.now()), -1);
  const rows = await ctx.db
    .selectFrom('remote_actors')
    .select(['id', 'iri', 'claimed_by', 'claimed_member_id'])
    .where('id', '>', after)
    .where((eb) =>
      eb.or([
        eb('claimed_by', 'is not', null),
        eb('claimed_member_id', 'is not', null),
        eb('id', 'in', eb.selectFrom('unclaimed').select('actor_id').where('state', '=', 'held')),
        // owners of things flattred in this or last month: their shares are split at the next close
        eb(
          'id',
          'in',
          eb
            .selectFrom('things')
            .innerJoin('flattrs', 'flattrs.thing_id', 'things.id')
            .select('things.owner_actor_id')
            .where('things.owner_actor_id', 'is not', null)
            .where('flattrs.withdrawn_at', 'is', null)
            .where('flattrs.period', '>=', since),
        ),
      ]),
    )
    .orderBy('id')
    .limit(limit)
    .execute();
  // No lookup (nor the instance actor's keys it signs with) when there is nothing to check.
  if (rows.length === 0) return { changed: 0, next: 0n };
  let changed = 0;
  for (const row of rows) {
    const actor = await ctx.directory.lookup(row.iri, SIGNED);
    if (actor?.kind !== 'actor') continue;
    const claim = await findClaim(ctx, actor, SIGNED);
    const claimedBy = claim?.kind === 'remote' ? claim.actorIri : null;
    const member = claim?.kind === 'local' ? claim.memberId : null;
    if (claimedBy === row.claimed_by && member === row.claimed_member_id) continue;
    await recordClaim(ctx, row.id, claim);
    changed++;
  }
  return { changed, next: rows.length === limit ? (rows.at(-1)?.id ?? 0n) : 0n };
}

export const CLAIMS_WORKER = 'claims refresh';
const REFRESH_EVERY_MS = 6 * 3600_000;

/**
 * Every six hours (and at start), every account that matters for the next close has its claim
 * checked again, a page at a time: a link made after a Mastodon account's last flattr reaches the
 * close in time for its held shares to go to the claiming instance, not to the charity.
 */
export function startClaimsRefresh(ctx: Context): Worker {
  let next = 0n;
  return startWorker(ctx, CLAIMS_WORKER, REFRESH_EVERY_MS, async () => {
    const result = await refreshClaims(ctx, 200, next);
    if (result.changed > 0) ctx.log.info({ changed: result.changed }, 'claims refreshed');
    next = result.next;
    return next !== 0n;
  });
}

/** Whether a fediverse actor document points to one of `targets` (the directory's pointers). */
export async function pointsTo(ctx: Context, actor: ActorRecord, targets: string[], options?: LookupOptions): Promise<boolean> {
  const wanted = new Set(targets.map(canonical));
  return (await ctx.directory.pointers(actor, options)).some((s) => wanted.has(canonical(s)));
}

function canonical(url: string): string {
  try {
    return new URL(url).href.replace(/\/$/, '');
  } catch {
    return url;
  }
}
