/** The member's dashboard: the month so far (priced as the close would), a past month as it was closed, the budget form. */
import type { Context } from '../../context.ts';
import { thingPath } from '../../core/iris.ts';
import { formatAmount, parseAmount } from '../../core/money.ts';
import type { Period } from '../../core/period.ts';
import type { myEarnings, myFlattrs } from '../../reports/service.ts';
import { type Html, html, query } from '../html.ts';
import { csrfField, errorText, type FormError, field } from '../layout.ts';
import type { MonthSoFar } from '../month.ts';
import type { MonthCharge } from '../queries.ts';
import { ownerName, thingTitle } from './thing.ts';

export function monthSoFarMain(ctx: Context, m: MonthSoFar, csrf: string, error?: FormError): Html {
  const c = ctx.config.currency;
  const idleFate = ctx.config.idleBudget === 'charity' ? 'goes to the charity' : 'stays in your wallet';
  return html`<ul class="figures">
<li>Budget for ${m.period}<strong>${formatAmount(m.budget)} ${c}</strong></li>
<li>Wallet (spendable)<strong>${formatAmount(m.balance)} ${c}</strong></li>
${m.pending.length > 0 ? html`<li>Pending from other instances<strong>${formatAmount(m.pending.reduce((n, p) => n + p.amount, 0n))} ${c}</strong></li>` : ''}
<li>Flattrs this month<strong>${m.items.length}</strong></li>
<li>Charged at the close<strong>${formatAmount(m.charged)} ${c}</strong></li>
</ul>
${m.pending.length > 0 ? pendingCredits(m.pending, c) : ''}
${m.nextBudget !== null ? html`<p>From next month your budget is ${formatAmount(m.nextBudget)} ${c}.</p>` : ''}
${
  m.balance < m.budget
    ? html`<p class="error">Your wallet holds less than your budget: new flattrs are refused until it covers the budget again <span class="code">(no_means)</span>.</p>`
    : ''
}
<h2>If the month ended now</h2>
${
  m.idle
    ? html`<p>You have flattred nothing yet this month. If that stays so, your budget ${idleFate}.</p>`
    : html`<div class="scroll"><table>
<caption>Your ${m.items.length === 1 ? 'flattr' : `${m.items.length} flattrs`} of ${m.period}: ${formatAmount(m.charged)} ${c}${m.items.length === 1 ? '' : ' split equally'}</caption>
<thead><tr><th scope="col">Thing</th><th scope="col">Creator</th><th scope="col" class="num">Share</th><th scope="col" class="num">Creator receives</th><th scope="col"><span class="muted">Withdraw</span></th></tr></thead>
<tbody>${m.items.map(
        (i) => html`<tr>
<td><a href="${thingPath(i.flattr.thing.id)}">${thingTitle(i.flattr.thing)}</a></td>
<td>${ownerName(i.flattr.thing)}</td>
<td class="num">${formatAmount(i.gross)}</td>
<td class="num">${formatAmount(i.net)}</td>
<td><form method="post" action="/dashboard/flattrs/${i.flattr.id}/withdraw" class="inline">${csrfField(csrf)}<button type="submit" class="link">Withdraw</button></form></td>
</tr>`,
      )}</tbody>
</table></div>
<p class="muted">The instance keeps a fee of ${(Number(ctx.config.feePpm) / 10_000).toString()}% of each share. Flattring more only divides the same budget further.
A creator without a funded budget of their own this month has their share held until a month in which they take part.</p>`
}
${error && error.field !== 'amount' ? html`<div role="alert">${errorText(error)}</div>` : ''}
<h2 id="budget">Your monthly budget</h2>
<form method="post" action="/dashboard/budget" class="row">
${csrfField(csrf)}
${field({ name: 'amount', label: `Budget in ${c}`, value: error?.field === 'amount' ? undefined : formatAmount(m.nextBudget ?? m.budget), error, required: true, inputmode: 'decimal', hint: `between ${formatAmount(ctx.config.minBudget)} and ${formatAmount(ctx.config.maxBudget)}; after your first flattr of a month a change applies from the next month` })}
<button type="submit">Save budget</button>
</form>`;
}

type FlattrReport = Awaited<ReturnType<typeof myFlattrs>>;
type EarningsReport = Awaited<ReturnType<typeof myEarnings>>;

export interface PastMonth {
  flattrs: FlattrReport;
  earnings: EarningsReport;
  /** What the close took from the wallet; undefined until the month is closed (or if it took nothing). */
  charge: MonthCharge | undefined;
}

/** A past month: what the close actually charged, each flattr's share, and what the member's things received. */
export function pastMonthMain(ctx: Context, m: PastMonth): Html {
  const c = ctx.config.currency;
  const { period } = m.flattrs;
  const closed = m.earnings.closed;
  const held = m.earnings.items.reduce((sum, i) => sum + parseAmount(i.held), 0n);
  return html`<ul class="figures">
<li>Charged<strong>${closed ? `${formatAmount(m.charge?.charged ?? 0n)} ${c}` : '—'}</strong></li>
<li>Flattrs given<strong>${m.flattrs.items.length}</strong></li>
<li>Received<strong>${closed ? `${m.earnings.total} ${c}` : '—'}</strong></li>
${held > 0n ? html`<li>Of which held<strong>${formatAmount(held)} ${c}</strong></li>` : ''}
</ul>
${
  closed
    ? html`<p>${period} is closed.${m.charge ? html` Your budget was ${formatAmount(m.charge.budget)} ${c}; the close charged ${formatAmount(m.charge.charged)} ${c}${m.charge.flattrs === 0 ? ' for a month without flattrs' : ''}.` : ' Nothing was charged to you.'}</p>`
    : html`<p>${period} is not closed yet: nothing has been charged or paid for it so far.</p>`
}
<h2>Your flattrs</h2>
${
  m.flattrs.items.length === 0
    ? html`<p>You flattred nothing in ${period}.</p>`
    : html`<div class="scroll"><table>
<caption>Your flattrs of ${period}${closed ? '' : ' (the month is not closed yet)'}</caption>
<thead><tr><th scope="col">Thing</th><th scope="col">Creator</th><th scope="col" class="num">Share (${c})</th></tr></thead>
<tbody>${m.flattrs.items.map((i) => html`<tr><td><a href="${thingPath(i.thing.id)}">${thingTitle(i.thing)}</a></td><td>${ownerName(i.thing)}</td><td class="num">${i.amount ?? '—'}</td></tr>`)}</tbody>
</table></div>`
}
<h2>Your things</h2>
${
  m.earnings.items.length === 0
    ? html`<p>Nobody here flattred your things in ${period}.</p>`
    : html`<div class="scroll"><table>
<caption>What your things received for ${period} (${c}, after the fee)</caption>
<thead><tr><th scope="col">Thing</th><th scope="col" class="num">Flattrs</th><th scope="col" class="num">Received</th><th scope="col" class="num">Held</th></tr></thead>
<tbody>${m.earnings.items.map((i) => html`<tr><td><a href="${thingPath(i.thing.id)}">${thingTitle(i.thing)}</a></td><td class="num">${i.flattrs}</td><td class="num">${closed ? i.amount : '—'}</td><td class="num">${closed ? i.held : '—'}</td></tr>`)}</tbody>
</table></div>`
}`;
}

export function monthLinks(periods: Period[], shown: Period, current: Period): Html {
  return html`<h2>Months</h2><ul>${periods.map(
    (p) => html`<li>${p === shown ? html`<strong>${p}</strong>` : html`<a href="${p === current ? '/dashboard' : `/dashboard/${p}`}">${p}</a>`}</li>`,
  )}</ul>`;
}

export function exportLinks(period: Period): Html {
  const q = query({ period });
  return html`<h2>Exports for ${period}</h2><ul>
<li><a href="/export/flattrs.csv${q}">Flattrs (CSV)</a></li>
<li><a href="/export/earnings.csv${q}">Earnings (CSV)</a></li>
<li><a href="/export/ledger.csv${q}">Wallet transfers (CSV)</a></li>
</ul>`;
}

/** Credits from other instances that wait for their settlement, per peer and month. */
export function pendingCredits(credits: readonly { peer: string; period: string; amount: bigint }[], c: string): Html {
  return html`<div class="scroll"><table>
<caption>Credits from other instances, pending until their instance's payment arrives (${c})</caption>
<thead><tr><th scope="col">Instance</th><th scope="col">Month</th><th scope="col" class="num">Amount</th></tr></thead>
<tbody>${credits.map((p) => html`<tr><td>${p.peer}</td><td>${p.period}</td><td class="num">${formatAmount(p.amount)}</td></tr>`)}</tbody>
</table></div>
<p class="muted">They become spendable when the settlement with that instance is settled; budgets and payouts draw only on your wallet.</p>`;
}
