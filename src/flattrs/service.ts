/**
 * Flattrs (product rule 5): one click by a member on a thing in the current period; at most one
 * per member, thing and period; never on one's own thing; only with a wallet that covers the
 * budget; withdrawable until the period is closed.
 */
import { randomUUID } from 'node:crypto';
import { type RawBuilder, sql } from 'kysely';
import { z } from 'zod';
import { closeHasBegun, ensurePeriodRow, periodIsOpenSql } from '../close/locks.ts';
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { flattrIri as mintFlattrIri, undoIri as mintUndoIri } from '../core/iris.ts';
import { formatAmount } from '../core/money.ts';
import { type Period, periodOf } from '../core/period.ts';
import { UUID_PATTERN } from '../db/errors.ts';
import { renderedOnce } from '../db/rendered-once.ts';
import { balanceSql, type Executor, walletAccountId } from '../ledger/accounts.ts';
import { thingForUrl } from '../things/remote.ts';
import { ownThingId, THING_COLUMNS_SQL, type ThingRow, type ThingView, thingView } from '../things/service.ts';
import { normalizeUrl } from '../things/urls.ts';
import { wakeWebhooks } from '../webhooks/delivery.ts';
import { enqueueEvent, flattrReceivedPayload } from '../webhooks/events.ts';
import { OUTBOX_RELAY, POSTS_RELAY, wakeWorker } from '../worker.ts';

export interface FlattrView {
  id: string;
  thing: ThingView;
  period: Period;
  created_at: string;
}

export function flattrIri(ctx: Context, id: string): string {
  return mintFlattrIri(ctx.config.origin, id);
}

/** The fields that name what to flattr. */
const FlattrKeys = z.object({ url: z.string().optional(), thing_id: z.string().optional() });

/** POST /api/v1/flattrs: a thing by its URL or its id. */
export const FlattrInput = FlattrKeys.refine((b) => b.url !== undefined || b.thing_id !== undefined, 'send url or thing_id');
export type FlattrInput = z.output<typeof FlattrKeys>;

/** The flattr page's confirming form: the URL only (a missing one is the service's "send either url or thing_id"). */
export const FlattrUrlForm = FlattrKeys.pick({ url: true });

/** Which thing a click names: by id, or by URL (a thing's own IRI here names it by id). */
function thingKey(ctx: Context, input: FlattrInput): { id: string } | { url: string } {
  if (input.thing_id !== undefined) {
    if (!UUID_PATTERN.test(input.thing_id)) {
      throw new AppError('invalid_request', 'thing_id must be a thing id', { field: 'thing_id' });
    }
    return { id: input.thing_id.toLowerCase() };
  }
  if (input.url === undefined) throw new AppError('invalid_request', 'send either url or thing_id', { field: 'url' });
  const url = normalizeUrl(input.url);
  const id = ownThingId(ctx, url);
  return id ? { id } : { url };
}

export async function createFlattr(ctx: Context, caller: Caller, input: FlattrInput): Promise<FlattrView> {
  const key = thingKey(ctx, input);
  const now = ctx.clock.now();
  const period = periodOf(now);
  await ensurePeriodRow(ctx, period);
  const wallet = caller.walletId ?? (await walletAccountId(ctx.db, caller.id));
  let thing = await click(ctx, caller, key, wallet, period, now);
  if (!thing && 'url' in key) {
    // Nobody here knows this URL yet: find its owner (a fediverse post, a page naming one).
    const found = await thingForUrl(ctx, key.url);
    thing = await click(ctx, caller, { id: found.id }, wallet, period, now);
  }
  if (!thing) throw new AppError('not_found', 'no such thing', { field: 'id' in key ? 'thing_id' : 'url' });
  if (thing.flattr_id === null) {
    if (thing.owner_member_id === caller.id) throw new AppError('flattr_owner', 'you cannot flattr your own thing');
    if (thing.owner_actor_id != null) await explainPeerRefusal(ctx, thing.owner_actor_id);
    await explainRefusal(ctx.db, caller, wallet, thing.id, period, ctx.config.minBudget);
  }
  const view = { id: thing.flattr_id as string, thing: thingView(ctx, thing), period, created_at: now.toISOString() };
  // The owner's webhooks hear of it (the click's statement says whether there are any). After
  // the click's statement, not in it: a crash in between loses a notification, never money.
  if (thing.owner_member_id !== null && thing.owner_has_hooks) {
    const queued = await enqueueEvent(
      ctx.db,
      thing.owner_member_id,
      'flattr.received',
      flattrReceivedPayload({ thing: view.thing, flattrId: view.id, period }),
      { now, key: `flattr.received:${view.id}` },
    );
    if (queued > 0) wakeWebhooks(ctx);
  }
  return view;
}

type ClickRow = ThingRow & { flattr_id: string | null; owner_has_hooks: boolean; posted: boolean };
type ThingKey = { id: string } | { url: string };

/**
 * A click is one statement: find the thing, and insert the flattr only if every rule holds —
 * and, for a remote owner, its Like in the outbox, in the same statement. The period row read
 * FOR SHARE keeps it consistent with the close, and the partial unique index flattrs_once
 * settles races between identical clicks. Refusals are explained by the caller.
 *
 * Most clicks are on local things, so the statement for those comes first: it leaves out the
 * peer check and the outbox, whose tables and plan nodes PostgreSQL would otherwise lock and set
 * up on every click (a sixth to a quarter of the database's CPU per click, bench/clicks.ts). It
 * inserts nothing for a remote thing (a thing's owner never changes), whose click then takes the
 * whole statement: one more round trip on that path only.
 */
async function click(ctx: Context, caller: Caller, key: ThingKey, wallet: bigint, period: Period, now: Date): Promise<ClickRow | undefined> {
  const values = {
    thing: 'id' in key ? key.id : key.url,
    member: caller.id,
    wallet,
    period,
    now,
    minBudget: ctx.config.minBudget,
  };
  const [local] = await ('id' in key ? localClickById : localClickByUrl)(ctx.db, { ...values, flattr: randomUUID(), post: randomUUID() });
  if (local?.posted) wakeWorker(ctx, POSTS_RELAY);
  // A thing whose Like goes out: a remote owner's, or a claimed account's post (its author's server).
  if (!local || (local.owner_actor_id == null && local.author_actor_id == null)) return local;
  const flattr = randomUUID();
  const [row] = await ('id' in key ? clickById : clickByUrl)(ctx.db, { ...values, flattr, post: randomUUID(), iri: flattrIri(ctx, flattr) });
  if ((row?.owner_actor_id != null || row?.author_actor_id != null) && row?.flattr_id != null) wakeWorker(ctx, OUTBOX_RELAY);
  if (row?.posted) wakeWorker(ctx, POSTS_RELAY);
  return row;
}

interface ClickValues {
  [name: string]: unknown;
  thing: string;
  member: bigint;
  wallet: bigint;
  period: Period;
  now: Date;
  minBudget: bigint;
  flattr: string;
  /** The id of the public post, if the member publishes their flattrs (activitypub/posts.ts). */
  post: string;
}

function thingWhere(by: 'id' | 'url', thing: string) {
  return by === 'id' ? sql`t.id = ${thing}::uuid` : sql`t.url = ${thing} OR t.uri = ${thing}`;
}

/** The click on a thing owned by a member here (see click); rendered once (src/db/rendered-once.ts). */
function localClick(by: 'id' | 'url') {
  return renderedOnce(
    (v: ClickValues) => sql<ClickRow>`
    WITH thing AS (
      SELECT t.id, t.url, t.title, t.uri, t.owner_member_id, m.username AS owner_username, t.owner_actor_id,
             t.verified, t.author_actor_id
      FROM things t LEFT JOIN members m ON m.id = t.owner_member_id
      WHERE ${thingWhere(by, v.thing)}
      LIMIT 1
    ), inserted AS (
      INSERT INTO flattrs (id, member_id, thing_id, period, created_at)
      SELECT ${v.flattr}::uuid, ${v.member}::bigint, thing.id, ${v.period}, ${v.now} FROM thing
      WHERE thing.owner_actor_id IS NULL AND thing.author_actor_id IS NULL
        AND thing.owner_member_id IS DISTINCT FROM ${v.member}::bigint
        AND ${periodIsOpenSql(v.period)}
        AND ${fundsCoverBudgetSql(v)}
      ON CONFLICT (member_id, thing_id, period) WHERE withdrawn_at IS NULL DO NOTHING
      RETURNING id
    ), ${postedSql(v)}
    SELECT thing.*, (SELECT id FROM inserted) AS flattr_id,
           EXISTS (SELECT 1 FROM webhooks w WHERE w.member_id = thing.owner_member_id AND w.deleted_at IS NULL) AS owner_has_hooks,
           EXISTS (SELECT 1 FROM posted) AS posted
    FROM thing`,
  );
}
const localClickById = localClick('id');
const localClickByUrl = localClick('url');

/** The click on any thing, a remote one included, whose Like goes to the outbox (see click). */
function anyClick(by: 'id' | 'url') {
  return renderedOnce(
    (v: ClickValues & { iri: string }) => sql<ClickRow>`
    WITH thing AS (
      SELECT ${sql.raw(THING_COLUMNS_SQL)}
      FROM things t LEFT JOIN members m ON m.id = t.owner_member_id LEFT JOIN remote_actors r ON r.id = t.owner_actor_id
      WHERE ${thingWhere(by, v.thing)}
      LIMIT 1
    ), inserted AS (
      INSERT INTO flattrs (id, member_id, thing_id, period, created_at)
      SELECT ${v.flattr}::uuid, ${v.member}::bigint, thing.id, ${v.period}, ${v.now} FROM thing
      WHERE thing.owner_member_id IS DISTINCT FROM ${v.member}::bigint
        AND ${periodIsOpenSql(v.period)}
        AND ${fundsCoverBudgetSql(v)}
        AND (thing.owner_actor_id IS NULL OR NOT ${peerRefusesSql(sql.ref('thing.owner_actor_id'))})
      ON CONFLICT (member_id, thing_id, period) WHERE withdrawn_at IS NULL DO NOTHING
      RETURNING id
    ), queued AS (
      INSERT INTO outbox (activity_id, kind, flattr_id, created_at)
      SELECT ${v.iri}, 'like', inserted.id, ${v.now} FROM inserted, thing
      WHERE thing.owner_actor_id IS NOT NULL OR thing.author_actor_id IS NOT NULL
    ), ${postedSql(v)}
    SELECT thing.*, (SELECT id FROM inserted) AS flattr_id,
           EXISTS (SELECT 1 FROM webhooks w WHERE w.member_id = thing.owner_member_id AND w.deleted_at IS NULL) AS owner_has_hooks,
           EXISTS (SELECT 1 FROM posted) AS posted
    FROM thing`,
  );
}
/**
 * The public post of the new flattr when its member publishes their flattrs (off by default):
 * in the click's statement, so the post exists exactly when the flattr does.
 */
function postedSql(v: ClickValues) {
  return sql`posted AS (
      INSERT INTO posts (id, member_id, flattr_id, created_at)
      SELECT ${v.post}::uuid, ${v.member}::bigint, inserted.id, ${v.now} FROM inserted
      WHERE EXISTS (SELECT 1 FROM members pm WHERE pm.id = ${v.member}::bigint AND pm.publish_flattrs)
      RETURNING id
    )`;
}

const clickById = anyClick('id');
const clickByUrl = anyClick('url');

/**
 * Whether the owner's instance is a peer this instance will not owe more: blocked, or already
 * owed at least the limit the admin set (what the closes booked and is not yet settled).
 */
function peerRefusesSql(actorId: RawBuilder<unknown>) {
  return sql<boolean>`EXISTS (
    SELECT 1 FROM remote_actors ra JOIN peers p ON p.origin = ra.instance_origin
    LEFT JOIN accounts a ON a.code = 'peer:' || p.origin LEFT JOIN account_balances b ON b.account_id = a.id
    WHERE ra.id = ${actorId} AND (p.blocked OR (p.owe_limit IS NOT NULL AND COALESCE(b.balance, 0) >= p.owe_limit)))`;
}

/**
 * The wallet holds the month's budget, read from the wallet's balance row locked FOR SHARE. A
 * flattr commits that budget (product rule 5) and a payout may not take it (wallet/service.ts
 * requestPayout locks the same row FOR UPDATE before it reads what flattrs committed): so a
 * month's first flattr and a payout never both pass. Whichever locks first goes first; a click
 * that waited rechecks the balance the payout left (PostgreSQL re-evaluates a locked row's
 * condition on its newest version). Clicks only share the lock, so they never wait on each other.
 */
function fundsCoverBudgetSql(v: ClickValues) {
  return sql<boolean>`EXISTS (SELECT 1 FROM account_balances funds WHERE funds.account_id = ${v.wallet}::bigint
                       AND funds.balance >= ${budgetSql(v.member, v.period, v.minBudget)} FOR SHARE)`;
}

function budgetSql(memberId: bigint, period: string, fallback: bigint) {
  return sql<bigint>`COALESCE((SELECT amount FROM budgets WHERE member_id = ${memberId} AND period <= ${period}
                               ORDER BY period DESC LIMIT 1), ${fallback}::bigint)`;
}

async function explainPeerRefusal(ctx: Context, actorId: bigint): Promise<void> {
  const { rows } = await sql<{ origin: string; blocked: boolean; refused: boolean }>`
    SELECT ra.instance_origin AS origin, COALESCE(p.blocked, false) AS blocked, ${peerRefusesSql(sql`${actorId}::bigint`)} AS refused
    FROM remote_actors ra LEFT JOIN peers p ON p.origin = ra.instance_origin WHERE ra.id = ${actorId}`.execute(ctx.db);
  const peer = rows[0];
  if (peer?.blocked) throw new AppError('peer_blocked', `this instance does not settle with ${peer.origin}, so its creators cannot be flattred from here`);
  if (peer?.refused) throw new AppError('peer_limit', `this instance already owes ${peer.origin} as much as its admins allow until the next settlement`);
}

/** The slow path: the insert was refused; find which rule refused it. */
async function explainRefusal(trx: Executor, caller: Caller, wallet: bigint, thingId: string, period: Period, minBudget: bigint): Promise<never> {
  if (await closeHasBegun(trx, period)) throw new AppError('period_closed', `the period ${period} is being closed`);
  const existing = await trx
    .selectFrom('flattrs')
    .select('id')
    .where('member_id', '=', caller.id)
    .where('thing_id', '=', thingId)
    .where('period', '=', period)
    .where('withdrawn_at', 'is', null)
    .executeTakeFirst();
  if (existing) throw new AppError('flattr_once', `you have flattred this thing in ${period} already`, { existing_id: existing.id });
  const { rows } = await sql<{ balance: bigint; budget: bigint }>`
    SELECT ${balanceSql(wallet)} AS balance, ${budgetSql(caller.id, period, minBudget)}::bigint AS budget`.execute(trx);
  const { balance, budget } = rows[0] as { balance: bigint; budget: bigint };
  throw new AppError('no_means', `your wallet (${formatAmount(balance)}) does not cover your monthly budget (${formatAmount(budget)})`, {
    balance: formatAmount(balance),
    budget: formatAmount(budget),
  });
}

export async function withdrawFlattr(ctx: Context, caller: Caller, id: string): Promise<void> {
  if (!UUID_PATTERN.test(id)) throw new AppError('not_found', 'no such flattr');
  const flattrId = id.toLowerCase();
  // The withdrawal and, for a remote owner, its Undo in the outbox: one statement.
  const { rows } = await sql<{ remote: boolean; unposted: boolean }>`
    WITH withdrawn AS (
      UPDATE flattrs SET withdrawn_at = ${ctx.clock.now()}
      WHERE id = ${flattrId}::uuid AND member_id = ${caller.id}::bigint AND withdrawn_at IS NULL
        AND ${periodIsOpenSql(sql.ref('flattrs.period'))}
      RETURNING id, thing_id
    ), queued AS (
      INSERT INTO outbox (activity_id, kind, flattr_id, created_at)
      SELECT ${undoIri(ctx, flattrId)}, 'undo', w.id, ${ctx.clock.now()}
      FROM withdrawn w JOIN things t ON t.id = w.thing_id WHERE t.owner_actor_id IS NOT NULL OR t.author_actor_id IS NOT NULL
      RETURNING id
    ), unposted AS (
      -- its public post, if it had one, is deleted where it went (activitypub/posts.ts)
      UPDATE posts SET deleted_at = ${ctx.clock.now()} FROM withdrawn w WHERE posts.flattr_id = w.id
      RETURNING posts.id
    )
    SELECT EXISTS (SELECT 1 FROM queued) AS remote, EXISTS (SELECT 1 FROM unposted) AS unposted FROM withdrawn`.execute(ctx.db);
  if (rows.length === 1) {
    if (rows[0]?.remote) wakeWorker(ctx, OUTBOX_RELAY);
    if (rows[0]?.unposted) wakeWorker(ctx, POSTS_RELAY);
    return;
  }
  const flattr = await ctx.db
    .selectFrom('flattrs')
    .select(['period', 'withdrawn_at'])
    .where('id', '=', flattrId)
    .where('member_id', '=', caller.id)
    .executeTakeFirst();
  if (!flattr || flattr.withdrawn_at) throw new AppError('not_found', 'no such flattr');
  throw new AppError('period_closed', `the period ${flattr.period} is closed: its flattrs are paid and final`);
}

/** The Undo of a flattr's Like: a flattr is withdrawn at most once, so one id per flattr. */
export function undoIri(ctx: Context, flattrId: string): string {
  return mintUndoIri(ctx.config.origin, flattrId);
}
