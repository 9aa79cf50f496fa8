import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import { worldTargets } from '@redbrick/testkit';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDemo } from './support/demo.js';

/** The system Chromium (Debian package); never a browser download. */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = fileURLToPath(new URL('../test-artifacts/', import.meta.url));

let browser: Browser;
beforeAll(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  mkdirSync(ARTIFACTS, { recursive: true });
});
afterAll(async () => {
  await browser?.close();
});

// The browser test runs on memory and on one Redis (the cluster adds nothing a page can see).
const targets = worldTargets({ prefix: 'demo' }).filter((t) => t.name !== 'cluster');

describe.each(targets)('dashboard in a browser on $name', (t) => {
  it('logs in, submits a document to 100%, and shows the 429 of a burst', async () => {
    await using world = await t.open();
    await using demo = await openDemo(world, {
      backendLabel: `${t.name} (test)`,
      documents: { stepMs: 150 },
      rateLimits: { perUser: 30, windowMs: 10_000 },
    });
    const server = serve({ fetch: demo.app.fetch, port: 0, hostname: '127.0.0.1' });
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    const { port } = server.address() as AddressInfo;
    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const pageErrors: string[] = [];
    try {
      const page = await context.newPage();
      page.on('pageerror', (error) => pageErrors.push(String(error)));
      await page.goto(`http://127.0.0.1:${port}/`);
      await expect.poll(() => page.textContent('#backend')).toBe(`${t.name} (test)`);

      // Log in.
      await page.selectOption('#tenant', 'acme');
      await page.fill('#user', 'ada');
      await page.click('#login-form button[type=submit]');
      await page.waitForSelector('#whoami-box:not([hidden])');
      expect(await page.textContent('#whoami')).toContain('ada @ acme');
      await expect.poll(() => page.textContent('#live'), { timeout: 10_000 }).toBe('live');

      // Every panel is live: the queue counts arrive and every control is enabled.
      await expect
        .poll(() => page.textContent('#queue-counts'), { timeout: 10_000 })
        .toMatch(/^waiting \d+ · active \d+/);
      expect(await page.locator('#app button:disabled').count()).toBe(0);

      // Submit a document and watch its progress reach 100% over SSE.
      await page.fill('#doc-title', 'Browser report');
      await page.click('#doc-submit');
      const row = page.locator('#jobs li', { hasText: 'Browser report' });
      await row.locator('.pct', { hasText: '100%' }).waitFor({ timeout: 15_000 });
      expect(
        await row.locator('progress').evaluate((p) => (p as unknown as { value: number }).value),
      ).toBe(100);
      await page.locator('#usage tr', { hasText: 'research' }).waitFor();

      // A lock-protected checkout from the page.
      await page.click('#checkout-10');
      await expect.poll(() => page.textContent('#checkout-count'), { timeout: 10_000 }).toBe('10');

      // Ten concurrent lookups of a fresh topic: one upstream call, the rest wait for it.
      await page.click('#stampede');
      await page.locator('#cache-last', { hasText: ': 1 waited for the upstream call' }).waitFor();
      await expect.poll(() => page.textContent('#cache-upstream')).toBe('1');

      // Hit the rate limit: the page shows the 429s and the Retry-After.
      await page.click('#burst');
      await page.waitForSelector('#rl-banner:not([hidden])');
      expect(await page.textContent('#rl-banner')).toMatch(
        /^429 Too Many Requests — Retry-After: \d+ s/,
      );
      expect(Number(await page.textContent('#rl-denied'))).toBeGreaterThan(0);
      // The server-side tally reaches the chart (red bars) on the next poll.
      await expect
        .poll(async () => Number(await page.textContent('#rl-total-denied')), { timeout: 10_000 })
        .toBeGreaterThan(0);
      expect(await page.locator('#rl-chart rect[fill="#c62828"]').count()).toBeGreaterThan(0);

      await page.screenshot({ path: `${ARTIFACTS}dashboard-${t.name}.png`, fullPage: true });
      expect(pageErrors).toEqual([]);
    } finally {
      await context.close();
      await demo.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 45_000);
});
