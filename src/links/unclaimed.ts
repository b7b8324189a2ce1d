/**
 * Money waiting for fediverse accounts (product rule 8, issue 13): what the close holds as
 * unclaimed for each account, until which close, and telling the account. The admin lists it
 * (GET /api/v1/admin/unclaimed, /admin/unclaimed); each account has a public page
 * (/unclaimed/{account IRI, URL-encoded}) saying how much waits, until when and how to claim it.
 *
 * The instance actor tells an account by a direct message when money first waits for it, and
 * once more when the next close would give it to the charity; never more than one message per
 * account and calendar month. Each decision is a row of unclaimed_notices written in the same
 * transaction as its outbox row, so the relay (outbox.ts) sends it through Fedify's queue,
 * retried and surviving restarts; the unique keys make deciding twice send nothing twice.
 * FARTHING_NOTIFY_UNCLAIMED=off decides nothing.
 */
import { sql } from 'kysely';
import { HOLD_CLOSES } from '../close/stages.ts';
import type { Context } from '../context.ts';
import { escapeHtml } from '../core/escape-html.ts';
import { noticeIri, unclaimedIri } from '../core/iris.ts';
import { formatAmount } from '../core/money.ts';
import { addMonths, type Period, periodEnd, periodOf } from '../core/period.ts';
import type { Executor } from '../ledger/accounts.ts';
import { OUTBOX_RELAY, wakeWorker } from '../worker.ts';

export interface UnclaimedItem {
  /** The account's actor IRI. */
  account: string;
  handle: string | null;
  amount: string;
  flattrs: number;
  /** The periods whose shares wait, oldest first. */
  periods: string[];
  /** The close (of this period) at which the oldest of it goes to the charity. */
  expires: string;
  /** When that period ends (the close follows). */
  expires_at: string;
  /** The public page about it. */
  page: string;
}

interface Row {
  actor_id: bigint;
  account: string;
  handle: string | null;
  amount: bigint;
  flattrs: bigint;
  periods: string[] | string;
  since: string;
}

/** Every account with money held as unclaimed, or just `account`'s. */
async function unclaimedRows(db: Executor, account?: string, limit = 1000): Promise<Row[]> {
  const { rows } = await sql<Row>`
    SELECT r.id AS actor_id, r.iri AS account, r.handle, sum(u.amount)::bigint AS amount,
           (SELECT count(*) FROM shares s WHERE s.recipient_actor_id = r.id AND s.disposition = 'unclaimed'
              AND s.period IN (SELECT period FROM unclaimed x WHERE x.actor_id = r.id AND x.state = 'held'))::bigint AS flattrs,
           array_agg(u.period ORDER BY u.period) AS periods, min(u.period) AS since
    FROM unclaimed u JOIN remote_actors r ON r.id = u.actor_id
    WHERE u.state = 'held' ${account === undefined ? sql`` : sql`AND r.iri = ${account}`}
    GROUP BY r.id, r.iri, r.handle
    ORDER BY min(u.period), r.id
    LIMIT ${limit}`.execute(db);
  return rows;
}

function periodsOf(value: string[] | string): string[] {
  // PGlite and node-postgres both parse text[]; a driver that did not would hand '{a,b}'.
  return Array.isArray(value)
    ? value
    : value
        .replace(/^\{|\}$/g, '')
        .split(',')
        .filter(Boolean);
}

export function unclaimedPage(ctx: Context, account: string): string {
  return unclaimedIri(ctx.config.origin, account);
}

function item(ctx: Context, row: Row): UnclaimedItem {
  const expires = addMonths(row.since as Period, HOLD_CLOSES);
  return {
    account: row.account,
    handle: row.handle,
    amount: formatAmount(row.amount),
    flattrs: Number(row.flattrs),
    periods: periodsOf(row.periods),
    expires,
    expires_at: periodEnd(expires).toISOString(),
    page: unclaimedPage(ctx, row.account),
  };
}

export async function listUnclaimed(ctx: Context): Promise<{ items: UnclaimedItem[] }> {
  return { items: (await unclaimedRows(ctx.db)).map((r) => item(ctx, r)) };
}

export async function unclaimedFor(ctx: Context, account: string): Promise<UnclaimedItem | undefined> {
  if (account.length > 2048) return undefined;
  const [row] = await unclaimedRows(ctx.db, account, 1);
  return row && item(ctx, row);
}

/** The latest closed period, if any. */
async function lastClosed(db: Executor): Promise<string | null> {
  const row = await db
    .selectFrom('closes')
    .select((eb) => eb.fn.max('period').as('period'))
    .where('stage', '=', 'done')
    .executeTakeFirst();
  return (row?.period as string | null | undefined) ?? null;
}

/** A message as sent: its id, the one account it is addressed to, its text and when it was decided. */
export interface NoticeRecord {
  id: string;
  account: string;
  handle: string | null;
  content: string;
  created_at: Date;
}

/** The message `id` (the number in its IRI, src/core/iris.ts), if there is one. */
export async function noticeRecord(ctx: Context, id: string): Promise<NoticeRecord | undefined> {
  if (!/^[1-9][0-9]{0,18}$/.test(id) || BigInt(id) > 9_223_372_036_854_775_807n) return undefined;
  const row = await ctx.db
    .selectFrom('unclaimed_notices as n')
    .innerJoin('remote_actors as r', 'r.id', 'n.actor_id')
    .select(['n.id', 'n.content', 'n.created_at', 'r.iri', 'r.handle'])
    .where('n.id', '=', BigInt(id))
    .executeTakeFirst();
  return row ? { id: noticeIri(ctx.config.origin, row.id), account: row.iri, handle: row.handle, content: row.content, created_at: row.created_at } : undefined;
}

/** The text of a message; Mastodon shows the mention as a link to the account. */
export function noticeContent(ctx: Context, kind: 'first' | 'expiring', it: UnclaimedItem): string {
  const host = new URL(ctx.config.origin).host;
  const name = it.handle ?? it.account;
  const user = it.handle ? it.handle.replace(/^@/, '').split('@')[0] : it.account;
  const money = `${it.amount} ${ctx.config.currency}`;
  const lead =
    kind === 'first'
      ? `people on ${host} flattred your posts: ${money} waits for you there`
      : `last reminder: ${money} from flattrs of your posts still waits for you on ${host}`;
  return (
    `<p><span class="h-card"><a href="${escapeHtml(it.account)}" class="u-url mention">@<span>${escapeHtml(user ?? name)}</span></a></span> ` +
    `${escapeHtml(lead)}, until the close of ${it.expires}; then it goes to the instance's charity. ` +
    `To receive it, link this account to your profile on any Farthing instance. ` +
    `How: <a href="${escapeHtml(it.page)}">${escapeHtml(it.page)}</a></p>`
  );
}

/**
 * Decides which accounts to tell now and queues their messages; answers how many. An account is
 * told first when money waits for it and it was never told of that money (`since`: its oldest
 * held period), and again when the next close gives that money to the charity.
 */
export async function noticeUnclaimed(ctx: Context): Promise<number> {
  if (!ctx.config.notifyUnclaimed) return 0;
  const month = periodOf(ctx.clock.now());
  const closed = await lastClosed(ctx.db);
  let queued = 0;
  for (const row of await unclaimedRows(ctx.db)) {
    const it = item(ctx, row);
    // The next close after `closed` expires it: the last month to say so.
    const expiringNow = closed !== null && closed >= addMonths(it.expires as Period, -1);
    const sent = await ctx.db.transaction().execute(async (trx) => {
      const told = await trx
        .selectFrom('unclaimed_notices')
        .select(['kind', 'month'])
        .where('actor_id', '=', row.actor_id)
        .where((eb) => eb.or([eb('since', '=', row.since), eb('month', '=', month)]))
        .execute();
      if (told.some((n) => n.month === month)) return false;
      const kind = !told.some((n) => n.kind === 'first' || n.kind === 'expiring')
        ? 'first'
        : expiringNow && !told.some((n) => n.kind === 'expiring')
          ? 'expiring'
          : null;
      if (!kind) return false;
      const notice = await trx
        .insertInto('unclaimed_notices')
        .values({
          actor_id: row.actor_id,
          kind,
          since: row.since,
          month,
          amount: row.amount,
          expires: it.expires,
          content: noticeContent(ctx, kind, it),
          created_at: ctx.clock.now(),
        })
        .onConflict((oc) => oc.doNothing())
        .returning('id')
        .executeTakeFirst();
      if (!notice) return false;
      await trx
        .insertInto('outbox')
        .values({ activity_id: noticeIri(ctx.config.origin, notice.id), kind: 'notice', notice_id: notice.id, flattr_id: null, created_at: ctx.clock.now() })
        .execute();
      return true;
    });
    if (sent) queued++;
  }
  if (queued > 0) {
    ctx.log.info({ queued }, 'unclaimed money: accounts told');
    wakeWorker(ctx, OUTBOX_RELAY);
  }
  return queued;
}
