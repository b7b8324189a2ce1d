/** A thing's URL, normalised so the same page is one thing: http(s) only, no fragment. */
import { AppError } from '../core/errors.ts';

export const MAX_URL_LENGTH = 2048;
export const MAX_TITLE_LENGTH = 200;

export function normalizeUrl(input: unknown, field = 'url'): string {
  if (typeof input !== 'string' || input.length === 0 || input.length > MAX_URL_LENGTH) {
    throw new AppError('invalid_request', `${field} must be an http(s) URL of at most ${MAX_URL_LENGTH} characters`, { field });
  }
  let url: URL;
  try {
    url = new URL(input);
  } catch {
    throw new AppError('invalid_request', `${field} is not a URL: ${JSON.stringify(input.slice(0, 80))}`, { field });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new AppError('invalid_request', `${field} must use http or https`, { field });
  }
  if (url.username || url.password) throw new AppError('invalid_request', `${field} must not contain credentials`, { field });
  url.hash = '';
  return url.href;
}

export function normalizeTitle(input: unknown): string | null {
  if (input === undefined || input === null) return null;
  if (typeof input !== 'string') throw new AppError('invalid_request', 'title must be a string', { field: 'title' });
  const title = input.replace(/\s+/g, ' ').trim();
  if (title.length > MAX_TITLE_LENGTH) {
    throw new AppError('invalid_request', `title must be at most ${MAX_TITLE_LENGTH} characters`, { field: 'title' });
  }
  return title || null;
}
