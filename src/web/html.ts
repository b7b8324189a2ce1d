/**
 * A tagged template for HTML that escapes every interpolated value unless it is already Html.
 * Pages are built only from `html` templates, so a thing's title or a username can never become
 * markup; `raw` exists for the few trusted constants (an SVG path built from numbers, say).
 */
import { escapeHtml } from '../core/escape-html.ts';

export class Html {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
  toString(): string {
    return this.text;
  }
}

export type Renderable = Html | string | number | bigint | boolean | null | undefined | Renderable[];

export { escapeHtml };

function render(value: Renderable): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  // null, undefined and false render as nothing, so `${cond && html`...`}` reads naturally.
  if (value === null || value === undefined || value === false) return '';
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Renderable[]): Html {
  let out = strings[0] as string;
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] as string);
  });
  return new Html(out);
}

/** Trusted markup only: never pass anything that came from a request or the database. */
export function raw(text: string): Html {
  return new Html(text);
}

/** A query string from parameters, already URL-encoded (escape it again when put in an attribute). */
export function query(params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined) search.set(name, value);
  const text = search.toString();
  return text ? `?${text}` : '';
}

/**
 * A link to an address someone typed or sent: only http(s) becomes a link (never `javascript:`,
 * even though the CSP would stop it too); anything else is shown as text.
 */
export function externalLink(url: string, text: string = url): Html {
  return /^https?:\/\//i.test(url) ? html`<a href="${url}" rel="nofollow ugc noopener">${text}</a>` : html`${text}`;
}
