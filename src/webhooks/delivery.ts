/**
 * The webhook worker: sends due deliveries as signed JSON POSTs. A 2xx answer is done; anything
 * else (an error status, a redirect, a timeout, a refused address) is retried after 30 s, 2 min,
 * 10 min, 1 h and 6 h, then the delivery is failed. Every attempt records its status and time. The member sees that
 * status, so it never tells anything about an address the instance refuses to call: such an
 * attempt is recorded as 'refused', whatever is (or is not) listening there.
 *
 * Deliveries are claimed (claimed_until, FOR UPDATE SKIP LOCKED) so several processes sharing one
 * PostgreSQL never send the same attempt twice; a process that dies mid-attempt leaves a claim
 * that expires, and the attempt is made again. Times come from the instance clock; a delivery never
 * attempted is due whatever its time (an event queued without the instance clock's `now`).
 */
import { sql } from 'kysely';
import type { Context } from '../context.ts';
import { isRefusedAddress, outboundOf } from '../net/outbound.ts';
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signWebhookBody } from './signature.ts';
import { startWorker, wakeWorker, type Worker } from '../worker.ts';

/** Seconds to wait after the 1st, 2nd, … failed attempt; after the last one the delivery fails. */
export const RETRY_SCHEDULE_SECONDS = [30, 120, 600, 3600, 21_600] as const;
const CLAIM_SECONDS = 60;
const BATCH = 20;
const POLL_MS = 2_000;
const TIMEOUT_MS = 10_000;

interface DueRow {
  id: string;
  event: string;
  body: string;
  attempts: number;
  url: string;
  secret: string;
}

/** Makes every due attempt now; answers how many deliveries succeeded. */
export async function deliverDueWebhooks(ctx: Context): Promise<number> {
  let delivered = 0;
  for (;;) {
    const now = ctx.clock.now();
    const claimUntil = new Date(now.getTime() + CLAIM_SECONDS * 1000);
    const { rows } = await sql<DueRow>`
      WITH due AS (
        SELECT id FROM webhook_deliveries
        WHERE state = 'pending' AND (next_attempt_at <= ${now} OR attempts = 0) AND (claimed_until IS NULL OR claimed_until <= ${now})
        ORDER BY next_attempt_at, id LIMIT ${BATCH} FOR UPDATE SKIP LOCKED
      ), claimed AS (
        UPDATE webhook_deliveries d SET claimed_until = ${claimUntil} FROM due WHERE d.id = due.id
        RETURNING d.id, d.event, d.body, d.attempts, d.webhook_id
      )
      SELECT c.id, c.event, c.body, c.attempts, w.url, w.secret FROM claimed c JOIN webhooks w ON w.id = c.webhook_id`.execute(ctx.db);
    if (rows.length === 0) return delivered;
    const results = await Promise.all(rows.map((row) => attempt(ctx, row, now)));
    delivered += results.filter(Boolean).length;
    if (rows.length < BATCH) return delivered;
  }
}

async function attempt(ctx: Context, row: DueRow, startedAt: Date): Promise<boolean> {
  const { ok, status } = await post(ctx, row);
  const attempts = row.attempts + 1;
  if (ok) {
    await ctx.db
      .updateTable('webhook_deliveries')
      .set({ state: 'delivered', attempts, last_status: status, last_attempt_at: startedAt, delivered_at: ctx.clock.now(), claimed_until: null })
      .where('id', '=', row.id)
      .execute();
    return true;
  }
  const wait = RETRY_SCHEDULE_SECONDS[attempts - 1];
  await ctx.db
    .updateTable('webhook_deliveries')
    .set({
      state: wait === undefined ? 'failed' : 'pending',
      attempts,
      last_status: status,
      last_attempt_at: startedAt,
      next_attempt_at: new Date(startedAt.getTime() + (wait ?? 0) * 1000),
      claimed_until: null,
    })
    .where('id', '=', row.id)
    .execute();
  ctx.log.info({ delivery: row.id, attempts, status, retry_in_s: wait ?? null }, 'webhook delivery failed');
  return false;
}

async function post(ctx: Context, row: DueRow): Promise<{ ok: boolean; status: string }> {
  try {
    const response = await outboundOf(ctx).fetch(row.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'Farthing-Webhooks/1',
        [SIGNATURE_HEADER]: signWebhookBody(row.secret, row.body, ctx.clock.now()),
        [EVENT_HEADER]: row.event,
        [DELIVERY_HEADER]: row.id,
      },
      body: row.body,
      // A redirect is a failed attempt (its status is recorded), never followed; nothing is read.
      maxRedirects: 0,
      maxBytes: 0,
      timeoutMs: TIMEOUT_MS,
    });
    return { ok: response.ok, status: String(response.status) };
  } catch (error) {
    if (isRefusedAddress(error)) return { ok: false, status: 'refused' };
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return { ok: false, status: `unreachable: ${cause ?? (error as Error).name}`.slice(0, 200) };
  }
}

const WORKER = 'webhook delivery';

/** Asks this process's worker to look for due deliveries now (after a commit that queued some). */
export function wakeWebhooks(ctx: Context): void {
  wakeWorker(ctx, WORKER);
}

/** Runs the delivery worker in this process: when woken, else every POLL_MS; stop() waits for it. */
export function startWebhookWorker(ctx: Context): Worker {
  return startWorker(ctx, WORKER, POLL_MS, async () => {
    await deliverDueWebhooks(ctx);
  });
}
