/**
 * Peering: which instances' statements may move money here. A peer is `trusted` (its statements
 * credit creators), `pending` (seen — a statement, a Like, an account — but not decided: its
 * statements are verified, kept and reconciled, and credit nobody) or `blocked` (its statements
 * are refused). FARTHING_PEERS names origins trusted from the start; everything else starts
 * pending until the admin decides (API, page, CLI).
 */
import { sql } from 'kysely';
import type { Context } from '../context.ts';
import { instanceActorIri } from '../core/iris.ts';
import type { Executor } from '../ledger/accounts.ts';

export type PeerState = 'trusted' | 'pending' | 'blocked';

export function stateOf(row: { trusted: boolean; blocked: boolean } | undefined): PeerState {
  return row?.blocked ? 'blocked' : row?.trusted ? 'trusted' : 'pending';
}

export async function isTrusted(db: Executor, origin: string): Promise<boolean> {
  const row = await db.selectFrom('peers').select(['trusted', 'blocked']).where('origin', '=', origin).executeTakeFirst();
  return stateOf(row) === 'trusted';
}

/** An instance seen for the first time becomes a pending peer (nothing changes for a known one). */
export async function recordPendingPeer(ctx: Context, origin: string): Promise<void> {
  await ctx.db
    .insertInto('peers')
    .values({ origin, actor: instanceActorIri(origin), created_at: ctx.clock.now() })
    .onConflict((oc) => oc.column('origin').doNothing())
    .execute();
}

/** FARTHING_PEERS, at every start: those origins are trusted unless the admin blocked them. */
export async function trustConfiguredPeers(ctx: Context): Promise<void> {
  for (const origin of ctx.config.peers) {
    if (origin === ctx.config.origin) continue;
    await sql`
      INSERT INTO peers (origin, actor, created_at, trusted) VALUES (${origin}, ${instanceActorIri(origin)}, ${ctx.clock.now()}, true)
      ON CONFLICT (origin) DO UPDATE SET trusted = true WHERE NOT peers.blocked`.execute(ctx.db);
  }
}
