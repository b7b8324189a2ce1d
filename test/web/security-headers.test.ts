/**
 * The response headers of the pages (issue 14): @fastify/helmet's, told what the pages need, and
 * today's Content Security Policy unchanged, byte for byte. A page cannot be framed, sniffed,
 * cached by a shared cache or read by another origin; the badge and the button (made to live on
 * other sites) may be loaded cross-origin, and only the button may be framed; on an https
 * origin, browsers are told to stay on https.
 */
import t from 'tap';
import { BUTTON_CSP, PAGE_CSP } from '../../src/web/security.ts';
import { eachDatabase } from '../helpers/databases.ts';
import { thing } from '../helpers/instance.ts';
import { startWeb } from '../helpers/web.ts';

const TODAYS_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

await eachDatabase(t, async (t, kind) => {
  const inst = await startWeb(t, kind);
  const id = await thing(inst, await inst.member('cora'), 'https://cora.example/a', 'Cora A');

  t.test("pages: helmet's headers and today's CSP", async (t) => {
    t.equal(PAGE_CSP, TODAYS_CSP, 'the policy itself is unchanged');
    t.equal(BUTTON_CSP, TODAYS_CSP.replace("frame-ancestors 'none'", 'frame-ancestors *'));
    for (const path of ['/', '/signin', `/things/${id}`, '/things/00000000-0000-4000-8000-000000000000']) {
      const page = await inst.browser().get(path);
      const h = page.headers;
      t.equal(h['content-security-policy'], TODAYS_CSP, `${path}: CSP`);
      t.equal(h['x-frame-options'], 'DENY', `${path}: never framed`);
      t.equal(h['x-content-type-options'], 'nosniff');
      t.equal(h['referrer-policy'], 'same-origin');
      t.equal(h['cross-origin-opener-policy'], 'same-origin');
      t.equal(h['cross-origin-resource-policy'], 'same-origin');
      t.equal(h['cache-control'], 'no-store');
      t.equal(h['strict-transport-security'], 'max-age=15552000', `${path}: HSTS (the origin is https)`);
      t.equal(h['origin-agent-cluster'], '?1');
      t.equal(h['x-dns-prefetch-control'], 'off');
      t.equal(h['x-permitted-cross-domain-policies'], 'none');
      t.equal(h['x-xss-protection'], '0');
      t.notOk(h['x-powered-by']);
    }
  });

  t.test('embeds: the button may be framed anywhere, the badge loaded anywhere', async (t) => {
    const button = await inst.browser().get(`/things/${id}/button`);
    t.equal(button.headers['content-security-policy'], BUTTON_CSP);
    t.notOk(button.headers['x-frame-options'], 'no X-Frame-Options: frame-ancestors * says it');
    t.equal(button.headers['cross-origin-resource-policy'], 'cross-origin');
    t.equal(button.headers['x-content-type-options'], 'nosniff');
    const badge = await inst.browser().get(`/things/${id}/badge.svg`);
    t.equal(badge.headers['cross-origin-resource-policy'], 'cross-origin');
    t.equal(badge.headers['x-frame-options'], 'DENY');
    t.equal(badge.headers['content-security-policy'], "default-src 'none'; frame-ancestors *", 'the badge keeps its own');
    t.notMatch(String(badge.headers['cache-control']), 'no-store', 'and its own caching');
  });

  t.test('a route that adjusts the CSP keeps its own', async (t) => {
    const remote = await inst.browser().get(`/flattr/remote?${new URLSearchParams({ url: `https://a.example/things/${id}` })}`);
    t.equal(remote.headers['content-security-policy'], TODAYS_CSP.replace("form-action 'self'", "form-action 'self' https: http:"));
    t.equal(remote.headers['x-frame-options'], 'DENY');
  });
});
