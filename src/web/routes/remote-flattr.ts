/**
 * "Flattr from your instance" (issue 5, api.md Pages): a visitor whose account lives on another
 * Farthing instance names their handle (`@ann@a.example`) or instance (`a.example`) on a thing's
 * page or on GET /flattr?url=, and is sent (303) to THEIR instance's confirmation page,
 * `{their origin}/flattr?url={thing uri}&title=`, where, signed in there, they confirm and the
 * flattr is made and federated. Before sending anyone away, the host's NodeInfo must say it runs
 * Farthing; otherwise (or when it cannot be reached) the form says so next to the field.
 * No JavaScript; CSRF-protected; NodeInfo is read through the outbound client (src/net/outbound.ts),
 * so private addresses are called only with FARTHING_ALLOW_PRIVATE_ADDRESS.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import type { Context } from '../../context.ts';
import { AppError } from '../../core/errors.ts';
import { rule } from '../../core/input.ts';
import { lookupThing } from '../../things/service.ts';
import { formInput, formValues } from '../forms.ts';
import { externalLink, type Html, html, query } from '../html.ts';
import { csrfField, type FormError, field, formError, page, sendPage } from '../layout.ts';
import { csrfCheck, csrfToken, PAGE_CSP } from '../security.ts';

export interface RemoteFlattrOptions {
  /** What to flattr: a thing's uri, or the URL the visitor came to flattr. */
  url: string;
  title?: string | null | undefined;
  value?: string | undefined;
  error?: FormError | undefined;
}

/** The form a visitor who is not signed in here uses to flattr from their own instance. */
export function remoteFlattrForm(reply: FastifyReply, o: RemoteFlattrOptions): Html {
  // Browsers hold the redirect after a form to form-action too, and this form's POST answers
  // with a redirect to the reader's own instance (checked to be a Farthing instance first).
  const schemes = reply.request.protocol === 'https' ? 'https:' : 'https: http:';
  reply.header('content-security-policy', PAGE_CSP.replace("form-action 'self'", `form-action 'self' ${schemes}`));
  return html`<section class="remote-flattr" aria-labelledby="remote-flattr-title">
<h2 id="remote-flattr-title">Flattr from your own instance</h2>
<p>Your account is on another Farthing instance? Say which, and you will confirm the flattr there.</p>
<form method="post" action="/flattr/remote">${csrfField(csrfToken(reply))}
<input type="hidden" name="url" value="${o.url}">
${o.title ? html`<input type="hidden" name="title" value="${o.title}">` : ''}
${field({ name: 'instance', id: 'remote-instance', label: 'Your handle or instance', hint: 'For example @ann@flattr.example or flattr.example', value: o.value, error: o.error, required: true, autocomplete: 'username' })}
<button type="submit">Go to my instance</button>
</form>
</section>`;
}

const refuseInstance = () => new AppError('invalid_request', 'give your handle (@name@host) or your instance’s address (host)', { field: 'instance' });

/**
 * The form's hidden fields, what the page was opened with: never refused, an unusable one is
 * left out (a URL that is not a string of at most 2000 characters is '', and the form then says
 * the page lost it).
 */
const SentPage = z.object({
  url: z.string().max(2000).catch(''),
  title: z.string().max(200).optional().catch(undefined),
});

/** The field the visitor fills in: their handle or instance, trimmed, 1 to 300 characters. */
const InstanceForm = z.object({
  instance: rule(z.unknown(), (value) => {
    const text = typeof value === 'string' ? value.trim() : '';
    if (text === '' || text.length > 300) throw refuseInstance();
    return text;
  }),
});

/** The origin named by a handle, a host or a URL (trimmed, 1 to 300 characters); invalid_request when it names none. */
export function instanceOrigin(text: string, allowHttp: boolean): string[] {
  let host: string;
  if (/^https?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw refuseInstance();
    }
    if (url.protocol === 'http:' && !allowHttp) return [`https://${url.host}`];
    return [url.origin];
  }
  const handle = /^@?[^@\s/]+@([^@\s/]+)$/.exec(text);
  host = handle ? (handle[1] as string) : text.replace(/\/+$/, '');
  let url: URL;
  try {
    url = new URL(`https://${host}`);
  } catch {
    throw refuseInstance();
  }
  if (url.host !== host.toLowerCase() || url.pathname !== '/' || (!url.hostname.includes('.') && url.hostname !== 'localhost')) throw refuseInstance();
  // Public instances speak https; plain http is tried only where private addresses are allowed.
  return allowHttp ? [`https://${url.host}`, `http://${url.host}`] : [`https://${url.host}`];
}

/**
 * For a thing's page, which sets no cookie for visitors (it stays cacheable): a link to the
 * form's own page rather than the form, whose CSRF token needs a cookie.
 */
export function remoteFlattrLink(o: { url: string; title?: string | null | undefined }): Html {
  return html`<p><a href="/flattr/remote${query({ url: o.url, title: o.title ?? undefined })}">Your account is on another Farthing instance? Flattr from there</a></p>`;
}

export function remoteFlattrRoutes(app: FastifyInstance, ctx: Context): void {
  app.get('/flattr/remote', async (request, reply) => {
    const q = request.query as { url?: unknown; title?: unknown };
    const url = typeof q.url === 'string' && /^https?:\/\//i.test(q.url) && q.url.length <= 2000 ? q.url : '';
    const title = typeof q.title === 'string' && q.title.length <= 200 ? q.title : undefined;
    const main = url
      ? html`<p>You came to flattr ${externalLink(url, title ?? url)}.</p>${remoteFlattrForm(reply, { url, title })}`
      : html`<p role="alert">Nothing to flattr: this link names no http or https URL.</p>`;
    return sendPage(reply, page({ title: 'Flattr from your own instance', main, csrf: url ? csrfToken(reply) : undefined }), url ? 200 : 400);
  });

  app.post(
    '/flattr/remote',
    {
      preHandler: csrfCheck(app),
      // Each attempt reads another server's NodeInfo: limited like sign-in.
      config: { rateLimit: { max: ctx.config.authRateLimit, timeWindow: '1 minute' } },
    },
    async (request, reply) => {
      const { url, title } = formInput(SentPage, request.body);
      const value = formValues(request.body, ['instance'], 300).instance;
      try {
        if (!/^https?:\/\//i.test(url))
          throw new AppError('invalid_request', 'nothing to flattr: the page lost its URL; go back and try again', { field: 'instance' });
        const { instance } = formInput(InstanceForm, request.body);
        // A thing known here travels as its uri, which every instance can look up.
        const uri = await lookupThing(ctx, url).then(
          (thing) => thing.uri,
          () => url,
        );
        const target = await farthingOrigin(ctx, instance);
        const next = `/flattr${query({ url: uri, title })}`;
        return reply.redirect(target === ctx.config.origin ? next : `${target}${next}`, 303);
      } catch (error) {
        const problem = formError(error, 'instance');
        const main = html`<p>You came to flattr ${externalLink(url, title ?? url)}.</p>
${remoteFlattrForm(reply, { url, title, value, error: problem.field === 'instance' ? problem : { ...problem, field: 'instance' } })}`;
        return sendPage(reply, page({ title: 'Flattr from your own instance', main, csrf: csrfToken(reply) }), problem.status);
      }
    },
  );
}

/** The origin of the Farthing instance the visitor named, checked by its NodeInfo. */
async function farthingOrigin(ctx: Context, input: string): Promise<string> {
  const candidates = instanceOrigin(input, ctx.config.allowPrivateAddress);
  if (candidates.includes(ctx.config.origin)) return ctx.config.origin;
  let software: string | null = null;
  let origin = candidates[0] as string;
  for (const candidate of candidates) {
    software = await ctx.directory.software(new URL(candidate).href);
    origin = candidate;
    if (software) break;
  }
  const host = new URL(origin).host;
  if (!software) {
    throw new AppError('not_found', `${host} could not be reached, or does not say what it runs; check the address`, { field: 'instance' });
  }
  if (software !== 'farthing') {
    throw new AppError('invalid_request', `${host} runs ${software}, not Farthing: flattrs can only be confirmed on a Farthing instance`, {
      field: 'instance',
    });
  }
  return origin;
}
