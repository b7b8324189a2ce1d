/**
 * The outbox relay: flattrs of remote things are written to `outbox` by the very statement that
 * makes (or withdraws) them; this relay hands each row to Fedify's queue as a Like (or its
 * Undo) and marks it relayed. Fedify's queue signs, delivers and retries; a dead peer costs the
 * click nothing.
 *
 * Several processes share the work through the relay of every outbox (src/jobs/relay.ts, whose
 * header states which clock counts): each claims a batch under a lease, enqueues each row and
 * marks it relayed. A relay that dies mid-batch (or an enqueue that fails) leaves its lease to
 * expire and the rows are enqueued again: the receiver counts each activity id once, so a
 * repeat changes nothing there.
 *
 * The Like (product.md): its id is the flattr's URL, its object the thing's IRI, its `context`
 * the period's IRI on this instance; no content, name or tag. Like and Undo of one flattr share
 * an ordering key, so the Undo never overtakes its Like. It goes to the post's author (for a
 * post of an account a member here claims too, so the author sees it) and, when a member of
 * another Farthing instance claims the account, to that member's actor as well.
 *
 * The same table carries the instance actor's direct messages about unclaimed money (kind
 * 'notice', unclaimed.ts), relayed here the same way.
 */
import { Create, Like, Undo } from '@fedify/vocab';
import { sql } from 'kysely';
import type { Context } from '../context.ts';
import { likeOfUndo, periodIri as mintPeriodIri } from '../core/iris.ts';
import { type RelaySpec, relayDue } from '../jobs/relay.ts';
import { actorIri } from '../members/service.ts';
import { OUTBOX_RELAY, startWorker, type Worker, wakeWorker } from '../worker.ts';
import { INSTANCE_ACTOR } from './instance-actor.ts';
import { noticeNote } from './notice-note.ts';

const BATCH = 100;
/** A claimed row's lease: left to other relays after this long (its relay died before marking it). */
const CLAIM_SECONDS = 60;
/** How often the relay looks for rows written by other processes. */
const POLL_MS = 2_000;

export function periodIri(ctx: Context, period: string): string {
  return mintPeriodIri(ctx.config.origin, period);
}

const WORKER = OUTBOX_RELAY;

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
  /** The Farthing member's actor claiming the account (claims.ts), told as well. */
  claimer_iri: string | null;
  claimer_inbox: string | null;
  claimer_shared_inbox: string | null;
}

/** The outbox's rows of one sort (flattrs' Likes and Undos, or notices) under the common relay. */
function outboxSpec<Row extends { id: bigint }>(
  name: string,
  kinds: 'flattrs' | 'notices',
  load: (ids: bigint[]) => Promise<Row[]>,
  deliver: (row: Row) => Promise<void>,
  ctx: Context,
): RelaySpec<Row> {
  return {
    name,
    table: 'outbox',
    pending: (r) => `${r}.relayed_at IS NULL AND ${r}.kind ${kinds === 'notices' ? '=' : '<>'} 'notice'`,
    orderBy: 'r.id',
    batch: BATCH,
    leaseSeconds: CLAIM_SECONDS,
    load,
    deliver: async (row) => {
      await deliver(row);
      return { ok: true };
    },
    record: () => ({ relayed_at: ctx.clock.now() }),
  };
}

/** Relays what is pending now; answers how many rows it relayed. */
export async function relayOutbox(ctx: Context): Promise<number> {
  const federation = ctx.federation;
  if (!federation) return 0;
  const fctx = federation.createContext(new URL(ctx.config.origin), undefined);
  const load = async (ids: bigint[]) => {
    const { rows } = await sql<PendingRow>`
      SELECT c.id, c.activity_id, c.kind, c.flattr_id, f.period, m.username, t.uri AS thing_uri, t.url AS thing_url,
             -- the post's author (the owner, or for a thing a member here claims, its account)
             r.iri AS actor_iri, r.inbox, r.shared_inbox,
             -- an account claimed by a Farthing member elsewhere (claims.ts): that member's actor too
             cb.iri AS claimer_iri, cb.inbox AS claimer_inbox, cb.shared_inbox AS claimer_shared_inbox
      FROM outbox c
      JOIN flattrs f ON f.id = c.flattr_id
      JOIN members m ON m.id = f.member_id
      JOIN things t ON t.id = f.thing_id
      JOIN remote_actors r ON r.id = COALESCE(t.owner_actor_id, t.author_actor_id)
      LEFT JOIN remote_actors cb ON cb.iri = r.claimed_by AND t.owner_actor_id IS NOT NULL
      WHERE c.id IN (${sql.join(ids)})
      ORDER BY c.id`.execute(ctx.db);
    return rows;
  };
  const deliver = async (row: PendingRow) => {
    const actor = new URL(actorIri(ctx, row.username));
    const recipients = [
      { id: new URL(row.actor_iri), inboxId: new URL(row.inbox), endpoints: row.shared_inbox ? { sharedInbox: new URL(row.shared_inbox) } : null },
    ];
    if (row.claimer_iri && row.claimer_inbox) {
      // The claiming member's instance reconciles its statement against this Like; the post's
      // server gets it too, so the author sees the favourite.
      recipients.unshift({
        id: new URL(row.claimer_iri),
        inboxId: new URL(row.claimer_inbox),
        endpoints: row.claimer_shared_inbox ? { sharedInbox: new URL(row.claimer_shared_inbox) } : null,
      });
    }
    const to = recipients.map((r) => r.id);
    const like = new Like({
      id: new URL(row.kind === 'like' ? row.activity_id : likeOfUndo(ctx.config.origin, row.activity_id)),
      actor,
      object: new URL(row.thing_uri ?? row.thing_url),
      contexts: [new URL(periodIri(ctx, row.period))],
      tos: to,
    });
    const activity = row.kind === 'like' ? like : new Undo({ id: new URL(row.activity_id), actor, object: like, tos: to });
    await fctx.sendActivity({ identifier: row.username }, recipients, activity, { orderingKey: row.flattr_id });
  };
  const pass = await relayDue(ctx, outboxSpec(WORKER, 'flattrs', load, deliver, ctx));
  return pass.claimed + (await relayNotices(ctx));
}

interface NoticeRow {
  id: bigint;
  notice_id: bigint;
  activity_id: string;
  content: string;
  actor_iri: string;
  handle: string | null;
  inbox: string;
  created_at: Date;
}

/**
 * Direct messages from the instance actor about money waiting for an account (notices.ts): a
 * Create of a Note addressed to that account only, with a Mention of it, as Mastodon expects
 * of a direct message; delivered to the account's own inbox.
 */
async function relayNotices(ctx: Context): Promise<number> {
  const federation = ctx.federation;
  if (!federation) return 0;
  const fctx = federation.createContext(new URL(ctx.config.origin), undefined);
  const load = async (ids: bigint[]) => {
    const { rows } = await sql<NoticeRow>`
      SELECT c.id, c.notice_id, c.activity_id, n.content, n.created_at, r.iri AS actor_iri, r.handle, r.inbox
      FROM outbox c
      JOIN unclaimed_notices n ON n.id = c.notice_id
      JOIN remote_actors r ON r.id = n.actor_id
      WHERE c.id IN (${sql.join(ids)})
      ORDER BY c.id`.execute(ctx.db);
    return rows;
  };
  const instance = fctx.getActorUri(INSTANCE_ACTOR);
  const deliver = async (row: NoticeRow) => {
    const account = new URL(row.actor_iri);
    const note = noticeNote(instance, { id: row.activity_id, account: row.actor_iri, handle: row.handle, content: row.content, created_at: row.created_at });
    const create = new Create({ id: new URL(`${row.activity_id}#create`), actor: instance, object: note, to: account });
    await fctx.sendActivity({ identifier: INSTANCE_ACTOR }, { id: account, inboxId: new URL(row.inbox) }, create, { orderingKey: row.activity_id });
  };
  return (await relayDue(ctx, outboxSpec(`${WORKER} (notices)`, 'notices', load, deliver, ctx))).claimed;
}

/** Runs the relay in this process until stopped: at once when woken, else every POLL_MS. */
export function startRelay(ctx: Context): Worker {
  // relayDue claims batches until none is left.
  return startWorker(ctx, WORKER, POLL_MS, async () => {
    await relayOutbox(ctx);
  });
}
