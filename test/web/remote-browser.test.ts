/**
 * "Flattr from your instance" in a real browser (Debian's Chromium, playwright-core), between two
 * instances on loopback: a reader of a thing on A whose account lives on B names B, is sent to
 * B's confirmation page, signs in there, flattrs, and A hears of it. With and without JavaScript.
 */

import type { Browser } from 'playwright-core';
import t, { type Test } from 'tap';
import { ARTIFACTS, withChromium } from '../helpers/chromium.ts';
import { defaultDatabaseKind } from '../helpers/databases.ts';
import { thing } from '../helpers/instance.ts';
import { eventually, startNetworked } from '../helpers/network.ts';

await withChromium(t, 'flattr from your instance', journey);

async function journey(t: Test, browser: Browser, javaScriptEnabled: boolean): Promise<void> {
  const a = await startNetworked(t, defaultDatabaseKind());
  const b = await startNetworked(t, defaultDatabaseKind());
  const cat = await a.member('cat');
  await b.member('ann', { deposit: '20.00', budget: '5.00' });
  const thingId = await thing(a, cat, 'https://cat.example/drawings/1', 'Cat’s drawing');
  const context = await browser.newContext({ javaScriptEnabled, viewport: { width: 420, height: 900 } });
  t.teardown(() => context.close());
  const page = await context.newPage();
  const mode = javaScriptEnabled ? 'js' : 'nojs';

  await page.goto(`${a.origin}/things/${thingId}`);
  await page.getByRole('link', { name: 'Your account is on another Farthing instance? Flattr from there' }).click();
  await page.getByLabel('Your handle or instance').fill(`@ann@${new URL(b.origin).host}`);
  await page.screenshot({ path: new URL(`${mode}-remote-form.png`, ARTIFACTS).pathname, fullPage: true });
  await page.getByRole('button', { name: 'Go to my instance' }).click();
  t.equal(new URL(page.url()).origin, b.origin, "sent to the reader's own instance");
  await page.getByRole('link', { name: 'Sign in to flattr' }).click();
  await page.getByLabel('Username').fill('ann');
  await page.getByLabel('Password').fill('ann-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  t.match(await page.locator('main').textContent(), 'Cat’s drawing', 'back on the confirmation page, signed in');
  await page.screenshot({ path: new URL(`${mode}-remote-confirm.png`, ARTIFACTS).pathname, fullPage: true });
  await page.getByRole('button', { name: 'Flattr it' }).click();
  t.match(await page.locator('main').textContent(), 'You flattred', "the flattr is made on the reader's instance");
  await eventually(
    async () => {
      const items = (await a.api('GET', '/api/v1/me/incoming?period=2026-11', { token: cat })).body.items as { from: string }[];
      return items.some((i) => i.from === `${b.origin}/users/ann`);
    },
    20_000,
    "the Like arriving at the thing's instance",
  );
  t.pass("cat's instance hears of ann's flattr");
}
