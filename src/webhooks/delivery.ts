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
import { type RelaySpec, relayDue } from '../jobs/relay.ts';
import { isRefusedAddress, outboundOf } from '../net/outbound.ts';
import { startWorker, type Worker, wakeWorker } from '../worker.ts';
import { DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, signWebhookBody } from './signature.ts';

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
  const spec: RelaySpec<DueRow> = {
    name: WORKER,
    table: 'webhook_deliveries',
    pending: (r) => `${r}.state = 'pending'`,
    orderBy: 'r.next_attempt_at, r.id',
    schedule: { dueColumn: 'next_attempt_at', attemptsColumn: 'attempts', retrySeconds: (attempts) => RETRY_SCHEDULE_SECONDS[attempts - 1] },
    batch: BATCH,
    leaseSeconds: CLAIM_SECONDS,
    // Deliveries are independent of each other: a batch's attempts are made together.
    concurrent: true,
    load: async (ids) => {
      const { rows } = await sql<DueRow>`
        SELECT d.id, d.event, d.body, d.attempts, w.url, w.secret FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
        WHERE d.id IN (${sql.join(ids)}) ORDER BY d.next_attempt_at, d.id`.execute(ctx.db);
      return rows;
    },
    deliver: (row) => post(ctx, row),
    record: (row, outcome, attempt, startedAt) => {
      const status = attempt.status ?? null;
      if (outcome.kind === 'done') return { state: 'delivered', last_status: status, last_attempt_at: startedAt, delivered_at: ctx.clock.now() };
      const retryIn = outcome.kind === 'retry' ? (outcome.at.getTime() - startedAt.getTime()) / 1000 : null;
      ctx.log.info({ delivery: row.id, attempts: outcome.attempts, status, retry_in_s: retryIn }, 'webhook delivery failed');
      // A failed delivery's next_attempt_at stays the time of its last attempt (it is never listed).
      return {
        state: outcome.kind === 'retry' ? 'pending' : 'failed',
        last_status: status,
        last_attempt_at: startedAt,
        ...(outcome.kind === 'failed' ? { next_attempt_at: startedAt } : {}),
      };
    },
  };
  return (await relayDue(ctx, spec)).done;
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
