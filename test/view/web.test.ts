/**
 * The dashboard in a real headless Chromium, on a copy of the fixture run: the chart's points,
 * hover, zoom, opening an experiment, and a live update when the run writes an event.
 */
import { existsSync } from 'node:fs';
import { appendFile, cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
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

  it('shows an overfit experiment with its holdout figures and opens its holdout log', async () => {
    const exp = 'e0010';
    const at = (s: number): string => `2026-11-21T10:${String(16 + s).padStart(2, '0')}:00.000Z`;
    const commit = 'aa7c3e91f0b2d4c6e8f1a3b5c7d9e0f2a4b6c8d0';
    const holdout = { metric: 6, parent: 5, change: 0.2, rule: 'no_regress', passed: false, reason: 'holdout cost 5 → 6 (+20.0%): worse' };
    const reason = 'bench ops_per_sec +4.1% but holdout cost +20.0% (5 → 6): rule no_regress';
    const events = [
      { type: 'experiment_started', exp, parent: e0009Finished.commit, parentExp: 'e0009' },
      { type: 'proposed', exp, description: 'special-case the benchmark input' },
      { type: 'committed', exp, commit, files: ['src/sort.js'], insertions: 3, deletions: 1 },
      { type: 'experiment_finished', exp, verdict: 'overfit', reason, description: 'special-case the benchmark input', commit, parent: e0009Finished.commit, metric: 1395, delta: 55, gain: 0.041, secondary: {}, durationS: 40, holdout },
    ].map((e, i) => JSON.stringify({ v: 1, t: at(i), run: RUN_ID, ...e }));
    const folder = join(root, RUN_ID, exp);
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, 'result.json'), JSON.stringify({ experiment: exp, verdict: 'overfit', reason, commit, metric: 1395, holdout }));
    await writeFile(join(folder, 'holdout.log'), '$ node /holdout/confirm.js\nMETRIC cost=6\n');
    await appendFile(join(root, RUN_ID, 'events.jsonl'), `${events.join('\n')}\n`);

    const row = page.locator(`#results tr[data-exp="${exp}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('.badge').textContent()).toBe('overfit');
    expect(await row.locator('td.num').nth(2).textContent()).toBe('6');
    await row.click();
    const detail = page.locator('#detail');
    await detail.waitFor({ state: 'visible' });
    const facts = await detail.locator('dd.holdout').textContent();
    expect(facts).toContain('parent 5');
    expect(facts).toContain('+20.0%');
    expect(facts).toContain('no_regress failed');
    // An overfit opens on the log that decided it.
    expect(await detail.locator('.log[data-log="holdout"] pre').textContent()).toContain('METRIC cost=6');
    await page.keyboard.press('Escape');
    await detail.waitFor({ state: 'hidden' });
  });

  it("shows how the baseline's calibration measures candidates, the whole finding on hover", async () => {
    await expect.poll(() => page.locator('#summary').textContent()).toContain('as the spec says');
    const calibration = { runs: 5, seeds: [11, 22, 33, 44, 11], values: [1000, 1061, 973, 1030, 1008], spread: 0.0873, varies: true, seedDetermined: false, mode: 'paired', repeat: 10, explicit: false, minEffect: 0.01, confidence: 0.99 };
    await appendFile(join(root, RUN_ID, 'events.jsonl'), `${JSON.stringify({ v: 1, t: '2026-11-21T10:00:50.000Z', run: RUN_ID, type: 'calibrated', exp: 'e0000', ...calibration })}\n`);
    const measured = page.locator('#measured');
    await expect.poll(() => measured.textContent(), { timeout: 10_000 }).toBe('A/B × 10');
    expect(await measured.getAttribute('title')).toBe('5 baseline runs, spread 8.7%, noisy → paired A/B runs sharing a seed, repeat 10, min_effect 1.0%, confidence 99.0%');
    expect(await page.locator('#summary').textContent()).toContain('spread 8.7%, noisy');
  });

  it('loads nothing from any other origin and logs no errors', () => {
    expect(requests.filter((url) => !url.startsWith(server.url))).toEqual([]);
    expect(errors).toEqual([]);
  });
});
