/**
 * The journeys in a real browser (Debian's Chromium driven by playwright-core) against the pages
 * listening on 127.0.0.1: sign up, fund and set a budget, flattr from a thing's page, see the
 * dashboard, the admin's deposit and close, the creator's chart and the badge, a past month, the
 * popular pages and opting out of them, the admin's member search. browser.test.ts runs them with
 * JavaScript and browser-nojs.test.ts without (the pages have no script, so both must work the
 * same); two files, so that neither comes near a minute. Screenshots of the main pages go to
 * test/artifacts/ (git-ignored).
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import type { Test } from 'tap';
import { ARTIFACTS } from './chromium.ts';
import { defaultDatabaseKind } from './databases.ts';
import { startNetworked } from './network.ts';

function serveBlog(page: string): Promise<Server> {
  const server = createHttpServer((_request, response) => response.writeHead(200, { 'content-type': 'text/html' }).end(page));
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

export async function journeys(t: Test, browser: Browser, javaScriptEnabled: boolean): Promise<void> {
  const inst = await startNetworked(t, defaultDatabaseKind());
  const origin = inst.origin;
  const mode = javaScriptEnabled ? 'js' : 'nojs';
  const shot = (page: Page, name: string) => page.screenshot({ path: new URL(`${mode}-${name}.png`, ARTIFACTS).pathname, fullPage: true });
  const consoleErrors: string[] = [];
  // Each person has a browser context of their own: their own cookies.
  const person = async () => {
    const context = await browser.newContext({ javaScriptEnabled, baseURL: origin, viewport: { width: 420, height: 900 } });
    t.teardown(() => context.close());
    const page = await context.newPage();
    // A CSP violation (an inline style, say) shows up as a console error. The refusals the
    // journeys provoke on purpose (a 400 for a budget too low) are logged too: those are expected.
    page.on('console', (message) => {
      const text = message.text();
      if (message.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(text)) {
        consoleErrors.push(`${page.url()}: ${text}`);
      }
    });
    return page;
  };

  const reader = await person();
  await reader.goto('/');
  t.match(await reader.locator('figure svg desc').textContent(), 'each creator receives 0.45, and the instance keeps 0.50');
  await shot(reader, 'front');
  await reader.getByRole('link', { name: 'Sign up' }).first().click();
  await reader.getByLabel('Username').fill('reader');
  await reader.getByLabel('Password').fill('reader-password');
  await reader.getByRole('button', { name: 'Sign up' }).click();
  await reader.waitForURL('**/dashboard?done=welcome');
  t.match(await reader.locator('.notice').textContent(), 'Welcome!');

  const admin = await person();
  await admin.goto('/signin');
  await admin.getByLabel('Username').fill('admin');
  await admin.getByLabel('Password').fill('admin-password');
  await admin.getByRole('button', { name: 'Sign in' }).click();
  await admin.goto('/admin/deposits');
  await admin.getByLabel('Member').fill('reader');
  await admin.getByLabel('Amount in EUR').fill('20.00');
  await admin.getByLabel('Reference').fill('BANK-1');
  await admin.getByRole('button', { name: 'Record the deposit' }).click();
  t.equal(await admin.locator('.notice').textContent(), 'Deposit recorded.');
  await shot(admin, 'admin-deposit');

  await reader.goto('/dashboard');
  await reader.getByLabel('Budget in EUR').fill('1.00');
  await reader.getByRole('button', { name: 'Save budget' }).click();
  t.match(await reader.locator('#amount-error').textContent(), '(budget_out_of_range)', 'the refusal is next to the field');
  await reader.getByLabel('Budget in EUR').fill('5.00');
  await reader.getByRole('button', { name: 'Save budget' }).click();
  t.equal(await reader.locator('.notice').textContent(), 'Budget saved.');

  const creator = await person();
  await creator.goto('/signup');
  await creator.getByLabel('Username').fill('cora');
  await creator.getByLabel('Password').fill('cora-password');
  await creator.getByRole('button', { name: 'Sign up' }).click();
  await creator.getByRole('link', { name: 'My things' }).click();
  await creator.getByLabel('URL').fill('https://cora.example/first-post');
  await creator.getByLabel('Title (optional)').fill('My first post');
  await creator.getByRole('button', { name: 'Add the thing' }).click();
  await creator.waitForURL('**/things/*?done=added');
  const thingPath = new URL(creator.url()).pathname;
  // Creators are paid only in months they take part in themselves (product rule 7): fund cora too.
  await admin.goto('/admin/deposits');
  await admin.getByLabel('Member').fill('cora');
  await admin.getByLabel('Amount in EUR').fill('5.00');
  await admin.getByLabel('Reference').fill('BANK-2');
  await admin.getByRole('button', { name: 'Record the deposit' }).click();
  t.equal(await admin.locator('.notice').textContent(), 'Deposit recorded.');
  t.match(await creator.locator('pre').last().textContent(), `<link rel="payment" href="${origin}${thingPath}">`);
  await shot(creator, 'thing-owner');

  await reader.goto(thingPath);
  await reader.getByRole('button', { name: 'Flattr “My first post”' }).click();
  t.equal(await reader.locator('.notice').textContent(), 'You flattred “My first post”.');
  t.match(await reader.locator('.figures').textContent(), /This month \(2026-11\)\s*1 flattr/);
  await shot(reader, 'thing');
  await reader.getByRole('link', { name: 'Dashboard' }).click();
  const row = reader.locator('table tbody tr').first();
  t.match(await row.textContent(), /My first post\s*cora\s*5\.00\s*4\.50/, 'if the month ended now: a 5.00 share, 4.50 to cora');
  await shot(reader, 'dashboard');

  const badge = await reader.goto(`${thingPath}/badge.svg`);
  t.equal(badge?.headers()['cache-control'], 'public, max-age=300');
  t.match(await badge?.text(), '<title>flattr: 1</title>');
  await creator.goto(thingPath);
  t.equal(
    await creator.locator('img[alt="The badge as it looks now"]').evaluate((img: HTMLImageElement) => img.naturalWidth > 0),
    true,
    'the badge renders as an image',
  );

  // Another site embeds the button and the badge. Our Lax cookies are not sent into a cross-site
  // frame, so even the signed-in reader is offered a link that opens a tab of its own.
  // The blog is served from localhost: another site than 127.0.0.1, on the local network too
  // (Chromium refuses to let a public page frame a local one).
  const blog = await serveBlog(`<!doctype html><title>A blog</title><p>A post.</p>
<iframe src="${origin}${thingPath}/button" title="Flattr button" width="200" height="90"></iframe>
<img src="${origin}${thingPath}/badge.svg" alt="flattr count">`);
  t.teardown(() => new Promise<void>((resolve) => blog.close(() => resolve())));
  await reader.goto(`http://localhost:${(blog.address() as AddressInfo).port}/`);
  const frame = reader.frameLocator('iframe');
  t.equal(await frame.getByRole('link', { name: 'Sign in to flattr' }).getAttribute('target'), '_blank');
  t.match(await frame.locator('main').textContent(), '1 flattr');
  t.equal(await reader.locator('img').evaluate((img: HTMLImageElement) => img.naturalWidth > 0), true, 'the badge loads on another site');
  await shot(reader, 'embedded');
  // The link opens a tab of our own site, where the session is seen: straight to the confirmation.
  const [tab] = await Promise.all([reader.waitForEvent('popup'), frame.getByRole('link', { name: 'Sign in to flattr' }).click()]);
  await tab.waitForURL('**/flattr?url=*');
  t.match(await tab.locator('main').textContent(), 'You are about to flattr My first post by cora');
  await tab.close();

  inst.clock.set('2026-12-01T00:30:00Z');
  await admin.goto('/admin/periods');
  await admin.getByRole('button', { name: 'Close 2026-11' }).click();
  t.equal(await admin.locator('.notice').textContent(), 'The month is closed.');
  t.match(await admin.locator('#p-2026-11').textContent(), /Paid to creators\s*4\.50/);
  await shot(admin, 'admin-close');
  await admin.goto('/admin');
  t.match(await admin.locator('#ledger + p').textContent(), /^Balanced/);

  await creator.goto('/creator/earnings?period=2026-11');
  t.equal(await creator.locator('figure svg text', { hasText: '4.50' }).count(), 1, 'the November bar is labelled 4.50');
  await shot(creator, 'earnings');

  // A past month as its close left it, the popular pages, and opting out of them.
  await reader.goto('/dashboard');
  await reader.getByRole('link', { name: '2026-11', exact: true }).click();
  await reader.waitForURL('**/dashboard/2026-11');
  t.match(await reader.locator('.figures').textContent(), /Charged\s*5\.00 EUR/);
  await shot(reader, 'past-month');
  await reader.getByRole('link', { name: 'Popular', exact: true }).click();
  await reader.getByRole('link', { name: 'All time', exact: true }).click();
  t.match(await reader.locator('main table').first().textContent(), /My first post\s*cora\s*1/);
  await shot(reader, 'popular');
  await creator.getByRole('link', { name: 'Settings', exact: true }).click();
  await creator.getByLabel('List me and my things on the popular pages').uncheck();
  await creator.getByRole('button', { name: 'Save', exact: true }).click();
  t.equal(await creator.locator('.notice').textContent(), 'Settings saved.');
  await shot(creator, 'settings');
  await reader.reload();
  t.match(await reader.locator('main').textContent(), 'Nothing was flattred of all time');
  await admin.goto('/admin/members');
  await admin.getByLabel('Username contains').fill('cor');
  await admin.getByRole('button', { name: 'Search', exact: true }).click();
  t.match(await admin.locator('tbody').textContent(), /cora\s*member[\s\S]*no/);
  await shot(admin, 'admin-members');
  t.same(consoleErrors, [], 'no other console errors (no CSP violations) on any page');
}
