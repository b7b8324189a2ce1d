/**
 * Every id this instance mints dereferences (issue 13): a flattr's Like at /flattrs/{id} (the
 * same Like the outbox sent; gone once withdrawn), a published flattr's Note at /posts/{id}, and
 * a period at /periods/{YYYY-MM} (the `context` of every Like). Fedify serves the live objects
 * to ActivityPub clients; what it does not serve (a withdrawn flattr: 410; an HTML request) falls
 * through to fastify (src/web/routes/citizens.ts) with the same states from here.
 *
 * A flattr is public only where it was published: a flattr of a remote thing (its Like went to
 * the owner's server) or one of a member who publishes their flattrs. Any other flattr id is
 * unknown to the outside (404), as it always was.
 */
import { Temporal } from '@js-temporal/polyfill';
import { Like, Note, Object as APObject, PUBLIC_COLLECTION } from '@fedify/vocab';
import { sql } from 'kysely';
import type { Context } from '../context.ts';
import { isPeriod, type Period, periodEnd, periodOf, periodStart } from '../core/period.ts';
import { UUID_PATTERN } from '../db/errors.ts';
import { firstPeriod } from '../close/run.ts';
import { flattrIri } from '../flattrs/service.ts';
import { actorIri } from '../members/service.ts';
import { periodIri } from './outbox.ts';
import { instanceActorIri, postIri as mintPostIri, thingIri } from '../core/iris.ts';

export function instant(date: Date): Temporal.Instant {
  return Temporal.Instant.fromEpochMilliseconds(date.getTime());
}

export function postIri(ctx: Context, id: string): string {
  return mintPostIri(ctx.config.origin, id);
}

interface FlattrRow {
  id: string;
  period: string;
  withdrawn_at: Date | null;
  username: string;
  thing_id: string;
  thing_uri: string | null;
  thing_url: string;
  title: string | null;
  owner_username: string | null;
  owner_actor_iri: string | null;
  post_id: string | null;
  post_deleted: boolean;
}

async function publicFlattr(ctx: Context, id: string): Promise<FlattrRow | undefined> {
  if (!UUID_PATTERN.test(id)) return undefined;
  const { rows } = await sql<FlattrRow>`
    SELECT f.id, f.period, f.withdrawn_at, m.username, t.id AS thing_id, t.uri AS thing_uri, t.url AS thing_url, t.title,
           om.username AS owner_username, COALESCE(cb.iri, r.iri) AS owner_actor_iri,
           p.id AS post_id, (p.deleted_at IS NOT NULL) AS post_deleted
    FROM flattrs f
    JOIN members m ON m.id = f.member_id
    JOIN things t ON t.id = f.thing_id
    LEFT JOIN members om ON om.id = t.owner_member_id
    LEFT JOIN remote_actors r ON r.id = t.owner_actor_id
    LEFT JOIN remote_actors cb ON cb.iri = r.claimed_by
    LEFT JOIN posts p ON p.flattr_id = f.id
    WHERE f.id = ${id.toLowerCase()}::uuid AND (t.owner_actor_id IS NOT NULL OR p.id IS NOT NULL)`.execute(ctx.db);
  return rows[0];
}

export type Dereferenced<T> = { state: 'live'; object: T; thingId: string } | { state: 'gone' } | undefined;

/** The Like of a public flattr; gone once withdrawn; undefined for an id nobody published. */
export async function flattrObject(ctx: Context, id: string): Promise<Dereferenced<Like>> {
  const row = await publicFlattr(ctx, id);
  if (!row) return undefined;
  if (row.withdrawn_at) return { state: 'gone' };
  const owner = row.owner_username ? actorIri(ctx, row.owner_username) : row.owner_actor_iri;
  const like = new Like({
    id: new URL(flattrIri(ctx, row.id)),
    actor: new URL(actorIri(ctx, row.username)),
    object: new URL(row.thing_uri ?? (row.owner_username ? thingIri(ctx.config.origin, row.thing_id) : row.thing_url)),
    contexts: [new URL(periodIri(ctx, row.period))],
    ...(owner ? { to: new URL(owner) } : {}),
  });
  return { state: 'live', object: like, thingId: row.thing_id };
}

/** The words of a published flattr, as HTML: "flattred <a href=url>title</a>". */
export function postContent(thing: { url: string; title: string | null }): string {
  const escape = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
  return `<p>flattred <a href="${escape(thing.url)}" rel="nofollow noopener noreferrer" target="_blank">${escape(thing.title ?? thing.url)}</a></p>`;
}

export interface PostRow {
  id: string;
  username: string;
  created_at: Date;
  thing_id: string;
  thing_url: string;
  title: string | null;
}

/** The Note of a published flattr: public, to the member's followers too. */
export function postNote(ctx: Context, followers: URL, row: PostRow): Note {
  return new Note({
    id: new URL(postIri(ctx, row.id)),
    attribution: new URL(actorIri(ctx, row.username)),
    content: postContent({ url: row.thing_url, title: row.title }),
    url: new URL(thingIri(ctx.config.origin, row.thing_id)),
    to: PUBLIC_COLLECTION,
    cc: followers,
    published: instant(row.created_at),
  });
}

export async function postObject(ctx: Context, followers: (username: string) => URL, id: string): Promise<Dereferenced<Note>> {
  if (!UUID_PATTERN.test(id)) return undefined;
  const row = await ctx.db
    .selectFrom('posts')
    .innerJoin('members', 'members.id', 'posts.member_id')
    .innerJoin('flattrs', 'flattrs.id', 'posts.flattr_id')
    .innerJoin('things', 'things.id', 'flattrs.thing_id')
    .select(['posts.id', 'members.username', 'posts.created_at', 'posts.deleted_at', 'things.id as thing_id', 'things.url as thing_url', 'things.title'])
    .where('posts.id', '=', id.toLowerCase())
    .executeTakeFirst();
  if (!row) return undefined;
  if (row.deleted_at) return { state: 'gone' };
  return { state: 'live', object: postNote(ctx, followers(row.username), row), thingId: row.thing_id };
}

export interface PeriodFacts {
  period: Period;
  start: Date;
  end: Date;
  /** open: flattrs still count; closing: being closed; closed: split and booked. */
  state: 'open' | 'ended' | 'closing' | 'closed';
  closedAt: Date | null;
}

/** A period of this instance from its first to the current one; undefined otherwise. */
export async function periodFacts(ctx: Context, value: string): Promise<PeriodFacts | undefined> {
  if (!isPeriod(value)) return undefined;
  const now = ctx.clock.now();
  if (value > periodOf(now) || value < (await firstPeriod(ctx))) return undefined;
  const close = await ctx.db.selectFrom('closes').select(['stage', 'finished_at']).where('period', '=', value).executeTakeFirst();
  const state = close ? (close.stage === 'done' ? 'closed' : 'closing') : value < periodOf(now) ? 'ended' : 'open';
  return { period: value, start: periodStart(value), end: periodEnd(value), state, closedAt: close?.finished_at ?? null };
}

export function periodDescription(ctx: Context, facts: PeriodFacts): string {
  const host = new URL(ctx.config.origin).host;
  const how = 'Each member’s monthly budget is split equally among everything they flattred in it.';
  const when = {
    open: 'It is the current month: flattrs made now count in it.',
    ended: 'It has ended and waits for its close.',
    closing: 'It is being closed.',
    closed: `It was closed${facts.closedAt ? ` on ${facts.closedAt.toISOString().slice(0, 10)}` : ''}: its flattrs are paid and final.`,
  }[facts.state];
  return `The month ${facts.period} on ${host}. ${how} ${when}`;
}

/** The period as an ActivityPub object (the `context` a Like names). */
export async function periodObject(ctx: Context, value: string): Promise<APObject | null> {
  const facts = await periodFacts(ctx, value);
  if (!facts) return null;
  return new APObject({
    id: new URL(periodIri(ctx, facts.period)),
    name: `${facts.period} on ${new URL(ctx.config.origin).host}`,
    summary: periodDescription(ctx, facts),
    startTime: instant(facts.start),
    endTime: instant(facts.end),
    url: new URL(periodIri(ctx, facts.period)),
    attribution: new URL(instanceActorIri(ctx.config.origin)),
  });
}
