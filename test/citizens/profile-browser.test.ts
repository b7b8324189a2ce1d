/**
 * The profile page in a real browser (Debian's Chromium through playwright-core), with and
 * without JavaScript: a member sets their name and bio and uploads a picture on the settings
 * page (a plain multipart form), and a reader sees the profile at /users/{username} — avatar
 * loaded, bio, things with counts — and flattrs from it. Screenshots go to test/artifacts/.
 */
import { writeFileSync } from 'node:fs';
import type { Browser, Page } from 'playwright-core';
import t, { type Test } from 'tap';
import { ARTIFACTS, withChromium } from '../helpers/chromium.ts';
import { defaultDatabaseKind } from '../helpers/databases.ts';
import { photo } from '../helpers/images.ts';
import { thing } from '../helpers/instance.ts';
import { startNetworked } from '../helpers/network.ts';

await withChromium(t, 'profile page', journey);

async function journey(t: Test, browser: Browser, javaScriptEnabled: boolean): Promise<void> {
  const inst = await startNetworked(t, defaultDatabaseKind());
  const mode = javaScriptEnabled ? 'js' : 'nojs';
  const shot = (page: Page, name: string) => page.screenshot({ path: new URL(`${mode}-${name}.png`, ARTIFACTS).pathname, fullPage: true });
  const consoleErrors: string[] = [];
  const person = async () => {
    const context = await browser.newContext({ javaScriptEnabled, baseURL: inst.origin, viewport: { width: 420, height: 900 } });
    t.teardown(() => context.close());
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 4\d\d/.test(message.text())) consoleErrors.push(`${page.url()}: ${message.text()}`);
    });
    return page;
  };
  const cora = await inst.member('cora', { deposit: '5.00' });
  await thing(inst, cora, 'https://cora.example/essay', 'An essay');
  await inst.member('reader', { deposit: '20.00', budget: '5.00' });

  const owner = await person();
  await owner.goto('/signin');
  await owner.getByLabel('Username').fill('cora');
  await owner.getByLabel('Password').fill('cora-password');
  await owner.getByRole('button', { name: 'Sign in' }).click();
  await owner.goto('/settings/profile');
  await owner.getByLabel('Display name').fill('Cora Writes');
  await owner.getByLabel('Bio').fill('Essays about <small> things.\nEvery week.');
  await owner.getByRole('button', { name: 'Save the profile' }).click();
  t.equal(await owner.locator('.notice').textContent(), 'Profile saved.');
  const picture = new URL(`${mode}-upload.jpg`, ARTIFACTS).pathname;
  writeFileSync(picture, await photo('jpeg', 900, 600));
  await owner.getByLabel('Picture').setInputFiles(picture);
  await owner.getByRole('button', { name: 'Upload the picture' }).click();
  t.equal(await owner.locator('.notice').textContent(), 'Picture saved.');
  const notPicture = new URL(`${mode}-not-a-picture.png`, ARTIFACTS).pathname;
  writeFileSync(notPicture, 'plain text');
  await owner.getByLabel('Picture').setInputFiles(notPicture);
  await owner.getByRole('button', { name: 'Upload the picture' }).click();
  t.match(await owner.locator('#avatar-error').textContent(), '(unsupported_media_type)', 'the refusal is next to the field');
  await shot(owner, 'profile-settings');

  const reader = await person();
  await reader.goto('/users/cora');
  t.equal(await reader.locator('h1').textContent(), 'Cora Writes');
  t.match(await reader.locator('.bio').textContent(), 'Essays about <small> things.');
  t.equal(await reader.locator('img.avatar').evaluate((img: HTMLImageElement) => img.naturalWidth), 400, 'the avatar loads (400 px)');
  t.match(await reader.locator('ul.things').textContent(), /An essay[\s\S]*0 this month · 0 in all/);
  await shot(reader, 'profile-visitor');
  await reader.getByRole('link', { name: 'Sign in to flattr' }).click();
  await reader.getByLabel('Username').fill('reader');
  await reader.getByLabel('Password').fill('reader-password');
  await reader.getByRole('button', { name: 'Sign in' }).click();
  await reader.waitForURL('**/users/cora');
  await reader.getByRole('button', { name: 'Flattr “An essay”' }).click();
  t.equal(await reader.locator('.notice').textContent(), 'You flattred “An essay”.');
  await reader.goto('/users/cora');
  t.match(await reader.locator('ul.things').textContent(), '1 this month · 1 in all');
  await shot(reader, 'profile-member');
  t.same(consoleErrors, [], 'no console errors (no CSP violations)');
}
