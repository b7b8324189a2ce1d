/**
 * A thing's page at its `uri` (/things/{id}) with its flattr form, and GET /flattr?url=, the
 * confirmation page that browser add-ons and "flattr this" links send members to. Any site can
 * make a signed-in member open that link, so the GET only shows what is already known here: it
 * never fetches anything nor writes a row. Finding the owner of a URL nobody here knows
 * (discovery: outbound requests, new rows) runs on the confirming POST.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Context } from '../../context.ts';
import { thingPath } from '../../core/iris.ts';
import { periodOf } from '../../core/period.ts';
import { createFlattr, FlattrUrlForm } from '../../flattrs/service.ts';
import { ThingTitleInput, updateThingTitle } from '../../things/edit.ts';
import { getThing, lookupThing, ownThingId, type ThingView, thingUri } from '../../things/service.ts';
import { MAX_URL_LENGTH, normalizeUrl } from '../../things/urls.ts';
import { formInput, formValues } from '../forms.ts';
import { externalLink, html, query } from '../html.ts';
import { type FormError, formError, noticeFor, page, sendPage } from '../layout.ts';
import { flattrCountsOf, flattrOf } from '../queries.ts';
import { csrfCheck, csrfToken } from '../security.ts';
import { currentMember, requireMemberPage } from '../session.ts';
import { confirmMain, thingMain, thingTitle } from '../views/thing.ts';
import { remoteFlattrForm, remoteFlattrLink } from './remote-flattr.ts';

type Params = { Params: { id: string } };

export function thingRoutes(app: FastifyInstance, ctx: Context): void {
  const showThing = async (request: FastifyRequest<Params>, reply: FastifyReply, error?: FormError, titleValue?: string) => {
    const thing = await getThing(ctx, request.params.id);
    const caller = await currentMember(ctx, request);
    const period = periodOf(ctx.clock.now());
    const [counts, flattred] = await Promise.all([flattrCountsOf(ctx, thing.id), caller ? flattrOf(ctx, caller, thing.id, period) : undefined]);
    const csrf = caller && csrfToken(reply);
    const main = html`${thingMain({ thing, counts, period, caller, csrf, flattred: flattred !== undefined, error, titleValue })}${caller ? '' : remoteFlattrLink({ url: thing.uri, title: thing.title })}`;
    const notice = noticeFor(request.query, {
      flattred: `You flattred “${thingTitle(thing)}”.`,
      added: 'Thing added. Put its button or badge on your page.',
      titled: 'Title saved.',
    });
    // The ActivityPub object: ours at this very URL, a remote thing's at its home (issue 13).
    const head = html`<link rel="alternate" type="application/activity+json" href="${thing.uri}">`;
    return sendPage(reply, page({ title: thingTitle(thing), main, caller, csrf, notice, head }), error?.status ?? 200);
  };

  app.get<Params>('/things/:id', async (request, reply) => {
    // A remote thing is not ours to describe to ActivityPub clients (bridge.ts let the request
    // through because Fedify has no object for it): they are sent to the original.
    if (/application\/(?:activity|ld)\+json/.test(request.headers.accept ?? '')) {
      const thing = await getThing(ctx, request.params.id);
      if (!thing.owner.username) return reply.header('vary', 'Accept').redirect(thing.uri === thingUri(ctx, thing.id) ? thing.url : thing.uri, 302);
    }
    return showThing(request, reply);
  });

  app.post<Params>('/things/:id/flattr', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request, thingPath(request.params.id));
    try {
      const flattr = await createFlattr(ctx, caller, { thing_id: request.params.id });
      return reply.redirect(`${thingPath(flattr.thing.id)}?done=flattred`, 303);
    } catch (error) {
      return showThing(request, reply, formError(error));
    }
  });

  app.post<Params>('/things/:id/title', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request, thingPath(request.params.id));
    try {
      const thing = await updateThingTitle(ctx, caller, request.params.id, formInput(ThingTitleInput, request.body).title);
      return reply.redirect(`${thingPath(thing.id)}?done=titled`, 303);
    } catch (error) {
      return showThing(request, reply, formError(error, 'title'), formValues(request.body, ['title'], 300).title);
    }
  });

  const confirmPage = async (request: FastifyRequest, reply: FastifyReply, values: { url?: unknown; title?: unknown }, error?: FormError) => {
    const url = typeof values.url === 'string' ? values.url : '';
    const title = typeof values.title === 'string' && values.title.length <= 200 ? values.title : undefined;
    const caller = await currentMember(ctx, request);
    if (!caller) {
      const next = `/flattr${query({ url, title })}`;
      const main = html`<p>To flattr ${externalLink(url, title ?? url)}, sign in first; you will come back here.</p>
<p><a class="button" href="/signin${query({ next })}">Sign in to flattr</a></p>
<p>No account here? <a href="/signup">Sign up</a>.</p>
${remoteFlattrForm(reply, { url, title })}`;
      return sendPage(reply, page({ title: 'Flattr this', main }));
    }
    let thing: ThingView | undefined;
    let problem = error;
    let discoverable = false;
    if (!problem) {
      try {
        thing = await lookupThing(ctx, url);
      } catch (lookupError) {
        // Unknown here: the POST may still find its owner, unless it names one of ours or there is no federation.
        discoverable = isNotFound(lookupError) && !ownThingId(ctx, normalizeUrl(url));
        if (!discoverable) problem = formError(lookupError, 'url');
      }
    } else if (problem.code !== 'not_found' && problem.code !== 'invalid_request') {
      thing = await lookupThing(ctx, url);
    }
    const csrf = csrfToken(reply);
    const main = confirmMain({ url, title, thing, csrf, error: problem, discoverable });
    return sendPage(reply, page({ title: thing || discoverable ? 'Flattr this?' : 'Nothing to flattr here yet', main, caller, csrf }), problem?.status ?? 200);
  };

  app.get('/flattr', (request, reply) => {
    const q = request.query as { url?: unknown; title?: unknown };
    return confirmPage(request, reply, q);
  });

  app.post('/flattr', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const { url } = formValues(request.body, ['url'], MAX_URL_LENGTH);
    const caller = await requireMemberPage(ctx, request, `/flattr${query({ url })}`);
    try {
      const flattr = await createFlattr(ctx, caller, formInput(FlattrUrlForm, request.body));
      return reply.redirect(`${thingPath(flattr.thing.id)}?done=flattred`, 303);
    } catch (error) {
      return confirmPage(request, reply, { url }, formError(error, 'url'));
    }
  });
}

function isNotFound(error: unknown): boolean {
  return (error as { code?: unknown } | null)?.code === 'not_found';
}
