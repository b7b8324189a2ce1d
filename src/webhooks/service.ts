/**
 * A member's webhooks: register (the secret is shown once, in the answer), list with the last
 * delivery's status and time, delete (pending deliveries of a deleted hook are not sent).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { UUID_PATTERN } from '../db/errors.ts';
import { isWebhookEvent, WEBHOOK_EVENTS, type WebhookEvent } from './events.ts';
import { checkWebhookUrl } from './urls.ts';

export const WEBHOOKS_PER_MEMBER = 10;

export interface LastDelivery {
  id: string;
  event: string;
  state: 'pending' | 'delivered' | 'failed';
  status: string | null;
  attempts: number;
  attempted_at: string | null;
  next_attempt_at: string | null;
}

export interface WebhookView {
  id: string;
  url: string;
  events: WebhookEvent[];
  created_at: string;
  last_delivery: LastDelivery | null;
}

function checkEvents(input: unknown): WebhookEvent[] {
  if (!Array.isArray(input) || input.length === 0) {
    throw new AppError('invalid_request', `events must be a non-empty list of: ${WEBHOOK_EVENTS.join(', ')}`, { field: 'events' });
  }
  for (const event of input) {
    if (!isWebhookEvent(event)) {
      throw new AppError('invalid_request', `unknown event '${String(event).slice(0, 40)}'; the events are ${WEBHOOK_EVENTS.join(', ')}`, { field: 'events' });
    }
  }
  return WEBHOOK_EVENTS.filter((e) => input.includes(e));
}

export async function createWebhook(ctx: Context, caller: Caller, input: { url: unknown; events: unknown }): Promise<WebhookView & { secret: string }> {
  const url = checkWebhookUrl(ctx, input.url);
  const events = checkEvents(input.events);
  const now = ctx.clock.now();
  const id = randomUUID();
  const secret = `whsec_${randomBytes(32).toString('base64url')}`;
  await ctx.db.transaction().execute(async (trx) => {
    // The member's row lock serialises their registrations, so the limit holds under races.
    await trx.selectFrom('members').select('id').where('id', '=', caller.id).forUpdate().executeTakeFirst();
    const { count } = await trx
      .selectFrom('webhooks')
      .select((eb) => eb.fn.countAll<string>().as('count'))
      .where('member_id', '=', caller.id)
      .where('deleted_at', 'is', null)
      .executeTakeFirstOrThrow();
    if (Number(count) >= WEBHOOKS_PER_MEMBER) throw new AppError('webhook_limit', `a member may have at most ${WEBHOOKS_PER_MEMBER} webhooks`);
    await trx
      .insertInto('webhooks')
      .values({ id, member_id: caller.id, url, events: events.join(' '), secret, created_at: now, deleted_at: null })
      .execute();
  });
  return { id, url, events, secret, created_at: now.toISOString(), last_delivery: null };
}

export async function listWebhooks(ctx: Context, caller: Caller): Promise<{ items: WebhookView[] }> {
  const { rows } = await sql<{
    id: string;
    url: string;
    events: string;
    created_at: Date;
    d_id: string | null;
    d_event: string | null;
    d_state: LastDelivery['state'] | null;
    d_status: string | null;
    d_attempts: number | null;
    d_attempted_at: Date | null;
    d_next: Date | null;
  }>`
    SELECT w.id, w.url, w.events, w.created_at,
      d.id AS d_id, d.event AS d_event, d.state AS d_state, d.last_status AS d_status, d.attempts AS d_attempts,
      d.last_attempt_at AS d_attempted_at, d.next_attempt_at AS d_next
    FROM webhooks w
    LEFT JOIN LATERAL (
      SELECT * FROM webhook_deliveries wd WHERE wd.webhook_id = w.id
      ORDER BY wd.last_attempt_at DESC NULLS LAST, wd.created_at DESC LIMIT 1
    ) d ON true
    WHERE w.member_id = ${caller.id} AND w.deleted_at IS NULL
    ORDER BY w.created_at, w.id`.execute(ctx.db);
  return {
    items: rows.map((r) => ({
      id: r.id,
      url: r.url,
      events: r.events.split(' ').filter(isWebhookEvent),
      created_at: new Date(r.created_at).toISOString(),
      last_delivery:
        r.d_id === null
          ? null
          : {
              id: r.d_id,
              event: r.d_event as string,
              state: r.d_state as LastDelivery['state'],
              status: r.d_status,
              attempts: Number(r.d_attempts),
              attempted_at: r.d_attempted_at ? new Date(r.d_attempted_at).toISOString() : null,
              next_attempt_at: r.d_state === 'pending' && r.d_next ? new Date(r.d_next).toISOString() : null,
            },
    })),
  };
}

export async function deleteWebhook(ctx: Context, caller: Caller, id: string): Promise<void> {
  if (!UUID_PATTERN.test(id)) throw new AppError('not_found', 'no such webhook');
  await ctx.db.transaction().execute(async (trx) => {
    const deleted = await trx
      .updateTable('webhooks')
      .set({ deleted_at: ctx.clock.now() })
      .where('id', '=', id.toLowerCase())
      .where('member_id', '=', caller.id)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (Number(deleted.numUpdatedRows) === 0) throw new AppError('not_found', 'no such webhook');
    await trx
      .updateTable('webhook_deliveries')
      .set({ state: 'failed', last_status: 'webhook deleted' })
      .where('webhook_id', '=', id.toLowerCase())
      .where('state', '=', 'pending')
      .execute();
  });
}
