/**
 * Avatars (issue 13). An upload is checked by its bytes, never by what the client says it is:
 * its magic number must be PNG, JPEG, WebP or GIF and agree with what the decoder reads; at most
 * AVATAR_MAX_BYTES; its declared dimensions are checked before any pixel is decoded, and sharp
 * refuses to decode more than MAX_PIXELS (limitInputPixels), so a small file declaring a huge
 * image (a decompression bomb) costs nothing. It is then turned upright, cropped to
 * AVATAR_SIZE square and re-encoded as WebP: no metadata (EXIF, GPS) survives.
 *
 * Without an upload a member has a picture generated from their username: a symmetric 5×5
 * pattern in a colour of the username's hash, as PNG (fediverse servers do not take SVG avatars).
 */
import { createHash } from 'node:crypto';
import type { Metadata, SharpConstructor } from 'sharp';
import type { Caller, Context } from '../context.ts';
import { AppError } from '../core/errors.ts';

export const AVATAR_MAX_BYTES = 2 * 1024 * 1024;
export const AVATAR_SIZE = 400;
/** 25 megapixels (5000 × 5000): more than any camera photo a member would pick, far below a bomb. */
export const MAX_PIXELS = 25_000_000;
const MAX_SIDE = 10_000;

type Kind = 'png' | 'jpeg' | 'webp' | 'gif';

let library: Promise<SharpConstructor> | undefined;
/** sharp (libvips), loaded at the first picture: loading it is 0.1 s of CPU at every start otherwise. */
function loadSharp(): Promise<SharpConstructor> {
  library ??= import('sharp').then((module) => module.default);
  return library;
}

/** What the first bytes say the file is, or undefined. */
export function sniffImage(bytes: Uint8Array): Kind | undefined {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (b.length >= 8 && b.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (b.length >= 12 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') return 'webp';
  if (b.length >= 6 && (b.toString('latin1', 0, 6) === 'GIF87a' || b.toString('latin1', 0, 6) === 'GIF89a')) return 'gif';
  return undefined;
}

/** Checks and converts an upload; answers the WebP to store. Refusals are AppErrors. */
export async function processAvatar(bytes: Uint8Array): Promise<Buffer> {
  if (bytes.byteLength === 0) throw new AppError('invalid_image', 'the upload is empty: send a PNG, JPEG, WebP or GIF picture', { field: 'avatar' });
  if (bytes.byteLength > AVATAR_MAX_BYTES) {
    throw new AppError('payload_too_large', `the picture is larger than ${AVATAR_MAX_BYTES / 1024 / 1024} MiB`, { field: 'avatar' });
  }
  const kind = sniffImage(bytes);
  if (!kind) throw new AppError('unsupported_media_type', 'the upload is not a PNG, JPEG, WebP or GIF picture', { field: 'avatar' });
  const sharp = await loadSharp();
  const input = () => sharp(bytes, { limitInputPixels: MAX_PIXELS, failOn: 'error', animated: false });
  let meta: Metadata;
  try {
    // The header only (no pixel is decoded), so the dimensions can be refused with a reason.
    meta = await sharp(bytes, { limitInputPixels: false, failOn: 'error', animated: false }).metadata();
  } catch {
    throw new AppError('invalid_image', `the ${kind.toUpperCase()} picture cannot be read`, { field: 'avatar' });
  }
  if (meta.format !== kind) throw new AppError('invalid_image', `the file starts as ${kind.toUpperCase()} but is not one`, { field: 'avatar' });
  const { width, height } = meta;
  if (!width || !height || width > MAX_SIDE || height > MAX_SIDE || width * height > MAX_PIXELS) {
    throw new AppError(
      'invalid_image',
      `the picture is ${width ?? '?'}×${height ?? '?'} pixels; at most ${MAX_PIXELS / 1_000_000} megapixels and ${MAX_SIDE} pixels a side`,
      { field: 'avatar' },
    );
  }
  try {
    return await input()
      .rotate() // upright by its EXIF orientation, before the metadata goes
      .resize(AVATAR_SIZE, AVATAR_SIZE, { fit: 'cover' })
      .webp({ quality: 82 })
      .toBuffer();
  } catch {
    throw new AppError('invalid_image', `the ${kind.toUpperCase()} picture cannot be read`, { field: 'avatar' });
  }
}

function digestOf(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 16);
}

export async function setAvatar(ctx: Context, caller: Caller, bytes: Uint8Array): Promise<void> {
  const image = await processAvatar(bytes);
  const row = { image, media_type: 'image/webp' as const, digest: digestOf(image), updated_at: ctx.clock.now() };
  await ctx.db
    .insertInto('avatars')
    .values({ member_id: caller.id, ...row })
    .onConflict((oc) => oc.column('member_id').doUpdateSet(row))
    .execute();
}

export async function removeAvatar(ctx: Context, caller: Caller): Promise<void> {
  await ctx.db.deleteFrom('avatars').where('member_id', '=', caller.id).execute();
}

export interface AvatarImage {
  body: Buffer;
  mediaType: 'image/webp' | 'image/png';
}

/** A member's avatar by exact username: the upload, else the generated picture; undefined for nobody. */
export async function avatarOf(ctx: Context, username: string): Promise<AvatarImage | undefined> {
  const row = await ctx.db
    .selectFrom('members')
    .leftJoin('avatars', 'avatars.member_id', 'members.id')
    .select(['members.username', 'avatars.image', 'avatars.media_type'])
    .where('members.username', '=', username)
    .executeTakeFirst();
  if (!row) return undefined;
  if (row.image && row.media_type) return { body: Buffer.from(row.image), mediaType: row.media_type };
  return { body: await generatedAvatar(row.username), mediaType: 'image/png' };
}

const generated = new Map<string, Buffer>();

/** The picture made from a username: the same username always gives the same picture. */
export async function generatedAvatar(username: string): Promise<Buffer> {
  const cached = generated.get(username);
  if (cached) return cached;
  const hash = createHash('sha256').update(username.toLowerCase()).digest();
  const hue = (hash[0]! * 360) / 256;
  const [r, g, b] = hslToRgb(hue, 0.55, 0.5);
  const background = [240, 240, 240];
  // 5×5 cells mirrored left to right, on a grid of 7×7 with a one-cell margin.
  const cells = 7;
  const raw = Buffer.alloc(cells * cells * 3);
  for (let y = 0; y < cells; y++) {
    for (let x = 0; x < cells; x++) {
      const inner = x > 0 && x < 6 && y > 0 && y < 6;
      const column = x - 1 < 3 ? x - 1 : 4 - (x - 1);
      const on = inner && (hash[1 + (y - 1) * 3 + column]! & 1) === 1;
      raw.set(on ? [r, g, b] : background, (y * cells + x) * 3);
    }
  }
  const sharp = await loadSharp();
  const png = await sharp(raw, { raw: { width: cells, height: cells, channels: 3 } })
    .resize(AVATAR_SIZE - (AVATAR_SIZE % cells), AVATAR_SIZE - (AVATAR_SIZE % cells), { kernel: 'nearest' })
    .png({ palette: true })
    .toBuffer();
  if (generated.size >= 1000) generated.delete(generated.keys().next().value as string);
  generated.set(username, png);
  return png;
}

function hslToRgb(h: number, s: number, l: number): [number, number, number] {
  const k = (n: number) => (n + h / 30) % 12;
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => Math.round(255 * (l - a * Math.max(-1, Math.min(k(n) - 3, Math.min(9 - k(n), 1)))));
  return [f(0), f(8), f(4)];
}
