/**
 * The pages of a test instance: its own app (buildApp registers the pages), driven by a Browser.
 *
 * A Browser here is a cookie jar over app.inject(): it keeps the cookies the pages set and the
 * last CSRF token it saw, and sends forms as a browser would (urlencoded).
 */
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Test } from 'tap';
import type { DatabaseKind } from '../../src/db/database.ts';
import { startInstance, type TestInstance } from './instance.ts';

export interface WebInstance extends TestInstance {
  web: FastifyInstance;
  browser(): Browser;
}

export async function startWeb(t: Test, kind: DatabaseKind, options: Parameters<typeof startInstance>[2] = {}): Promise<WebInstance> {
  const inst = await startInstance(t, kind, options);
  return Object.assign(inst, { web: inst.app, browser: () => new Browser(inst.app) });
}

export interface Page {
  status: number;
  headers: LightMyRequestResponse['headers'];
  text: string;
  location: string | undefined;
  setCookies: LightMyRequestResponse['cookies'];
}

export class Browser {
  readonly app: FastifyInstance;
  readonly cookies = new Map<string, string>();
  csrf: string | undefined;

  constructor(app: FastifyInstance) {
    this.app = app;
  }

  async get(url: string): Promise<Page> {
    return this.request('GET', url);
  }

  /** Posts a form with the last CSRF token seen, unless the form names its own `_csrf` (or `csrf: false`). */
  async post(url: string, form: Record<string, string> = {}, options: { csrf?: boolean } = {}): Promise<Page> {
    const fields = { ...(options.csrf === false || form._csrf !== undefined || !this.csrf ? {} : { _csrf: this.csrf }), ...form };
    return this.request('POST', url, new URLSearchParams(fields).toString());
  }

  /** Posts the fields as given, with the last CSRF token seen: a name may repeat (the form parser makes it an array). */
  async postFields(url: string, fields: [string, string][]): Promise<Page> {
    return this.request('POST', url, new URLSearchParams([...(this.csrf ? [['_csrf', this.csrf] as [string, string]] : []), ...fields]).toString());
  }

  async signUp(username: string, password = `${username}-password`, invite?: string): Promise<Page> {
    await this.get('/signup');
    return this.post('/signup', { username, password, ...(invite ? { invite } : {}) });
  }

  async signIn(username: string, password = `${username}-password`): Promise<Page> {
    await this.get('/signin');
    return this.post('/signin', { username, password });
  }

  private async request(method: 'GET' | 'POST', url: string, payload?: string): Promise<Page> {
    const headers: Record<string, string> = {};
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    if (payload !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
    const response = await this.app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload }) });
    for (const c of response.cookies) {
      const gone = c.maxAge === 0 || (c.expires !== undefined && c.expires.getTime() < Date.now());
      if (gone) this.cookies.delete(c.name);
      else this.cookies.set(c.name, c.value);
    }
    const token = /name="_csrf" value="([^"]+)"/.exec(response.body)?.[1];
    if (token) this.csrf = token;
    const location = response.headers.location;
    return {
      status: response.statusCode,
      headers: response.headers,
      text: response.body,
      location: typeof location === 'string' ? location : undefined,
      setCookies: response.cookies,
    };
  }
}

/** The text of the error shown for a field (`<p class="error" id="{field}-error">`), if any. */
export function fieldError(page: Page, field: string): string | undefined {
  const match = new RegExp(`<p class="error" id="${field}-error">([\\s\\S]*?)</p>`).exec(page.text);
  return match ? plain(match[1] as string).trim() : undefined;
}

/** The page's text without tags, for "the page says ..." assertions. */
export function textOf(page: Page): string {
  return plain(page.text);
}

function plain(markup: string): string {
  return markup
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
