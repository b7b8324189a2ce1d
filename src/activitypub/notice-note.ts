import { type Federation, verifyRequest } from '@fedify/fedify';
import { Mention, Note } from '@fedify/vocab';
import type { FastifyInstance } from 'fastify';
import type { Context } from '../context.ts';
import { AppError } from '../core/errors.ts';
import { noticeRecord } from '../links/unclaimed.ts';
import { toFetchRequest } from './bridge.ts';
import { actorOwnsKey } from './inbox-auth.ts';
import { INSTANCE_ACTOR } from './instance-actor.ts';
import { instant } from './temporal.ts';

/**
 * A message about unclaimed money (links/unclaimed.ts) as a direct message: from the instance
 * actor, addressed to the account only, mentioning it (Mastodon's "direct" visibility). The same
 * object is delivered in its Create and served at its id to that account's server.
 */
export function noticeNote(instance: URL, notice: { id: string; account: string; handle: string | null; content: string; created_at?: Date }): Note {
  const account = new URL(notice.account);
  return new Note({
    id: new URL(notice.id),
    attribution: instance,
    to: account,
    content: notice.content,
    tags: [new Mention({ href: account, name: notice.handle ?? account.href })],
    ...(notice.created_at ? { published: instant(notice.created_at) } : {}),
  });
}

/**
 * GET /notices/{id}: a message about unclaimed money is a direct message, so its id answers only
 * a request signed by the server of the account it was sent to (as Mastodon serves a direct
 * status): the HTTP signature verifies, and the signing key is on that server and listed by its
 * owner. Anything else is 401; an id that names no message is 404.
 */
export function installNoticeRoute(app: FastifyInstance, ctx: Context, federation: Federation<void>): void {
  app.get<{ Params: { id: string } }>('/notices/:id', async (request, reply) => {
    const notice = await noticeRecord(ctx, request.params.id);
    if (!notice) throw new AppError('not_found', 'no such message');
    const fctx = federation.createContext(new URL(ctx.config.origin), undefined);
    const refused = new AppError('unauthorized', 'a direct message is served only to a signed request from the server of the account it was sent to');
    const key = await verifyRequest(toFetchRequest(request, ctx.config.origin, undefined), {
      documentLoader: fctx.documentLoader,
      contextLoader: fctx.contextLoader,
    }).catch(() => null);
    if (!key?.id || !key.ownerId || key.ownerId.origin !== new URL(notice.account).origin) throw refused;
    if ((await actorOwnsKey(fctx, key.ownerId, key.id.href)) !== true) throw refused;
    const note = noticeNote(fctx.getActorUri(INSTANCE_ACTOR), notice);
    return reply
      .type('application/activity+json')
      .header('vary', 'Accept, Signature')
      .send(JSON.stringify(await note.toJsonLd({ contextLoader: fctx.contextLoader })));
  });
}
