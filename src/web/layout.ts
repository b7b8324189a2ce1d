/**
 * The page shell (header, navigation, main, footer) and the form pieces every page shares:
 * labelled fields that show an error — the same code and message the JSON API gives — right
 * next to the field it is about.
 */
import type { FastifyReply } from 'fastify';
import type { Caller } from '../context.ts';
import { isAppError } from '../core/errors.ts';
import { STYLESHEET_HREF } from './assets.ts';
import { type Html, html, type Renderable } from './html.ts';

export interface PageOptions {
  title: string;
  main: Renderable;
  /** The request path, so the navigation can mark the current page. */
  path?: string;
  caller?: Caller | undefined;
  /** The CSRF token for the sign-out form (and any other form on the page). */
  csrf?: string | undefined;
  notice?: string | undefined;
  /** More of the head: alternate representations, rel="me" links (already built with html``). */
  head?: Renderable;
}

export function page(options: PageOptions): Html {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${options.title} · Farthing</title>
<link rel="stylesheet" href="${STYLESHEET_HREF}">
<link rel="icon" href="/assets/farthing.svg" type="image/svg+xml">
${options.head ?? ''}
</head>
<body>
<a class="skip" href="#main">Skip to the content</a>
<header class="site">
<a class="brand" href="/">Farthing</a>
${navigation(options)}
</header>
<main id="main">
${options.notice ? html`<p class="notice" role="status">${options.notice}</p>` : ''}
<h1>${options.title}</h1>
${options.main}
</main>
<footer class="site"><p>Farthing: a flat monthly budget, split equally among everything you flattr.</p></footer>
</body>
</html>`;
}

function navigation(options: PageOptions): Html {
  const { caller } = options;
  const links: [string, string][] = caller
    ? [
        ['/dashboard', 'Dashboard'],
        ['/creator', 'My things'],
        ['/creator/earnings', 'Earnings'],
        ['/invites', 'Invites'],
        ['/payouts', 'Payouts'],
        ['/popular', 'Popular'],
        ['/settings/profile', 'Settings'],
      ]
    : [
        ['/popular', 'Popular'],
        ['/signin', 'Sign in'],
        ['/signup', 'Sign up'],
      ];
  if (caller?.role === 'admin') links.push(['/admin', 'Admin']);
  const current = options.path?.split('?')[0];
  return html`<nav aria-label="Main"><ul>
${links.map(([href, label]) => html`<li><a href="${href}"${current === href ? html` aria-current="page"` : ''}>${label}</a></li>`)}
${
  caller && options.csrf
    ? html`<li><form method="post" action="/signout" class="inline">${csrfField(options.csrf)}<button type="submit" class="link">Sign out ${caller.username}</button></form></li>`
    : ''
}
</ul></nav>`;
}

export function sendPage(reply: FastifyReply, body: Html, status = 200): FastifyReply {
  return reply.status(status).type('text/html; charset=utf-8').send(body.text);
}

/** What a page shows for a refused form: the AppError's code and message, and the field it is about. */
export interface FormError {
  code: string;
  message: string;
  field: string | undefined;
  status: number;
}

/** Turns a refusal into a FormError; anything else (a bug, the database down) goes on up. */
export function formError(error: unknown, defaultField?: string): FormError {
  if (!isAppError(error)) throw error;
  const field = typeof error.details?.field === 'string' ? error.details.field : defaultField;
  return { code: error.code, message: error.message, field, status: error.status };
}

export function csrfField(token: string): Html {
  return html`<input type="hidden" name="_csrf" value="${token}">`;
}

export function errorText(error: FormError, id?: string): Html {
  return html`<p class="error"${id ? html` id="${id}"` : ''}>${error.message} <span class="code">(${error.code})</span></p>`;
}

export interface FieldOptions {
  name: string;
  /** The input's id when one page has several forms with the same field name. */
  id?: string;
  label: string;
  type?: string;
  value?: string | undefined;
  hint?: string;
  error?: FormError | undefined;
  required?: boolean;
  autocomplete?: string;
  inputmode?: string;
  /** The error's field name when it differs from the input's (a service may say `thing_id`). */
  errorField?: string;
}

/** A labelled input; an error about this field appears under it and is announced with it. */
export function field(o: FieldOptions): Html {
  const id = o.id ?? o.name;
  const mine = o.error && o.error.field === (o.errorField ?? o.name) ? o.error : undefined;
  const described = [o.hint ? `${id}-hint` : '', mine ? `${id}-error` : ''].filter(Boolean).join(' ');
  return html`<div class="field${mine ? ' invalid' : ''}">
<label for="${id}">${o.label}</label>
${o.hint ? html`<p class="hint" id="${id}-hint">${o.hint}</p>` : ''}
<input id="${id}" name="${o.name}" type="${o.type ?? 'text'}"${o.value !== undefined ? html` value="${o.value}"` : ''}${o.required ? html` required` : ''}${o.autocomplete ? html` autocomplete="${o.autocomplete}"` : ''}${o.inputmode ? html` inputmode="${o.inputmode}"` : ''}${described ? html` aria-describedby="${described}"` : ''}${mine ? html` aria-invalid="true"` : ''}>
${mine ? errorText(mine, `${id}-error`) : ''}
</div>`;
}

export interface CheckboxOptions {
  name: string;
  label: string;
  checked: boolean;
  hint?: string;
  error?: FormError | undefined;
}

/** A labelled checkbox (the label after the box, as people expect); its error appears under it. */
export function checkbox(o: CheckboxOptions): Html {
  const mine = o.error && o.error.field === o.name ? o.error : undefined;
  const described = [o.hint ? `${o.name}-hint` : '', mine ? `${o.name}-error` : ''].filter(Boolean).join(' ');
  return html`<div class="field check${mine ? ' invalid' : ''}">
<input id="${o.name}" name="${o.name}" type="checkbox"${o.checked ? html` checked` : ''}${described ? html` aria-describedby="${described}"` : ''}${mine ? html` aria-invalid="true"` : ''}>
<label for="${o.name}">${o.label}</label>
${o.hint ? html`<p class="hint" id="${o.name}-hint">${o.hint}</p>` : ''}
${mine ? errorText(mine, `${o.name}-error`) : ''}
</div>`;
}

/** An error that belongs to none of the form's fields, shown at the top of the form. */
export function formAlert(error: FormError | undefined, fields: string[]): Html | '' {
  if (!error || (error.field && fields.includes(error.field))) return '';
  return html`<div role="alert">${errorText(error)}</div>`;
}

/**
 * After a form succeeds the page redirects (so a reload does not send it again) with `?done=key`;
 * only known keys show a message, so the query string cannot put words on the page.
 */
export function noticeFor(queryValues: unknown, messages: Record<string, string>): string | undefined {
  const key = (queryValues as { done?: unknown } | undefined)?.done;
  return typeof key === 'string' && Object.hasOwn(messages, key) ? messages[key] : undefined;
}
