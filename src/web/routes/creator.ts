/** Creators: their things (and adding one), earnings per month and per thing, incoming flattrs. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Caller, Context } from '../../context.ts';
import { thingPath } from '../../core/iris.ts';
import { parseAmount } from '../../core/money.ts';
import { addMonths, periodOf } from '../../core/period.ts';
import { periodParam } from '../../http/input.ts';
import { actorIri } from '../../members/service.ts';
import { myEarnings, myIncoming } from '../../reports/service.ts';
import { registerThing, ThingInput } from '../../things/service.ts';
import { formInput, formValues } from '../forms.ts';
import { html, query } from '../html.ts';
import { csrfField, type FormError, field, formAlert, formError, page, sendPage } from '../layout.ts';
import { thingsOwnedBy } from '../queries.ts';
import { csrfCheck, csrfToken } from '../security.ts';
import { requireMemberPage } from '../session.ts';
import { earningsChart } from '../svg.ts';
import { proofSnippets, thingTitle } from '../views/thing.ts';

type Form = { url?: string; title?: string };

export function creatorRoutes(app: FastifyInstance, ctx: Context): void {
  const showThings = async (reply: FastifyReply, caller: Caller, values: Form = {}, error?: FormError) => {
    const things = await thingsOwnedBy(ctx, caller);
    const csrf = csrfToken(reply);
    const main = html`<p>A thing is a URL you own: a post, an episode, a page. Add it, then put its button or badge on it.
This instance reads the page first: one that names someone else as its owner is refused; one that names nobody is
added as <em>unverified</em>, and says so.
See <a href="/creator/earnings">your earnings</a> and <a href="/creator/incoming">who flattred you</a>.</p>
<h2>Add a thing</h2>
<form method="post" action="/creator/things">${csrfField(csrf)}
${formAlert(error, ['url', 'title'])}
${field({ name: 'url', label: 'URL', type: 'url', value: values.url, error, required: true, hint: 'the address of your page, http or https' })}
${field({ name: 'title', label: 'Title (optional)', value: values.title, error })}
<button type="submit">Add the thing</button></form>
<details id="prove"><summary>How the page proves it is yours</summary>
${proofSnippets(actorIri(ctx, caller.username))}
</details>
<h2>Your things</h2>
${
  things.length === 0
    ? html`<p>None yet.</p>`
    : html`<div class="scroll"><table>
<thead><tr><th scope="col">Thing</th><th scope="col" class="num">This month</th><th scope="col" class="num">All time</th><th scope="col">Change</th></tr></thead>
<tbody>${things.map(
        (t) => html`<tr><td><a href="${thingPath(t.id)}">${thingTitle(t)}</a></td><td class="num">${t.month}</td><td class="num">${t.total}</td>
<td>${t.verified ? 'verified' : html`<a href="${thingPath(t.id)}#prove">unverified</a>`}, <a href="${thingPath(t.id)}#edit">title</a>, <a href="${thingPath(t.id)}#embed">button and badge</a></td></tr>`,
      )}</tbody></table></div>`
}`;
    return sendPage(reply, page({ title: 'My things', main, caller, csrf, path: '/creator' }), error?.status ?? 200);
  };

  app.get('/creator', async (request, reply) => showThings(reply, await requireMemberPage(ctx, request)));

  app.post('/creator/things', { preHandler: csrfCheck(app) }, async (request, reply) => {
    const caller = await requireMemberPage(ctx, request, '/creator');
    try {
      const thing = await registerThing(ctx, caller, formInput(ThingInput, request.body));
      return reply.redirect(`${thingPath(thing.id)}?done=added`, 303);
    } catch (error) {
      return showThings(reply, caller, formValues(request.body, ['url', 'title'], 2048), formError(error, 'url'));
    }
  });

  app.get('/creator/earnings', async (request, reply) => {
    const caller = await requireMemberPage(ctx, request);
    const current = periodOf(ctx.clock.now());
    const months = Array.from({ length: 12 }, (_, i) => addMonths(current, i - 11));
    const shown = periodParam(ctx, request);
    const reports = await Promise.all(months.map((p) => myEarnings(ctx, caller, p)));
    const report = months.includes(shown) ? reports[months.indexOf(shown)]! : await myEarnings(ctx, caller, shown);
    const c = ctx.config.currency;
    const bars = reports.map((r) => ({ period: r.period, micros: parseAmount(r.total), amount: r.total }));
    const main = html`<figure>${earningsChart(bars, c)}<figcaption>What you received each month, after the instance fee. A month's flattrs are paid when it closes.</figcaption></figure>
<div class="scroll"><table>
<caption>Earnings per month (${c})</caption>
<thead><tr><th scope="col">Month</th><th scope="col" class="num">Flattrs</th><th scope="col" class="num">Received</th><th scope="col">State</th></tr></thead>
<tbody>${reports
      .slice()
      .reverse()
      .map(
        (r) => html`<tr><td><a href="/creator/earnings${query({ period: r.period })}">${r.period}</a></td>
<td class="num">${r.items.reduce((n, i) => n + i.flattrs, 0)}</td><td class="num">${r.total}</td><td>${r.closed ? 'closed' : 'open'}</td></tr>`,
      )}</tbody>
</table></div>
<h2>Per thing in ${report.period}</h2>
${
  report.items.length === 0
    ? html`<p>No flattrs in ${report.period}.</p>`
    : html`<div class="scroll"><table>
<thead><tr><th scope="col">Thing</th><th scope="col" class="num">Flattrs</th><th scope="col" class="num">Received</th><th scope="col" class="num">Held</th></tr></thead>
<tbody>${report.items.map((i) => html`<tr><td><a href="${thingPath(i.thing.id)}">${thingTitle(i.thing)}</a></td><td class="num">${i.flattrs}</td><td class="num">${i.amount}</td><td class="num">${i.held}</td></tr>`)}</tbody>
</table></div>`
}
${
  report.from_peers.length > 0
    ? html`<h2>From other instances in ${report.period}</h2>
<div class="scroll"><table>
<thead><tr><th scope="col">Instance</th><th scope="col" class="num">Amount (${c})</th><th scope="col">State</th></tr></thead>
<tbody>${report.from_peers.map((p) => html`<tr><td>${p.peer}</td><td class="num">${p.amount}</td><td>${p.state === 'pending' ? 'pending until the settlement with that instance' : 'spendable'}</td></tr>`)}</tbody>
</table></div>`
    : ''
}
${report.items.some((i) => i.held !== '0.00') ? html`<p class="muted">Held shares are paid at the first close of a month in which you have a funded budget yourself.</p>` : ''}
<p><a href="/export/earnings.csv${query({ period: report.period })}">Download ${report.period} as CSV</a></p>`;
    return sendPage(reply, page({ title: 'Earnings', main, caller, csrf: csrfToken(reply), path: '/creator/earnings' }));
  });

  app.get('/creator/incoming', async (request: FastifyRequest, reply) => {
    const caller = await requireMemberPage(ctx, request);
    const report = await myIncoming(ctx, caller, periodParam(ctx, request));
    const previous = addMonths(report.period, -1);
    const main = html`<p>Flattrs of your things in ${report.period}. They are <em>pending</em> until the month closes.</p>
${
  report.items.length === 0
    ? html`<p>None in ${report.period}.</p>`
    : html`<div class="scroll"><table>
<thead><tr><th scope="col">Thing</th><th scope="col">From</th><th scope="col">When</th><th scope="col">State</th><th scope="col" class="num">Amount</th></tr></thead>
<tbody>${report.items.map(
        (i) => html`<tr><td><a href="${thingPath(i.thing.id)}">${thingTitle(i.thing)}</a></td><td>${i.from.split('/').pop()}</td>
<td>${i.created_at.slice(0, 10)}</td><td>${i.state}</td><td class="num">${i.amount ?? '—'}</td></tr>`,
      )}</tbody></table></div>`
}
<p><a href="/creator/incoming${query({ period: previous })}">Earlier: ${previous}</a></p>`;
    return sendPage(reply, page({ title: `Incoming flattrs, ${report.period}`, main, caller, csrf: csrfToken(reply), path: '/creator/incoming' }));
  });
}
