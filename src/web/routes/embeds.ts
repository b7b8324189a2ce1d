/**
 * What other sites embed: {uri}/badge.svg, a static image with the thing's flattr count (any site,
 * any cache, no cookies, no CSRF), and {uri}/button, a small page for an iframe.
 *
 * Inside another site's iframe the browser does not send our SameSite=Lax cookies, so there the
 * button cannot know the reader. It then offers a link that opens the flattr confirmation in a
 * tab of its own, where the session is seen (or the reader signs in and comes back). Embedded on
 * a page of the same site, the session is sent and the button flattrs in place.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Context } from '../../context.ts';
import { thingPath } from '../../core/iris.ts';
import { periodOf } from '../../core/period.ts';
import { createFlattr } from '../../flattrs/service.ts';
import { findThingById, getThing } from '../../things/service.ts';
import { STYLESHEET_HREF } from '../assets.ts';
import { html, query } from '../html.ts';
import { csrfField, errorText, type FormError, formError, sendPage } from '../layout.ts';
import { flattrCountsOf, flattrOf } from '../queries.ts';
import { csrfCheck, csrfToken } from '../security.ts';
import { currentMember } from '../session.ts';
import { badge } from '../svg.ts';
import { thingTitle } from '../views/thing.ts';

type Params = { Params: { id: string } };

/** Five minutes: fresh enough for a count, and most views of a popular page come from a cache. */
const BADGE_MAX_AGE_S = 300;

export function embedRoutes(app: FastifyInstance, ctx: Context): void {
  app.get<Params>('/things/:id/badge.svg', { config: { embed: 'image' } }, async (request, reply) => {
    const row = await findThingById(ctx, request.params.id);
    const count = row ? (await flattrCountsOf(ctx, row.id)).total : 0;
    return reply
      .status(row ? 200 : 404)
      .type('image/svg+xml; charset=utf-8')
      .header('cache-control', row ? `public, max-age=${BADGE_MAX_AGE_S}` : 'public, max-age=60')
      .header('content-security-policy', "default-src 'none'; frame-ancestors *")
      .header('access-control-allow-origin', '*')
      .send(badge(count).text);
  });

  const showButton = async (request: FastifyRequest<Params>, reply: FastifyReply, error?: FormError) => {
    const thing = await getThing(ctx, request.params.id);
    const caller = await currentMember(ctx, request);
    const counts = await flattrCountsOf(ctx, thing.id);
    const own = caller?.username === thing.owner.username;
    const flattred = caller && !own ? await flattrOf(ctx, caller, thing.id, periodOf(ctx.clock.now())) : undefined;
    const confirm = `/flattr${query({ url: thing.uri, title: thing.title ?? undefined })}`;
    let action: ReturnType<typeof html>;
    if (!caller) {
      action = html`<a class="button" href="/signin${query({ next: confirm })}" target="_blank" rel="noopener">Sign in to flattr</a>`;
    } else if (own || (flattred && !error)) {
      action = html`<p>${own ? 'Your thing' : 'Flattred. Thank you!'}</p>`;
    } else {
      action = html`<form method="post" action="${thingPath(thing.id, 'button')}">${csrfField(csrfToken(reply))}
<button type="submit" title="Flattr “${thingTitle(thing)}”">Flattr</button>${error ? errorText(error) : ''}</form>`;
    }
    const body = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Flattr “${thingTitle(thing)}”</title><link rel="stylesheet" href="${STYLESHEET_HREF}"></head>
<body class="embed"><main>
${action}
<p><a href="${thingPath(thing.id)}" target="_blank" rel="noopener">${counts.total} ${counts.total === 1 ? 'flattr' : 'flattrs'}</a></p>
</main></body></html>`;
    return sendPage(reply, body, error?.status ?? 200);
  };

  app.get<Params>('/things/:id/button', { config: { embed: 'frame' } }, (request, reply) => showButton(request, reply));

  app.post<Params>('/things/:id/button', { config: { embed: 'frame' }, preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await currentMember(ctx, request);
    // The id goes back into a Location header: percent-encoded, whatever the path held.
    const back = thingPath(encodeURIComponent(request.params.id), 'button');
    if (!caller) return reply.redirect(back, 303);
    try {
      await createFlattr(ctx, caller, { thing_id: request.params.id });
      return reply.redirect(back, 303);
    } catch (error) {
      return showButton(request, reply, formError(error));
    }
  });
}
