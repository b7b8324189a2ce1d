/**
 * Debian's Chromium driven by playwright-core (no browser is downloaded): its headless shell
 * (package chromium-headless-shell, the same Blink as the browser without the desktop browser
 * around it; Playwright's own headless default, and a third less CPU per journey here), or the
 * full browser (package chromium) where only that is installed. `withChromium` runs
 * `journey` once with JavaScript and once without (or in the `modes` given), in a browser
 * launched for the file; without Chromium the tests are skipped with the reason, except under
 * CI, where that is a failure.
 * Screenshots go to ARTIFACTS (test/artifacts/, git-ignored).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import type { Test } from 'tap';

const CHROMIUM = ['/usr/bin/chromium-headless-shell', '/usr/bin/chromium'].find((path) => existsSync(path));
export const ARTIFACTS = new URL('../artifacts/', import.meta.url);

export async function withChromium(
  t: Test,
  name: string,
  journey: (t: Test, browser: Browser, javaScriptEnabled: boolean) => Promise<void>,
  modes: readonly boolean[] = [true, false],
): Promise<void> {
  if (!CHROMIUM) {
    const missing = 'Chromium is not installed (apt-get install chromium-headless-shell)';
    if (process.env.CI) t.fail(`${missing}; CI must have it`);
    else t.test(name, { skip: missing }, () => {});
    return;
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  t.teardown(() => browser.close());
  for (const javaScriptEnabled of modes) {
    await t.test(`${name} with JavaScript ${javaScriptEnabled ? 'enabled' : 'disabled'}`, (t) => journey(t, browser, javaScriptEnabled));
  }
}
