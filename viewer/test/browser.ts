import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../bench/chromium.js';

export const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/viewer/', import.meta.url));
const PUBLIC_DIR = fileURLToPath(new URL('../../dist/viewer/public/', import.meta.url));

export async function launchBrowser(): Promise<Browser> {
  await mkdir(ARTIFACTS, { recursive: true });
  return launchChromium();
}

/** `npm test` builds the client first; a lone `vitest run` builds it here when it is missing. */
export async function ensureClientBuilt(): Promise<void> {
  if (existsSync(`${PUBLIC_DIR}index.html`)) return;
  const { build } = await import('vite');
  await build({ configFile: fileURLToPath(new URL('../vite.config.ts', import.meta.url)), logLevel: 'warn' });
}

/** Saves `test-artifacts/viewer/<name>.png`; `fullPage: false` is quicker, for steps racing a hop deadline. */
export async function screenshot(page: Page, name: string, options: { fullPage?: boolean } = {}): Promise<string> {
  const path = `${ARTIFACTS}${name}.png`;
  await page.screenshot({ path, fullPage: options.fullPage ?? true });
  return path;
}

/** A fresh browser context (its own cookies) logged in through the login form. */
export async function loggedIn(browser: Browser, base: string, user: string, password: string): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  const page = await context.newPage();
  await page.goto(new URL('/login', base).href);
  await page.fill('#user', user);
  await page.fill('#password', password);
  await Promise.all([page.waitForURL((url) => url.pathname !== '/login'), page.click('form:has(#password) button[type=submit]')]);
  return { context, page };
}
