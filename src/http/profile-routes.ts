/**
 * The member's public face in the JSON API (issue 13): GET/PUT /api/v1/me/profile (display name,
 * bio, whether their flattrs are published to their followers) and PUT/DELETE /api/v1/me/avatar.
 * The avatar is the request body itself (image/png, image/jpeg, image/webp, image/gif or
 * application/octet-stream), at most 2 MiB; it is checked by its bytes (members/avatar.ts), the
 * declared type only lets the body in. The parser lives in this plugin's scope alone: every
 * other API route still speaks JSON only.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { AVATAR_MAX_BYTES, removeAvatar, setAvatar } from '../members/avatar.ts';
import { myProfile, ProfileInput, updateProfile } from '../members/profile.ts';
import { callerOf } from './auth.ts';
import { errors } from './schemas.ts';

export const AVATAR_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif', 'application/octet-stream'];

export const Profile = z
  .object({
    username: z.string(),
    display_name: z.string().nullable(),
    bio: z.string().nullable(),
    avatar: z.string().describe('The avatar’s URL: the upload, or a picture generated from the username.'),
    avatar_uploaded: z.boolean(),
    publish_flattrs: z.boolean().describe('Whether each flattr is posted publicly to the member’s fediverse followers ("flattred <title>").'),
    url: z.string().describe('The profile page, which is also the member’s ActivityPub actor.'),
  })
  .meta({ id: 'Profile', description: 'What the profile page and the fediverse actor show of a member.' });

export async function profileRoutes(app: FastifyInstance, ctx: Context): Promise<void> {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/api/v1/me/profile',
    {
      config: { access: 'read' },
      schema: { tags: ['me'], summary: 'The caller’s public profile', response: { 200: Profile, ...errors(401) } },
    },
    async (request) => myProfile(ctx, callerOf(request)),
  );

  api.put(
    '/api/v1/me/profile',
    {
      // A bio keeps its line breaks (src/http/input-guard.ts; members/profile.ts refuses the rest).
      config: { multiline: ['bio'], access: 'account' },
      schema: {
        tags: ['me'],
        summary: 'Set the display name, bio and whether flattrs are published to followers (absent fields stay; null or "" clears)',
        body: ProfileInput,
        response: { 200: Profile, ...errors(400, 401) },
      },
    },
    async (request) => updateProfile(ctx, callerOf(request), request.body),
  );

  api.delete(
    '/api/v1/me/avatar',
    {
      config: { access: 'account' },
      schema: {
        tags: ['me'],
        summary: 'Remove the uploaded avatar (the generated picture shows again)',
        response: { 200: Profile, ...errors(401) },
      },
    },
    async (request) => {
      const caller = callerOf(request);
      await removeAvatar(ctx, caller);
      return myProfile(ctx, caller);
    },
  );

  await app.register(async (scope) => {
    scope.addContentTypeParser(AVATAR_TYPES, { parseAs: 'buffer', bodyLimit: AVATAR_MAX_BYTES }, (_request, body, done) => done(null, body));
    scope.withTypeProvider<ZodTypeProvider>().put(
      '/api/v1/me/avatar',
      {
        config: { access: 'account' },
        bodyLimit: AVATAR_MAX_BYTES,
        schema: {
          tags: ['me'],
          summary:
            'Upload an avatar: the body is the picture (PNG, JPEG, WebP or GIF; at most 2 MiB and 25 megapixels); it is cropped to 400×400 and re-encoded without metadata',
          description:
            'Send the image bytes as the body with Content-Type image/png, image/jpeg, image/webp, image/gif or application/octet-stream. ' +
            'The type is read from the bytes: anything else is 415 unsupported_media_type; over 2 MiB is 413 payload_too_large; an image that cannot be read, or declares more than 25 megapixels, is 422 invalid_image.',
          response: { 200: Profile, ...errors(401, 413, 415, 422) },
        },
      },
      async (request) => {
        const caller = callerOf(request);
        // Only this scope's parser makes a Buffer; a JSON body (the app's own parser) is no picture.
        if (!Buffer.isBuffer(request.body))
          throw new AppError('unsupported_media_type', 'send the picture itself as the body (image/png, image/jpeg, image/webp or image/gif)', {
            field: 'avatar',
          });
        await setAvatar(ctx, caller, request.body);
        return myProfile(ctx, caller);
      },
    );
  });
}
