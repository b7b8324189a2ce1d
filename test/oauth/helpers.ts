/**
 * OAuth from an app's side, for the tests: register an app, walk a signed-in member through the
 * consent page (a Browser with its session cookie and CSRF token) and exchange the code.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { TestInstance } from '../helpers/instance.ts';
import type { Browser, Page } from '../helpers/web.ts';

export interface ClientApp {
  id: string;
  client_id: string;
  client_secret: string;
  redirect_uri: string;
  scopes: string[];
}

export async function registerClient(inst: TestInstance, name: string, scopes: string, redirectUris = 'https://app.example/callback'): Promise<ClientApp> {
  const r = await inst.api('POST', '/api/v1/apps', { body: { client_name: name, redirect_uris: redirectUris, scopes, website: 'https://app.example' } });
  if (r.status !== 200) throw new Error(`app registration failed: ${r.text}`);
  return r.body as ClientApp;
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(app: ClientApp, params: Record<string, string | undefined>): string {
  const search = new URLSearchParams();
  const all: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: app.client_id,
    redirect_uri: app.redirect_uri.split('\n')[0],
    state: 'state-123',
    code_challenge_method: 'S256',
    ...params,
  };
  for (const [k, v] of Object.entries(all)) if (v !== undefined) search.set(k, v);
  return `/oauth/authorize?${search}`;
}

function unescapeHtml(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The consent form's hidden fields (the request it repeats, and its CSRF token). */
export function hiddenFields(page: Page): Record<string, string> {
  const form = /<form method="post" action="\/oauth\/authorize"[\s\S]*?<\/form>/.exec(page.text)?.[0] ?? '';
  const fields: Record<string, string> = {};
  for (const m of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)) fields[m[1] as string] = unescapeHtml(m[2] as string);
  return fields;
}

/** Shows the consent page and answers it; returns the page and the answer (a redirect, normally). */
export async function consent(browser: Browser, url: string, decision: 'approve' | 'deny' = 'approve'): Promise<{ page: Page; answer: Page }> {
  const page = await browser.get(url);
  if (page.status !== 200) throw new Error(`consent page: ${page.status} ${page.location ?? page.text.slice(0, 300)}`);
  const answer = await browser.post('/oauth/authorize', { ...hiddenFields(page), decision });
  return { page, answer };
}

/** The code in an approval's redirect (and the state that came with it). */
export function codeOf(answer: Page): { code: string; state: string | null } {
  if (answer.status !== 303 || !answer.location) throw new Error(`no redirect: ${answer.status} ${answer.text.slice(0, 300)}`);
  const url = new URL(answer.location);
  const code = url.searchParams.get('code');
  if (!code) throw new Error(`no code in ${answer.location}`);
  return { code, state: url.searchParams.get('state') };
}

/** POST /oauth/token as a form (as most OAuth libraries send it). */
export async function tokenRequest(inst: TestInstance, fields: Record<string, string>, headers: Record<string, string> = {}) {
  const response = await inst.app.inject({
    method: 'POST',
    url: '/oauth/token',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    payload: new URLSearchParams(fields).toString(),
  });
  return { status: response.statusCode, body: JSON.parse(response.body), headers: response.headers };
}

/** The whole flow for a member already signed in in `browser`: a token with the scopes granted. */
export async function authorizeApp(inst: TestInstance, browser: Browser, app: ClientApp, scope?: string): Promise<{ access_token: string; scope: string }> {
  const { verifier, challenge } = pkce();
  const { answer } = await consent(browser, authorizeUrl(app, { scope, code_challenge: challenge }));
  const { code } = codeOf(answer);
  const r = await tokenRequest(inst, {
    grant_type: 'authorization_code',
    code,
    redirect_uri: app.redirect_uri.split('\n')[0] as string,
    code_verifier: verifier,
    client_id: app.client_id,
    client_secret: app.client_secret,
  });
  if (r.status !== 200) throw new Error(`token: ${JSON.stringify(r.body)}`);
  return r.body;
}
