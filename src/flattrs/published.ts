/**
 * Published flattrs (issue 13): which flattr ids the outside may dereference, and in what state.
 * A flattr is public only where it was published: a flattr of a remote thing (its Like went to
 * the owner's server) or one of a member who publishes their flattrs; a published flattr's post
 * too. The ActivityPub adapter serves them as a Like and a Note (src/activitypub/objects.ts); the
 * pages answer what it does not serve (a withdrawn flattr: 410; an HTML request).
 */
import { sql } from 'kysely';
import type { Context } from '../context.ts';
import { UUID_PATTERN } from '../db/errors.ts';

export interface FlattrRow {
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

/** A public flattr (undefined for an id nobody published), withdrawn or not. */
export async function publicFlattr(ctx: Context, id: string): Promise<FlattrRow | undefined> {
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

/** A published flattr's post (undefined for an unknown id), deleted or not. */
export async function publishedPost(ctx: Context, id: string) {
  if (!UUID_PATTERN.test(id)) return undefined;
  return ctx.db
    .selectFrom('posts')
    .innerJoin('members', 'members.id', 'posts.member_id')
    .innerJoin('flattrs', 'flattrs.id', 'posts.flattr_id')
    .innerJoin('things', 'things.id', 'flattrs.thing_id')
    .select(['posts.id', 'members.username', 'posts.created_at', 'posts.deleted_at', 'things.id as thing_id', 'things.url as thing_url', 'things.title'])
    .where('posts.id', '=', id.toLowerCase())
    .executeTakeFirst();
}

/** What a flattr's or post's id is now, for a page: live (on which thing), gone, or unknown (undefined). */
export async function publishedState(
  ctx: Context,
  kind: 'flattr' | 'post',
  id: string,
): Promise<{ state: 'live'; thingId: string } | { state: 'gone' } | undefined> {
  if (kind === 'flattr') {
    const row = await publicFlattr(ctx, id);
    if (!row) return undefined;
    return row.withdrawn_at ? { state: 'gone' } : { state: 'live', thingId: row.thing_id };
  }
  const row = await publishedPost(ctx, id);
  if (!row) return undefined;
  return row.deleted_at ? { state: 'gone' } : { state: 'live', thingId: row.thing_id };
}
