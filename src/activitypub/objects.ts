/**
 * Every id this instance mints dereferences (issue 13): a flattr's Like at /flattrs/{id} (the
 * same Like the outbox sent; gone once withdrawn), a published flattr's Note at /posts/{id}, and
 * a period at /periods/{YYYY-MM} (the `context` of every Like). Fedify serves the live objects
 * to ActivityPub clients; what it does not serve (a withdrawn flattr: 410; an HTML request) falls
 * through to fastify (src/web/routes/citizens.ts) with the same states (src/flattrs/published.ts).
 *
 * A flattr is public only where it was published: a flattr of a remote thing (its Like went to
 * the owner's server) or one of a member who publishes their flattrs. Any other flattr id is
 * unknown to the outside (404), as it always was.
 */

import { Object as APObject, Like, Note, PUBLIC_COLLECTION } from '@fedify/vocab';
import { periodDescription, periodFacts } from '../close/period-facts.ts';
import type { Context } from '../context.ts';
import { escapeHtml } from '../core/escape-html.ts';
import { instanceActorIri, postIri as mintPostIri, thingIri } from '../core/iris.ts';
import { publicFlattr, publishedPost } from '../flattrs/published.ts';
import { flattrIri } from '../flattrs/service.ts';
import { actorIri } from '../members/service.ts';
import { periodIri } from './outbox.ts';
import { instant } from './temporal.ts';

export function postIri(ctx: Context, id: string): string {
  return mintPostIri(ctx.config.origin, id);
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
  return `<p>flattred <a href="${escapeHtml(thing.url)}" rel="nofollow noopener noreferrer" target="_blank">${escapeHtml(thing.title ?? thing.url)}</a></p>`;
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
  const row = await publishedPost(ctx, id);
  if (!row) return undefined;
  if (row.deleted_at) return { state: 'gone' };
  return { state: 'live', object: postNote(ctx, followers(row.username), row), thingId: row.thing_id };
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
