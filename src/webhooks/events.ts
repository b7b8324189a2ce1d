/**
 * Webhook events, written as an outbox: enqueueEvent inserts one delivery row per live hook of the
 * member that asked for the event, in the caller's transaction (pass the kysely Transaction), so
 * an event exists exactly when what caused it committed. The worker (delivery.ts) sends them.
 *
 * An event's key (e.g. `period.closed:2026-11`) makes it once per hook: a repeated enqueue (a
 * resumed close, a replayed request) does nothing.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { formatAmount } from '../core/money.ts';
import type { Period } from '../core/period.ts';
import type { Executor } from '../ledger/accounts.ts';

export const WEBHOOK_EVENTS = ['flattr.received', 'period.closed', 'payout.paid', 'subscription.stopped'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export function isWebhookEvent(value: unknown): value is WebhookEvent {
  return typeof value === 'string' && (WEBHOOK_EVENTS as readonly string[]).includes(value);
}

/** The JSON body every delivery of an event carries. */
export interface EventBody {
  id: string;
  event: WebhookEvent;
  created_at: string;
  data: unknown;
}

/** SQL: the hook wants this event (events is space separated). */
function wantsEventSql(event: WebhookEvent) {
  return sql<boolean>`(' ' || webhooks.events || ' ') LIKE ${`% ${event} %`}`;
}

/**
 * Queues `event` with `payload` for every live webhook of `memberId` that asked for it; answers how
 * many deliveries were queued. `key` names the event for idempotency (default: a new one each call);
 * `now` is the instance clock's time (the delivery is due at once whatever the time).
 */
export async function enqueueEvent(
  db: Executor,
  memberId: bigint,
  event: WebhookEvent,
  payload: unknown,
  options: { now?: Date; key?: string } = {},
): Promise<number> {
  const hooks = await db
    .selectFrom('webhooks')
    .select('id')
    .where('member_id', '=', memberId)
    .where('deleted_at', 'is', null)
    .where(wantsEventSql(event))
    .execute();
  if (hooks.length === 0) return 0;
  const now = options.now ?? new Date();
  const eventId = randomUUID();
  const body: EventBody = { id: eventId, event, created_at: now.toISOString(), data: payload };
  const text = JSON.stringify(body);
  const result = await db
    .insertInto('webhook_deliveries')
    .values(
      hooks.map((hook) => ({
        id: randomUUID(),
        webhook_id: hook.id,
        event,
        event_key: options.key ?? `${event}:${eventId}`,
        body: text,
        state: 'pending' as const,
        next_attempt_at: now,
        claimed_until: null,
        last_status: null,
        last_attempt_at: null,
        delivered_at: null,
        created_at: now,
      })),
    )
    .onConflict((oc) => oc.columns(['webhook_id', 'event_key']).doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n);
}

/**
 * period.closed for every member with such a hook who was charged or credited by the close of
 * `period`: what they were charged, what the close credited to their wallet (shares, releases)
 * and what it held for them. Runs in the booking stage's transaction (it reads that close's
 * transfers); the key makes a second call a no-op.
 */
export async function enqueuePeriodClosed(db: Executor, period: Period, now: Date): Promise<number> {
  const { rows } = await sql<{ member_id: bigint; charged: bigint; earned: bigint; held: bigint; flattrs: number }>`
    WITH hooked AS (
      SELECT DISTINCT member_id FROM webhooks WHERE deleted_at IS NULL AND ${wantsEventSql('period.closed')}
    )
    SELECT h.member_id,
      COALESCE(c.charged, 0)::bigint AS charged,
      COALESCE(c.flattr_count, 0)::int AS flattrs,
      COALESCE((SELECT sum(t.amount) FROM transfers t JOIN accounts a ON a.id = t.credit_account_id
                WHERE a.member_id = h.member_id AND t.period = ${period} AND t.idempotency_key LIKE 'close:%'), 0)::bigint AS earned,
      COALESCE((SELECT sum(amount) FROM holds WHERE period = ${period} AND member_id = h.member_id), 0)::bigint AS held
    FROM hooked h LEFT JOIN close_charges c ON c.period = ${period} AND c.member_id = h.member_id`.execute(db);
  let queued = 0;
  for (const row of rows) {
    const charged = BigInt(row.charged);
    const earned = BigInt(row.earned);
    const held = BigInt(row.held);
    if (charged === 0n && earned === 0n && held === 0n) continue;
    queued += await enqueueEvent(
      db,
      BigInt(row.member_id),
      'period.closed',
      { period, charged: formatAmount(charged), earned: formatAmount(earned), held: formatAmount(held), flattrs: Number(row.flattrs) },
      { now, key: `period.closed:${period}` },
    );
  }
  return queued;
}

/** The payload of flattr.received, for the flattr's code to pass to enqueueEvent (thing owner's id). */
export function flattrReceivedPayload(input: { thing: unknown; flattrId: string; period: Period }): unknown {
  return { thing: input.thing, flattr_id: input.flattrId, period: input.period };
}
