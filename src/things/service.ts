/**
 * Things: URLs with an owner. A local thing is registered by its owner, a member here; a remote
 * thing was found when first flattred (src/things/discover.ts) and is owned by a fediverse actor.
 * Both are found by URL or by their own IRI.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { rule } from '../core/input.ts';
import { parseIriOf, thingIri } from '../core/iris.ts';
import { isUniqueViolation, UUID_PATTERN } from '../db/errors.ts';
import type { Executor } from '../ledger/accounts.ts';
import { actorIri } from '../members/service.ts';
import { rememberActor } from './discover.ts';
import { proveOwnership } from './ownership.ts';
import { normalizeTitle, normalizeUrl } from './urls.ts';

export interface ThingView {
  id: string;
  url: string;
  title: string | null;
  /** username for a member here; handle (`@name@host`), when known, for a remote owner. */
  owner: { actor: string; username?: string; handle?: string };
  uri: string;
  /** Its content names its owner (issue 13); false: it names nobody, or could not be read. */
  verified: boolean;
}

/** A thing as queried: exactly one of the owner columns is set (things_one_owner). */
export interface ThingRow {
  id: string;
  url: string;
  title: string | null;
  owner_member_id: bigint | null;
  owner_username: string | null;
  owner_actor_id?: bigint | null;
  owner_actor_iri?: string | null;
  owner_handle?: string | null;
  uri?: string | null;
  verified: boolean;
  /** For a thing of a fediverse account claimed by a member here: that account (migration 0013). */
  author_actor_id?: bigint | null;
}

export function thingUri(ctx: Context, id: string): string {
  return thingIri(ctx.config.origin, id);
}

export function thingView(ctx: Context, row: ThingRow): ThingView {
  const owner = row.owner_username
    ? { actor: actorIri(ctx, row.owner_username), username: row.owner_username }
    : { actor: row.owner_actor_iri as string, ...(row.owner_handle ? { handle: row.owner_handle } : {}) };
  return { id: row.id, url: row.url, title: row.title, owner, uri: row.uri ?? thingUri(ctx, row.id), verified: row.verified };
}

/** Whether a thing is owned by a member of this instance. */
export function isLocal(row: ThingRow): boolean {
  return row.owner_member_id !== null;
}

/** The columns every ThingRow query selects, for joins on `things t`, `members m`, `remote_actors r`. */
export const THING_COLUMNS_SQL = `t.id, t.url, t.title, t.uri, t.owner_member_id, m.username AS owner_username,
  t.owner_actor_id, r.iri AS owner_actor_iri, r.handle AS owner_handle, t.verified, t.author_actor_id`;

function selectThings(db: Executor) {
  return db
    .selectFrom('things')
    .leftJoin('members', 'members.id', 'things.owner_member_id')
    .leftJoin('remote_actors', 'remote_actors.id', 'things.owner_actor_id')
    .select([
      'things.id',
      'things.url',
      'things.title',
      'things.uri',
      'things.owner_member_id',
      'members.username as owner_username',
      'things.owner_actor_id',
      'remote_actors.iri as owner_actor_iri',
      'remote_actors.handle as owner_handle',
      'things.verified',
      'things.author_actor_id',
    ]);
}

/** POST /api/v1/things and the creator page's form: the URL normalized, the title tidied (null when empty). */
export const ThingInput = z.object({
  url: rule(z.string().describe('An http(s) URL; its fragment is dropped.'), (input) => normalizeUrl(input)),
  title: rule(z.string().nullable(), normalizeTitle).optional(),
});
export type ThingInput = z.output<typeof ThingInput>;

/**
 * Registers a URL as the caller's thing, after reading whose it is (ownership.ts): refused when
 * its content names someone else, verified when it names the caller, else unverified. `input` as
 * ThingInput parsed it.
 */
export async function registerThing(ctx: Context, caller: Caller, input: ThingInput): Promise<ThingView> {
  const url = input.url;
  const given = input.title ?? null;
  const known = await findThingByUrl(ctx, url);
  if (known) throw new AppError('thing_exists', 'this URL is already registered as a thing', { existing_id: known.id });
  const proof = await proveOwnership(ctx, caller, url);
  const title = given ?? (proof.title ? normalizeTitle(proof.title) : null);
  const author = proof.author ? await rememberActor(ctx, ctx.db, proof.author) : null;
  const id = randomUUID();
  try {
    await ctx.db
      .insertInto('things')
      .values({ id, url, title, owner_member_id: caller.id, created_at: ctx.clock.now(), verified: proof.verified, author_actor_id: author })
      .execute();
  } catch (error) {
    if (isUniqueViolation(error, 'things_url_key')) {
      const existing = await findThingByUrl(ctx, url);
      throw new AppError('thing_exists', 'this URL is already registered as a thing', { existing_id: existing?.id });
    }
    throw error;
  }
  return thingView(ctx, { id, url, title, owner_member_id: caller.id, owner_username: caller.username, verified: proof.verified });
}

export function findThingById(ctx: Context, id: string, db: Executor = ctx.db): Promise<ThingRow | undefined> {
  if (!UUID_PATTERN.test(id)) return Promise.resolve(undefined);
  return selectThings(db).where('things.id', '=', id.toLowerCase()).executeTakeFirst();
}

/**
 * A URL names a thing as what was registered or flattred, as the thing's own IRI on this
 * instance, or as a remote thing's IRI.
 */
export async function findThingByUrl(ctx: Context, url: string, db: Executor = ctx.db): Promise<ThingRow | undefined> {
  const id = ownThingId(ctx, url);
  if (id) return findThingById(ctx, id, db);
  return selectThings(db)
    .where((eb) => eb.or([eb('things.url', '=', url), eb('things.uri', '=', url)]))
    .executeTakeFirst();
}

/** The id in a URL that is a thing's own IRI on this instance, else undefined. */
export function ownThingId(ctx: Context, url: string): string | undefined {
  // A trailing slash is tolerated (a link may add one).
  return parseIriOf(ctx.config.origin, url.replace(/\/$/, ''), 'thing')?.id;
}

export async function lookupThing(ctx: Context, urlInput: unknown): Promise<ThingView> {
  const url = normalizeUrl(urlInput);
  const row = await findThingByUrl(ctx, url);
  if (!row) throw new AppError('not_found', 'no thing is known for this URL');
  return thingView(ctx, row);
}

export async function getThing(ctx: Context, id: string): Promise<ThingView> {
  const row = await findThingById(ctx, id);
  if (!row) throw new AppError('not_found', 'no such thing');
  return thingView(ctx, row);
}
