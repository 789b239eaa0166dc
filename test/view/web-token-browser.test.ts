/**
 * The dashboard bound off loopback, in a real headless Chromium: opened from the URL with its
 * token, the page's own requests (fetch and EventSource) get through on the cookie alone.
 */
import { appendFile, cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type DashboardServer } from '../../src/view/web/server.js';

const CHROMIUM = '/usr/bin/chromium';
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'run-basic');
const RUN_ID = '2026-11-21-sort-a1b2';

describe('a token-protected dashboard in Chromium', () => {
  let root: string;
  let profile: string;
  let server: DashboardServer;
  let context: BrowserContext;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ratchet-web-token-'));
    profile = await mkdtemp(join(tmpdir(), 'ratchet-chromium-token-'));
    await cp(FIXTURE, join(root, RUN_ID), { recursive: true });
    server = await serve({ experimentsRoot: root, host: '0.0.0.0', port: 0, pollIntervalMs: 200 });
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
    await rm(root, { recursive: true, force: true });
    await rm(profile, { recursive: true, force: true });
  });

  it('loads from the printed URL, drops the token from the address bar, and stays live on the cookie', async () => {
    const page = await context.newPage();
    const refused: string[] = [];
    page.on('response', (response) => {
      if (response.status() === 401) refused.push(response.url());
    });
    const points = (): Promise<number> => page.locator('#chart svg circle.point').count();

    await page.goto(server.url);

    expect(page.url()).not.toContain('token=');
    await expect.poll(points).toBe(9);
    const finished = { v: 1, t: '2026-11-21T10:15:20.000Z', run: RUN_ID, type: 'experiment_finished', exp: 'e0009', verdict: 'discard', reason: 'no gain', description: 'use a bottom-up merge to drop recursion', commit: '9a7c3e91f0b2d4c6e8f1a3b5c7d9e0f2a4b6c8d0', parent: '8a7c3e91f0b2d4c6e8f1a3b5c7d9e0f2a4b6c8d0', metric: 1280, delta: -10, gain: -10 / 1290, secondary: {}, durationS: 88 };
    await appendFile(join(root, RUN_ID, 'events.jsonl'), `${JSON.stringify(finished)}\n`);
    await expect.poll(points, { timeout: 10_000 }).toBe(10);
    expect(refused).toEqual([]);
  });

  it('shows nothing once the cookie is gone and the URL has no token', async () => {
    await context.clearCookies();
    const page = await context.newPage();

    const response = await page.goto(new URL('/', server.url).href);

    expect(response?.status()).toBe(401);
    await page.close();
  });
});
