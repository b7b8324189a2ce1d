/**
 * A member's public face (issue 13): the display name and bio their profile page and their
 * fediverse actor show, and whether their flattrs are published to their followers. Both texts
 * are bounded and refuse control characters (a bio keeps its line breaks) and the bidirectional
 * overrides that make a name read as someone else's; empty means "none".
 */
import { z } from 'zod';
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { escapeHtml } from '../core/escape-html.ts';
import { rule } from '../core/input.ts';
import { avatarIri } from '../core/iris.ts';
import { actorIri } from './service.ts';

export const DISPLAY_NAME_MAX = 100;
export const BIO_MAX = 1000;

/** C0 and C1 controls (a bio may keep \n), DEL, and the bidi embeddings, overrides and isolates. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these characters are what the rule refuses
const FORBIDDEN = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/;

export interface ProfileView {
  username: string;
  display_name: string | null;
  bio: string | null;
  /** The avatar's stable URL (a generated picture until one is uploaded). */
  avatar: string;
  avatar_uploaded: boolean;
  publish_flattrs: boolean;
  /** The profile page, which is also the member's actor IRI. */
  url: string;
}

function checkDisplayName(value: string | null): string | null {
  if (value === null) return null;
  const text = value.normalize('NFC').trim();
  if (text.includes('\n') || FORBIDDEN.test(text)) {
    throw new AppError('invalid_request', 'display_name cannot contain line breaks or control characters', { field: 'display_name' });
  }
  if ([...text].length > DISPLAY_NAME_MAX)
    throw new AppError('invalid_request', `display_name must be at most ${DISPLAY_NAME_MAX} characters`, { field: 'display_name' });
  return text === '' ? null : text;
}

function checkBio(value: string | null): string | null {
  if (value === null) return null;
  const text = value.normalize('NFC').replace(/\r\n?/g, '\n').trim();
  if (FORBIDDEN.test(text)) throw new AppError('invalid_request', 'bio cannot contain control characters (line breaks are fine)', { field: 'bio' });
  if ([...text].length > BIO_MAX) throw new AppError('invalid_request', `bio must be at most ${BIO_MAX} characters`, { field: 'bio' });
  return text === '' ? null : text;
}

/** A display name: one line, at most DISPLAY_NAME_MAX characters; null or "" clears it (null). */
export const DisplayName = rule(
  z
    .string()
    .meta({ maxLength: DISPLAY_NAME_MAX * 2 })
    .nullable(),
  checkDisplayName,
);
/** A bio: line breaks kept, at most BIO_MAX characters; null or "" clears it (null). */
export const Bio = rule(
  z
    .string()
    .meta({ maxLength: BIO_MAX * 2 })
    .nullable(),
  checkBio,
  { multiline: true },
);

/** PUT /api/v1/me/profile: absent fields stay as they are. */
export const ProfileInput = z.object({
  display_name: DisplayName.optional().describe(`At most ${DISPLAY_NAME_MAX} characters, one line, no control characters.`),
  bio: Bio.optional().describe(`At most ${BIO_MAX} characters; line breaks are kept, other control characters refused.`),
  publish_flattrs: z.boolean().optional().describe('Off by default.'),
});
export type ProfileInput = z.output<typeof ProfileInput>;

/** The profile page's "about" form: both fields, an absent one cleared. */
export const ProfileAboutInput = z.object({ display_name: DisplayName.prefault(null), bio: Bio.prefault(null) });

export function avatarUrl(ctx: Context, username: string, digest: string | null): string {
  return avatarIri(ctx.config.origin, username, digest);
}

/** The public profile of a member by exact username, or undefined. */
export async function profileOf(ctx: Context, username: string): Promise<(ProfileView & { id: bigint; created_at: Date; listed: boolean }) | undefined> {
  const row = await ctx.db
    .selectFrom('members')
    .leftJoin('avatars', 'avatars.member_id', 'members.id')
    .select([
      'members.id',
      'members.username',
      'members.display_name',
      'members.bio',
      'members.publish_flattrs',
      'members.created_at',
      'members.listed',
      'avatars.digest',
    ])
    .where('members.username', '=', username)
    .executeTakeFirst();
  if (!row) return undefined;
  return {
    id: row.id,
    username: row.username,
    display_name: row.display_name,
    bio: row.bio,
    avatar: avatarUrl(ctx, row.username, row.digest ?? null),
    avatar_uploaded: row.digest !== null,
    publish_flattrs: row.publish_flattrs,
    url: actorIri(ctx, row.username),
    created_at: row.created_at,
    listed: row.listed,
  };
}

export async function myProfile(ctx: Context, caller: Caller): Promise<ProfileView> {
  const found = await profileOf(ctx, caller.username);
  if (!found) throw new AppError('not_found', 'no such member');
  const { id: _id, created_at: _c, listed: _l, ...view } = found;
  return view;
}

/** Sets the fields given (undefined leaves a field as it is), as ProfileInput parsed them. */
export async function updateProfile(ctx: Context, caller: Caller, input: ProfileInput): Promise<ProfileView> {
  const set: { display_name?: string | null; bio?: string | null; publish_flattrs?: boolean } = {};
  if (input.display_name !== undefined) set.display_name = input.display_name;
  if (input.bio !== undefined) set.bio = input.bio;
  if (input.publish_flattrs !== undefined) set.publish_flattrs = input.publish_flattrs;
  if (Object.keys(set).length > 0) await ctx.db.updateTable('members').set(set).where('id', '=', caller.id).execute();
  return myProfile(ctx, caller);
}

/** The bio as the actor's `summary`: escaped HTML, a paragraph per blank-line block, <br> per line. */
export function bioHtml(bio: string | null): string | null {
  if (!bio) return null;
  return bio
    .split(/\n{2,}/)
    .map((p) => `<p>${escapeHtml(p).replace(/\n/g, '<br>')}</p>`)
    .join('');
}
