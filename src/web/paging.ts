/**
 * Long admin lists, one page at a time: `?page=` (from 1) read strictly, and the links to the
 * pages before and after. A query fetches one row more than it shows to know whether more follow.
 */
import { AppError } from '../core/errors.ts';
import { type Html, html, query } from './html.ts';

export const PAGE_SIZE = 50;
const MAX_PAGE = 10_000;

/** ?page=: absent is 1; anything but a whole number from 1 to 10000 is invalid_request. */
export function pageParam(value: unknown): number {
  if (value === undefined || value === '') return 1;
  const n = typeof value === 'string' && /^[0-9]{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= MAX_PAGE)) {
    throw new AppError('invalid_request', `page must be a whole number from 1 to ${MAX_PAGE}, got ${JSON.stringify(value)}`, { field: 'page' });
  }
  return n;
}

/** "Previous" and "Next" links that keep the list's other parameters. */
export function pager(path: string, params: Record<string, string | undefined>, page: number, more: boolean): Html | '' {
  if (page === 1 && !more) return '';
  const link = (n: number) => `${path}${query({ ...params, page: n === 1 ? undefined : String(n) })}`;
  return html`<nav aria-label="Pages"><p class="pager">
${page > 1 ? html`<a href="${link(page - 1)}" rel="prev">Previous page</a>` : ''}
<span>Page ${page}</span>
${more ? html`<a href="${link(page + 1)}" rel="next">Next page</a>` : ''}
</p></nav>`;
}
