/**
 * Published flattrs (issue 13): a member who opts in (members.publish_flattrs, off by default)
 * tells their followers what they flattr, as a public post "flattred <title>" with the link — a
 * Create of a Note, to Public, cc their followers. The click's own statement writes the `posts`
 * row (flattrs/service.ts) and its withdrawal marks it deleted; this relay hands each to Fedify's
 * queue (a Create, or a Delete of a Note that went out) and marks it done, so a click never waits
 * for the network, and a dead follower costs it nothing. Claims, leases and repeats are the common
 * relay's (src/jobs/relay.ts), as in outbox.ts.
 */
import { Create, Delete, PUBLIC_COLLECTION, Tombstone } from '@fedify/vocab';
import { sql } from 'kysely';
import type { Context } from '../context.ts';
import { type RelaySpec, relayDue } from '../jobs/relay.ts';
import { actorIri } from '../members/service.ts';
import { POSTS_RELAY, startWorker, type Worker, wakeWorker } from '../worker.ts';
import { type PostRow, postIri, postNote } from './objects.ts';
import { instant } from './temporal.ts';

const BATCH = 100;
const CLAIM_SECONDS = 60;
const POLL_MS = 2_000;
const WORKER = POSTS_RELAY;

export function wakePostsRelay(ctx: Context): void {
  wakeWorker(ctx, WORKER);
}

type Pending = PostRow & { relayed_at: Date | null; deleted_at: Date | null };

/** Relays what is pending now; answers how many posts it handled. */
export async function relayPosts(ctx: Context): Promise<number> {
  const federation = ctx.federation;
  if (!federation) return 0;
  const fctx = federation.createContext(new URL(ctx.config.origin), undefined);
  const spec: RelaySpec<Pending> = {
    name: WORKER,
    table: 'posts',
    pending: (r) => `${r}.relayed_at IS NULL OR (${r}.deleted_at IS NOT NULL AND ${r}.delete_relayed_at IS NULL)`,
    orderBy: 'r.id',
    batch: BATCH,
    leaseSeconds: CLAIM_SECONDS,
    load: async (ids) => {
      const { rows } = await sql<Pending>`
        SELECT c.id, c.created_at, c.relayed_at, c.deleted_at, m.username, t.id AS thing_id, t.url AS thing_url, t.title
        FROM posts c
        JOIN members m ON m.id = c.member_id
        JOIN flattrs f ON f.id = c.flattr_id
        JOIN things t ON t.id = f.thing_id
        WHERE c.id IN (${sql.join(ids)})
        ORDER BY c.created_at, c.id`.execute(ctx.db);
      return rows;
    },
    deliver: async (row) => {
      // Withdrawn before it went out: nothing to say, ever.
      if (row.deleted_at && !row.relayed_at) return { ok: true };
      const actor = new URL(actorIri(ctx, row.username));
      const followers = fctx.getFollowersUri(row.username);
      const id = postIri(ctx, row.id);
      if (row.deleted_at) {
        const gone = new Delete({ id: new URL(`${id}#delete`), actor, object: new Tombstone({ id: new URL(id) }), to: PUBLIC_COLLECTION, cc: followers });
        await fctx.sendActivity({ identifier: row.username }, 'followers', gone, { preferSharedInbox: true, orderingKey: row.id });
        return { ok: true };
      }
      const create = new Create({
        id: new URL(`${id}#create`),
        actor,
        object: postNote(ctx, followers, row),
        to: PUBLIC_COLLECTION,
        cc: followers,
        published: instant(row.created_at),
      });
      await fctx.sendActivity({ identifier: row.username }, 'followers', create, { preferSharedInbox: true, orderingKey: row.id });
      return { ok: true };
    },
    // The lease is released at once: a withdrawal's Delete must not wait for it to run out.
    record: (row) => {
      const now = ctx.clock.now();
      if (row.deleted_at && !row.relayed_at) return { relayed_at: now, delete_relayed_at: now };
      return row.deleted_at ? { delete_relayed_at: now } : { relayed_at: now };
    },
  };
  return (await relayDue(ctx, spec)).claimed;
}

/** Runs the relay in this process until stopped: at once when woken, else every POLL_MS. */
export function startPostsRelay(ctx: Context): Worker {
  return startWorker(ctx, WORKER, POLL_MS, async () => {
    await relayPosts(ctx);
  });
}
