/**
 * The dashboard in a real headless Chromium, on a copy of the fixture run: the chart's points,
 * hover, zoom, opening an experiment, and a live update when the run writes an event.
 */
import { existsSync } from 'node:fs';
import { appendFile, cp, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serve, type DashboardServer } from '../../src/view/web/server.js';

const CHROMIUM = '/usr/bin/chromium';
const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'run-basic');
const RUN_ID = '2026-11-21-sort-a1b2';
const SHOTS = join(import.meta.dirname, '..', '..', 'test-results');
// Never skipped: without the browser the test fails and says how to install it.
const title = 'dashboard in Chromium';

const e0009Finished = {
  v: 1,
  t: '2026-11-21T10:15:20.000Z',
  run: RUN_ID,
  type: 'experiment_finished',
  exp: 'e0009',
  verdict: 'keep',
  reason: 'ops_per_sec 1290 → 1340 (+3.9%)',
  description: 'use a bottom-up merge to drop recursion',
  commit: '9a7c3e91f0b2d4c6e8f1a3b5c7d9e0f2a4b6c8d0',
  parent: '8a7c3e91f0b2d4c6e8f1a3b5c7d9e0f2a4b6c8d0',
  metric: 1340,
  delta: 50,
  gain: 50 / 1290,
  secondary: {},
  durationS: 88,
};

describe(title, () => {
  let root: string;
  let profile: string;
  let server: DashboardServer;
  let context: BrowserContext;
  let page: Page;
  const requests: string[] = [];
  const errors: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's Chromium (apt-get install chromium)`);
    root = await mkdtemp(join(tmpdir(), 'ratchet-web-'));
    profile = await mkdtemp(join(tmpdir(), 'ratchet-chromium-'));
    await cp(FIXTURE, join(root, RUN_ID), { recursive: true });
    server = await serve({ experimentsRoot: root, port: 0, pollIntervalMs: 200 });
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1400, height: 900 },
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await context.newPage();
    page.on('request', (request) => requests.push(request.url()));
    page.on('pageerror', (error) => errors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    await page.goto(server.url);
  });

  afterAll(async () => {
    await context?.close();
    await server?.close();
    await rm(root, { recursive: true, force: true });
    await rm(profile, { recursive: true, force: true });
  });

  const points = (): Promise<number> => page.locator('#chart svg circle.point').count();

  it('draws one point per finished experiment and labels the kept ones', async () => {
    await expect.poll(points).toBe(9);
    const labels = await page.locator('#chart svg text.label').allTextContents();
    expect(labels).toEqual([
      'baseline',
      'switch to insertion sort below 16 elements',
      'pick the pivot as the median of three',
      'hoist the comparator out of the inner loop',
    ]);
    expect(await page.locator('#chart svg path.best').count()).toBe(1);
    // The in-flight experiment is in the table, not on the chart.
    expect(await page.locator('#results tbody tr[data-exp]').count()).toBe(10);
  });

  it('draws the labels inside the plot, none over another', async () => {
    // Measured in one go: the chart may be redrawn (a resize, a poll) between two calls.
    type Box = { x: number; y: number; width: number; height: number };
    // The plot's frame (the clip rectangle of the points and labels), and every label.
    const { plot, boxes } = await page.evaluate<{ plot: Box; boxes: Box[] }>(`(() => {
      const rect = (e) => { const r = e.getBoundingClientRect(); return { x: r.x, y: r.y, width: r.width, height: r.height }; };
      return { plot: rect(document.querySelector('#chart svg > rect[fill="none"]')), boxes: [...document.querySelectorAll('#chart svg text.label')].map(rect) };
    })()`);
    expect(boxes).toHaveLength(4);
    for (const b of boxes) {
      expect(b.x).toBeGreaterThanOrEqual(plot.x);
      expect(b.y).toBeGreaterThanOrEqual(plot.y);
      expect(b.x + b.width).toBeLessThanOrEqual(plot.x + plot.width);
      expect(b.y + b.height).toBeLessThanOrEqual(plot.y + plot.height);
    }
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) {
        const apart = a.x + a.width <= b.x || b.x + b.width <= a.x || a.y + a.height <= b.y || b.y + b.height <= a.y;
        expect(apart, JSON.stringify([a, b])).toBe(true);
      }
    }
  });

  it('shows the details of a point on hover', async () => {
    await page.locator('#chart circle.point[data-exp="e0004"]').hover();
    const tooltip = page.locator('#tooltip');
    await tooltip.waitFor({ state: 'visible' });
    expect(await tooltip.textContent()).toContain('pick the pivot as the median of three');
    expect(await tooltip.textContent()).toContain('+8.0%');
  });

  it('zooms to a range of experiments and back', async () => {
    await page.fill('#zoom-from', '2');
    await page.fill('#zoom-to', '5');
    await page.press('#zoom-to', 'Enter');
    await expect.poll(points).toBe(4);
    await page.click('#zoom-reset');
    await expect.poll(points).toBe(9);

    // Dragging across e0002..e0005 selects them.
    const a = (await page.locator('#chart circle.point[data-exp="e0002"]').boundingBox())!;
    const b = (await page.locator('#chart circle.point[data-exp="e0005"]').boundingBox())!;
    const y = a.y - 40;
    await page.mouse.move(a.x - 15, y);
    await page.mouse.down();
    await page.mouse.move(b.x + b.width + 15, y, { steps: 5 });
    await page.mouse.up();
    await expect.poll(points).toBe(4);
    expect(await page.inputValue('#zoom-from')).toBe('2');
    await page.locator('#chart svg').dblclick();
    await expect.poll(points).toBe(9);
  });

  it('filters the table by verdict', async () => {
    await page.locator('#filters [data-verdict="discard"]').click();
    await expect.poll(() => page.locator('#results tbody tr[data-exp]').count()).toBe(8);
    await page.locator('#filters [data-verdict="discard"]').click();
    await expect.poll(() => page.locator('#results tbody tr[data-exp]').count()).toBe(10);
  });

  it('opens an experiment with its highlighted diff, logs and measurements', async () => {
    await page.locator('#results tr[data-exp="e0004"]').click();
    const detail = page.locator('#detail');
    await detail.waitFor({ state: 'visible' });
    await detail.locator('.d2h-file-wrapper').waitFor();
    expect(await detail.locator('.d2h-ins .d2h-code-line-ctn').allTextContents()).toEqual([expect.stringContaining('medianOfThree')]);
    expect(await detail.locator('.detail-title').textContent()).toBe('pick the pivot as the median of three');
    expect(await detail.locator('.log[data-log="bench"] pre').textContent()).toContain('METRIC ops_per_sec=');
    expect(await detail.locator('.strip circle.sample').count()).toBe(6);
    await mkdir(SHOTS, { recursive: true });
    await detail.locator('.diff').scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(SHOTS, 'dashboard-experiment.png') });
    await page.keyboard.press('Escape');
    await detail.waitFor({ state: 'hidden' });
  });

  it('adds the point when the run writes a new experiment_finished event', async () => {
    const advanced = { v: 1, t: e0009Finished.t, run: RUN_ID, type: 'best_advanced', exp: 'e0009', commit: e0009Finished.commit, metric: 1340 };
    await appendFile(join(root, RUN_ID, 'events.jsonl'), `${JSON.stringify(e0009Finished)}\n${JSON.stringify(advanced)}\n`);
    await expect.poll(points, { timeout: 10_000 }).toBe(10);
    expect(await page.locator('#chart svg text.label').last().textContent()).toBe('use a bottom-up merge to drop recursion');
    await expect.poll(() => page.locator('#summary').textContent()).toContain('1340');
    await page.evaluate('window.scrollTo(0, 0)');
    await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });
  });

  it('loads nothing from any other origin and logs no errors', () => {
    expect(requests.filter((url) => !url.startsWith(server.url))).toEqual([]);
    expect(errors).toEqual([]);
  });
});
