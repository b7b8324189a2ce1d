/**
 * The outbox relay: flattrs of remote things are written to `outbox` by the very statement that
 * makes (or withdraws) them; this relay hands each row to Fedify's queue as a Like (or its
 * Undo) and marks it relayed. Fedify's queue signs, delivers and retries; a dead peer costs the
 * click nothing.
 *
 * Several processes share the work: each claims a batch for a minute (FOR UPDATE SKIP LOCKED),
 * enqueues each row and marks it relayed. A relay that dies mid-batch leaves its claim to
 * expire and the rows are enqueued again: the receiver counts each activity id once, so a
 * repeat changes nothing there.
 *
 * The Like (product.md): its id is the flattr's URL, its object the thing's IRI, its `context`
 * the period's IRI on this instance; no content, name or tag. Like and Undo of one flattr share
 * an ordering key, so the Undo never overtakes its Like.
 */
import { Like, Undo } from '@fedify/vocab';
import { sql } from 'kysely';
import type { Context } from '../context.ts';
import { actorIri } from '../members/service.ts';
import { startWorker, wakeWorker, type Worker } from '../worker.ts';

const BATCH = 100;
/** A claimed row is left to other relays after this long (its relay died before marking it). */
const CLAIM_SECONDS = 60;
/** How often the relay looks for rows written by other processes. */
const POLL_MS = 2_000;

export function periodIri(ctx: Context, period: string): string {
  return `${ctx.config.origin}/periods/${period}`;
}

const WORKER = 'outbox relay';

/** Tells this process's relay that a row was written (other processes find it by polling). */
export function wakeRelay(ctx: Context): void {
  wakeWorker(ctx, WORKER);
}

interface PendingRow {
  id: bigint;
  activity_id: string;
  kind: 'like' | 'undo';
  flattr_id: string;
  period: string;
  username: string;
  thing_uri: string | null;
  thing_url: string;
  actor_iri: string;
  inbox: string;
  shared_inbox: string | null;
}

/** Relays what is pending now; answers how many rows it relayed. */
export async function relayOutbox(ctx: Context): Promise<number> {
  const federation = ctx.federation;
  if (!federation) return 0;
  const fctx = federation.createContext(new URL(ctx.config.origin), undefined);
  // Claim a batch (no transaction is held while Fedify enqueues: on PGlite that would wait for
  // the one connection forever). Claims are in real time, whatever the instance's clock says.
  const { rows } = await sql<PendingRow>`
    WITH claimed AS (
      UPDATE outbox SET claimed_until = now() + make_interval(secs => ${CLAIM_SECONDS})
      WHERE id IN (
        SELECT id FROM outbox
        WHERE relayed_at IS NULL AND (claimed_until IS NULL OR claimed_until < now())
        ORDER BY id LIMIT ${BATCH}
        FOR UPDATE SKIP LOCKED)
      RETURNING id, activity_id, kind, flattr_id
    )
    SELECT c.id, c.activity_id, c.kind, c.flattr_id, f.period, m.username, t.uri AS thing_uri, t.url AS thing_url,
           -- an account claimed by a Farthing member (claims.ts): the Like goes to that member's actor
           COALESCE(cb.iri, r.iri) AS actor_iri, COALESCE(cb.inbox, r.inbox) AS inbox,
           CASE WHEN cb.id IS NULL THEN r.shared_inbox ELSE cb.shared_inbox END AS shared_inbox
    FROM claimed c
    JOIN flattrs f ON f.id = c.flattr_id
    JOIN members m ON m.id = f.member_id
    JOIN things t ON t.id = f.thing_id
    JOIN remote_actors r ON r.id = t.owner_actor_id
    LEFT JOIN remote_actors cb ON cb.iri = r.claimed_by
    ORDER BY c.id`.execute(ctx.db);
  for (const row of rows) {
    const actor = new URL(actorIri(ctx, row.username));
    const like = new Like({
      id: new URL(row.kind === 'like' ? row.activity_id : row.activity_id.replace(/#undo$/, '')),
      actor,
      object: new URL(row.thing_uri ?? row.thing_url),
      contexts: [new URL(periodIri(ctx, row.period))],
      to: new URL(row.actor_iri),
    });
    const activity = row.kind === 'like' ? like : new Undo({ id: new URL(row.activity_id), actor, object: like, to: new URL(row.actor_iri) });
    const recipient = {
      id: new URL(row.actor_iri),
      inboxId: new URL(row.inbox),
      endpoints: row.shared_inbox ? { sharedInbox: new URL(row.shared_inbox) } : null,
    };
    await fctx.sendActivity({ identifier: row.username }, recipient, activity, { orderingKey: row.flattr_id });
    await ctx.db.updateTable('outbox').set({ relayed_at: ctx.clock.now() }).where('id', '=', row.id).execute();
  }
  return rows.length;
}

/** Runs the relay in this process until stopped: at once when woken, else every POLL_MS. */
export function startRelay(ctx: Context): Worker {
  // A full batch means there may be more.
  return startWorker(ctx, WORKER, POLL_MS, async () => (await relayOutbox(ctx)) === BATCH);
}
