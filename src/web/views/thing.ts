/** A thing's page, its flattr form and the snippets its owner pastes into their site. */
import type { Caller } from '../../context.ts';
import { thingPath } from '../../core/iris.ts';
import type { ThingView } from '../../things/service.ts';
import { externalLink, type Html, html, query } from '../html.ts';
import { csrfField, errorText, type FormError, field } from '../layout.ts';
import type { FlattrCounts } from '../queries.ts';

export interface ThingPage {
  thing: ThingView;
  counts: FlattrCounts;
  period: string;
  caller: Caller | undefined;
  csrf: string | undefined;
  /** The caller's flattr of this thing this month, if any. */
  flattred: boolean;
  error?: FormError | undefined;
  /** What the owner typed into the title form, kept when it is refused. */
  titleValue?: string | undefined;
}

export function thingTitle(thing: ThingView): string {
  return thing.title ?? thing.url;
}

export function thingMain(p: ThingPage): Html {
  const { thing } = p;
  const own = p.caller?.id !== undefined && p.caller.username === thing.owner.username;
  // A refused title belongs to the title form; any other refusal to the flattr button.
  const titleError = own && p.error?.field === 'title' ? p.error : undefined;
  const flattrError = titleError ? undefined : p.error;
  return html`<p>${externalLink(thing.url)}</p>
<p>By <strong>${ownerName(thing)}</strong>${thing.verified ? html` <span class="verified">(verified: the page names its owner)</span>` : ''}</p>
${thing.verified ? '' : unverifiedNote(thing)}
<ul class="figures">
<li>This month (${p.period})<strong>${p.counts.month} ${plural(p.counts.month)}</strong></li>
<li>All time<strong>${p.counts.total} ${plural(p.counts.total)}</strong></li>
</ul>
${flattrArea({ ...p, error: flattrError }, own)}
${own && !thing.verified ? html`<h2 id="prove">Prove it is yours</h2>${proofSnippets(thing.owner.actor)}` : ''}
${own ? titleForm(p, titleError) : ''}
${own ? embedSnippets(thing) : ''}`;
}

function flattrArea(p: ThingPage, own: boolean): Html {
  if (!p.caller) {
    return html`<p><a class="button" href="/signin${query({ next: thingPath(p.thing.id) })}">Sign in to flattr</a></p>`;
  }
  if (own) return html`<p class="muted">This is your thing: others flattr it, you cannot.</p>${p.error ? errorText(p.error, 'flattr-error') : ''}`;
  if (p.flattred && !p.error) return html`<p><strong>You flattred this in ${p.period}. Thank you!</strong></p>`;
  return html`<form method="post" action="${thingPath(p.thing.id, 'flattr')}">
${csrfField(p.csrf ?? '')}
<button type="submit">Flattr “${thingTitle(p.thing)}”</button>
${p.error ? errorText(p.error, 'flattr-error') : ''}
</form>`;
}

/** The owner's form to change the title (the URL stays: buttons and badges know the thing by it). */
function titleForm(p: ThingPage, error: FormError | undefined): Html {
  return html`<h2 id="edit">Title</h2>
<form method="post" action="${thingPath(p.thing.id, 'title')}" class="row">
${csrfField(p.csrf ?? '')}
${field({ name: 'title', label: 'Title', value: error ? p.titleValue : (p.thing.title ?? ''), error, hint: 'at most 200 characters; empty shows the URL instead' })}
<button type="submit">Save the title</button>
</form>`;
}

function plural(n: number): string {
  return n === 1 ? 'flattr' : 'flattrs';
}

export function embedSnippets(thing: ThingView): Html {
  const badge = `<a href="${thing.uri}"><img src="${thing.uri}/badge.svg" alt="Flattr this"></a>`;
  const button = `<iframe src="${thing.uri}/button" title="Flattr button" width="180" height="72" loading="lazy"></iframe>`;
  const payment = `<link rel="payment" href="${thing.uri}">`;
  return html`<h2 id="embed">Put it on your site</h2>
<p>The badge shows how often this was flattred; the button lets a reader flattr it from your page; the link lets
browser add-ons and other instances find it.</p>
<h3>Badge</h3><pre><code>${badge}</code></pre>
<p><img src="${thingPath(thing.id, 'badge.svg')}" alt="The badge as it looks now"></p>
<h3>Button</h3><pre><code>${button}</code></pre>
<h3>In your page's &lt;head&gt;</h3><pre><code>${payment}</code></pre>`;
}

export interface ConfirmPage {
  url: string;
  title: string | undefined;
  thing: ThingView | undefined;
  csrf: string;
  error?: FormError | undefined;
  /** Not known here, but flattring it would look for its owner (on the confirming POST only). */
  discoverable?: boolean;
}

/** GET /flattr: what is about to be flattred, and the one button that does it. */
export function confirmMain(p: ConfirmPage): Html {
  if (!p.thing && p.discoverable) {
    return html`<p>You asked to flattr ${externalLink(p.url)}${p.title ? html` (“${p.title}”)` : ''}.</p>
<p>Nobody has flattred it from here yet, so this instance does not know yet whom it would pay. If you flattr it,
this instance looks for its owner: a fediverse account, or one the page names (<code>rel="payment"</code> or
<code>fediverse:creator</code>). If none is found, nothing is flattred and you will be told.</p>
<form method="post" action="/flattr">
${csrfField(p.csrf)}
<input type="hidden" name="url" value="${p.url}">
<button type="submit">Find its owner and flattr it</button>
</form>`;
  }
  if (!p.thing) {
    return html`<p>You asked to flattr ${externalLink(p.url)}${p.title ? html` (“${p.title}”)` : ''}.</p>
<div role="alert">${p.error ? errorText(p.error, 'url-error') : ''}</div>
<p>Nobody on this instance has registered this URL as their thing, so there is nobody to pay yet.
If it is yours, <a href="/creator">add it to your things</a>.</p>`;
  }
  return html`<p>You are about to flattr <strong>${thingTitle(p.thing)}</strong> by <strong>${ownerName(p.thing)}</strong>
(${externalLink(p.thing.url)}).</p>
${p.thing.verified ? '' : unverifiedNote(p.thing)}
${p.title && p.title !== p.thing.title ? html`<p class="muted">The page calls itself “${p.title}”.</p>` : ''}
<p>It costs nothing extra: your monthly budget is split among everything you flattr this month.</p>
<form method="post" action="/flattr">
${csrfField(p.csrf)}
<input type="hidden" name="url" value="${p.url}">
<button type="submit">Flattr it</button>
${p.error ? errorText(p.error, 'flattr-error') : ''}
</form>`;
}

/** Said wherever an unverified thing is shown: nobody's word but the registrant's. */
export function unverifiedNote(thing: ThingView): Html {
  return html`<p class="unverified" id="unverified"><strong>Unverified:</strong> the page at this URL does not name ${ownerName(thing)} as its owner;
${ownerName(thing)} registered it as theirs.</p>`;
}

/** What an owner adds to a page's <head> so that it names them (any one of these). */
export function proofSnippets(actor: string): Html {
  const host = new URL(actor).host;
  const username = actor.split('/').pop() ?? '';
  return html`<p>Add one of these to your page's &lt;head&gt; before you register it: its content then names you, and the
thing is verified. A page that names someone else cannot be registered by you.</p>
<pre><code>${`<link rel="payment" href="${actor}">`}</code></pre>
<pre><code>${`<meta name="fediverse:creator" content="@${username}@${host}">`}</code></pre>
<pre><code>${`<link rel="author" href="${actor}">`}</code></pre>
<p>A post on a fediverse account you linked and verified (<a href="/settings/links">linked accounts</a>) is yours already.</p>`;
}

/** A member here by username; a remote owner by handle, else by actor IRI. */
export function ownerName(thing: ThingView): string {
  return thing.owner.username ?? thing.owner.handle ?? thing.owner.actor;
}
