/**
 * Public pages of the most flattred things and creators of this instance: of a month (the
 * current one unless ?period= names another) and of all time. Members who unticked "list me"
 * on /settings/profile appear nowhere here, and neither do their things.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Context } from '../../context.ts';
import { thingPath } from '../../core/iris.ts';
import { addMonths, type Period, periodOf } from '../../core/period.ts';
import { periodParam } from '../../http/input.ts';
import { type Html, html, query } from '../html.ts';
import { type FormError, field, formError, page, sendPage } from '../layout.ts';
import { type PopularCreator, type PopularThing, popularCreators, popularThings } from '../queries.ts';
import { csrfToken } from '../security.ts';
import { currentMember } from '../session.ts';
import { ownerName, thingTitle } from '../views/thing.ts';

/** How many rows each list shows. */
export const POPULAR_LIMIT = 20;

export function popularRoutes(app: FastifyInstance, ctx: Context): void {
  const show = async (request: FastifyRequest, reply: FastifyReply, period: Period | null, asked?: { value: string; error: FormError }) => {
    const caller = await currentMember(ctx, request);
    const [things, creators] = await Promise.all([popularThings(ctx, period, POPULAR_LIMIT), popularCreators(ctx, period, POPULAR_LIMIT)]);
    const current = periodOf(ctx.clock.now());
    const when = period === null ? 'of all time' : period === current ? `this month (${period})` : `in ${period}`;
    const main = html`${tabs(period, current)}
<p>The things of this instance flattred most ${when}, and their creators. Withdrawn flattrs do not count;
members can choose not to be listed in their <a href="/settings/profile">settings</a>.</p>
${thingsTable(things, when)}
${creatorsTable(creators, when)}
${period !== null ? html`<p><a href="/popular${query({ period: addMonths(period, -1) })}">Earlier: ${addMonths(period, -1)}</a></p>` : ''}
<form method="get" action="/popular" class="row">
${field({ name: 'period', label: 'Another month (YYYY-MM)', value: asked?.value ?? period ?? undefined, error: asked?.error, inputmode: 'numeric' })}
<button type="submit">Show</button></form>`;
    const title = period === null ? 'Popular of all time' : `Popular ${period === current ? 'this month' : `in ${period}`}`;
    return sendPage(reply, page({ title, main, caller, csrf: caller && csrfToken(reply), path: '/popular' }), asked?.error.status ?? 200);
  };

  app.get('/popular', async (request, reply) => {
    let period: Period;
    try {
      period = periodParam(ctx, request);
    } catch (error) {
      const value = (request.query as { period?: unknown }).period;
      return show(request, reply, periodOf(ctx.clock.now()), { value: typeof value === 'string' ? value.slice(0, 20) : '', error: formError(error, 'period') });
    }
    return show(request, reply, period);
  });

  app.get('/popular/all', (request, reply) => show(request, reply, null));
}

function tabs(period: Period | null, current: Period): Html {
  const item = (href: string, label: string, here: boolean) =>
    html`<li>${here ? html`<a href="${href}" aria-current="page"><strong>${label}</strong></a>` : html`<a href="${href}">${label}</a>`}</li>`;
  return html`<nav aria-label="Popular"><ul class="tabs">
${item('/popular', 'This month', period === current)}
${item('/popular/all', 'All time', period === null)}
</ul></nav>`;
}

function thingsTable(things: PopularThing[], when: string): Html {
  if (things.length === 0) return html`<h2>Things</h2><p>Nothing was flattred ${when}.</p>`;
  return html`<h2>Things</h2><div class="scroll"><table>
<caption>The most flattred things ${when}</caption>
<thead><tr><th scope="col" class="num">#</th><th scope="col">Thing</th><th scope="col">Creator</th><th scope="col" class="num">Flattrs</th></tr></thead>
<tbody>${things.map(
    (p, i) => html`<tr><td class="num">${i + 1}</td><td><a href="${thingPath(p.thing.id)}">${thingTitle(p.thing)}</a></td>
<td>${ownerName(p.thing)}</td><td class="num">${p.flattrs}</td></tr>`,
  )}</tbody>
</table></div>`;
}

function creatorsTable(creators: PopularCreator[], when: string): Html {
  if (creators.length === 0) return html`<h2>Creators</h2><p>No creator was flattred ${when}.</p>`;
  return html`<h2>Creators</h2><div class="scroll"><table>
<caption>The most flattred creators ${when}</caption>
<thead><tr><th scope="col" class="num">#</th><th scope="col">Creator</th><th scope="col" class="num">Things flattred</th><th scope="col" class="num">Flattrs</th></tr></thead>
<tbody>${creators.map((c, i) => html`<tr><td class="num">${i + 1}</td><td>${c.username}</td><td class="num">${c.things}</td><td class="num">${c.flattrs}</td></tr>`)}</tbody>
</table></div>`;
}
