/**
 * Linked fediverse accounts in the JSON API (/api/v1/me/links): add by handle or actor IRI
 * (pending, listed in the member's alsoKnownAs at once), verify (the account must point back),
 * list and remove. The service is src/links/links.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Context } from '../context.ts';
import { addLink, LinkInput, listLinks, removeLink, verifyLink } from '../links/links.ts';
import { callerOf } from './auth.ts';
import { errors, Id } from './schemas.ts';

const Timestamp = z.string().describe('An ISO 8601 instant.');

export const Link = z
  .object({
    id: z.string(),
    account: z.string().describe("The fediverse account's actor IRI."),
    handle: z.string().nullable().describe('@name@host, when the account has a preferred username.'),
    state: z.enum(['pending', 'verified']).describe('pending until the account points back to the member’s actor'),
    created_at: Timestamp,
    verified_at: Timestamp.nullable(),
  })
  .meta({ id: 'Link', description: 'A fediverse account the member links (two-way proof).' });

const Verified = Link.extend({
  problem: z.string().optional().describe('Why the link is still pending: which half of the proof is missing.'),
  proof: z
    .object({
      account_points_to_member: z.boolean().describe('The account points to the member: alsoKnownAs, url, or a profile field linking to the profile.'),
      member_lists_account: z.boolean().describe("The member's actor lists the account in alsoKnownAs."),
    })
    .optional()
    .describe('The two halves of the proof, when the account could be read.'),
});

export function linkRoutes(app: FastifyInstance, ctx: Context): void {
  const api = app.withTypeProvider<ZodTypeProvider>();

  api.get(
    '/api/v1/me/links',
    {
      config: { access: 'read' },
      schema: {
        tags: ['me'],
        summary: 'The fediverse accounts the caller links',
        response: { 200: z.object({ items: z.array(Link) }), ...errors(401) },
      },
    },
    async (request) => ({ items: await listLinks(ctx, callerOf(request).id) }),
  );

  api.post(
    '/api/v1/me/links',
    {
      config: { access: 'account' },
      schema: {
        tags: ['me'],
        summary: 'Link a fediverse account (pending until verified); the caller’s actor lists it in alsoKnownAs at once',
        body: LinkInput,
        response: { 201: Link, ...errors(400, 401, 404) },
      },
    },
    async (request, reply) => reply.status(201).send(await addLink(ctx, callerOf(request), request.body.account)),
  );

  api.post(
    '/api/v1/me/links/:id/verify',
    {
      config: { access: 'account' },
      schema: {
        tags: ['me'],
        summary: 'Check that the account points back to the caller’s actor; verified if so',
        params: z.object({ id: Id }),
        response: { 200: Verified, ...errors(401, 403, 404) },
      },
    },
    async (request) => verifyLink(ctx, callerOf(request), request.params.id),
  );

  api.delete(
    '/api/v1/me/links/:id',
    {
      config: { access: 'account' },
      schema: {
        tags: ['me'],
        summary: 'Remove a link (the account leaves the caller’s alsoKnownAs)',
        params: z.object({ id: Id }),
        response: { 204: z.undefined().describe('Removed.'), ...errors(401, 404) },
      },
    },
    async (request, reply) => {
      await removeLink(ctx, callerOf(request), request.params.id);
      return reply.status(204).send();
    },
  );
}
