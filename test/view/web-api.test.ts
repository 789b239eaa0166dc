/**
 * The dashboard's HTTP API and event stream, on a copy of the fixture run, without a browser.
 */
import { appendFile, cp, mkdtemp, rm } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/domain/errors.js';
import type { ExperimentDetail, RunDetail, RunSummary } from '../../src/view/web/api.js';
import { serve, type DashboardServer } from '../../src/view/web/server.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'run-basic');
const RUN_ID = '2026-11-21-sort-a1b2';

let root: string;
let server: DashboardServer;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ratchet-web-api-'));
  await cp(FIXTURE, join(root, RUN_ID), { recursive: true });
  server = await serve({ experimentsRoot: root, port: 0, pollIntervalMs: 100 });
});

afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

async function get(path: string): Promise<{ status: number; body: string; type: string }> {
  const res = await fetch(new URL(path, server.url));
  return { status: res.status, body: await res.text(), type: res.headers.get('content-type') ?? '' };
}

/** A raw request, so the path is sent as written (fetch would normalise `..`). */
function rawGet(path: string, headers: Record<string, string> = {}): Promise<number> {
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, headers }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('dashboard API', () => {
  it('lists the runs with their summary', async () => {
    const { runs } = JSON.parse((await get('/api/runs')).body) as { runs: RunSummary[] };
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      runId: RUN_ID,
      metric: 'ops_per_sec',
      goal: 'maximize',
      status: 'running',
      experiments: 8,
      kept: 3,
      inFlight: 1,
      baseline: 1000,
      best: { exp: 'e0008', metric: 1290 },
    });
    expect(runs[0]!.gain).toBeCloseTo(0.29);
  });

  it('gives one run with every experiment and the chart data', async () => {
    const detail = JSON.parse((await get(`/api/runs/${RUN_ID}`)).body) as RunDetail;
    expect(detail.experiments.map((e) => e.id)).toEqual(['e0000', 'e0001', 'e0002', 'e0003', 'e0004', 'e0005', 'e0006', 'e0007', 'e0008', 'e0009']);
    expect(detail.experiments.at(-1)).toMatchObject({ id: 'e0009', phase: 'bench', description: 'use a bottom-up merge to drop recursion' });
    expect(detail.experiments.at(-1)).not.toHaveProperty('verdict');
    expect(detail.progress.points).toHaveLength(9);
    expect(detail.progress.best).toEqual([
      { n: 0, metric: 1000 },
      { n: 1, metric: 1120 },
      { n: 4, metric: 1210 },
      { n: 8, metric: 1290 },
    ]);
  });

  it('gives an experiment with its result, diff and log tails', async () => {
    const detail = JSON.parse((await get(`/api/runs/${RUN_ID}/experiments/e0005`)).body) as ExperimentDetail;
    expect(detail.row).toMatchObject({ id: 'e0005', verdict: 'checks_failed', description: 'skip the stability pass for numbers' });
    expect(detail.result).toMatchObject({ experiment: 'e0005', verdict: 'checks_failed' });
    expect(detail.diff.text).toContain('+  if (typeof items[0] !== \'number\') stabilise(items, compare);');
    expect(detail.logs.checks.text).toContain('1 passed, 1 failed');
    expect(detail.logs.bench).toEqual({ text: '', truncated: false });
  });

  it('renders the chart as SVG, limited to a range of experiments', async () => {
    const all = await get(`/api/runs/${RUN_ID}/chart.svg`);
    expect(all.type).toContain('image/svg+xml');
    expect(all.body.match(/<circle class="point /g)).toHaveLength(9);
    const zoomed = await get(`/api/runs/${RUN_ID}/chart.svg?from=3.5&to=8.5&width=600`);
    const shown = new Set([...zoomed.body.matchAll(/<circle class="point [^"]*" data-exp="(e\d+)"/g)].map((m) => m[1]));
    expect([...shown].sort()).toEqual(['e0004', 'e0005', 'e0006', 'e0007', 'e0008']);
  });

  it('answers 404 for unknown runs and experiments and for names that leave the folder', async () => {
    expect((await get('/api/runs/no-such-run')).status).toBe(404);
    expect((await get(`/api/runs/${RUN_ID}/experiments/e0042`)).status).toBe(404);
    expect(await rawGet(`/api/runs/..%2F..%2Fetc/experiments/e0001`)).toBe(404);
    expect(await rawGet(`/api/runs/${RUN_ID}/experiments/..%2Frun.json`)).toBe(404);
    expect(await rawGet('/static/..%2Fserver.ts')).toBe(404);
    expect(await rawGet('/vendor/..%2F..%2Fpackage.json')).toBe(404);
  });

  it('serves the page with its scripts and the diff library from node_modules', async () => {
    const page = await get('/');
    expect(page.type).toContain('text/html');
    for (const src of page.body.match(/(?:src|href)="\/[^"]+"/g) ?? []) {
      const path = src.slice(src.indexOf('"') + 1, -1);
      expect([path, (await get(path)).status]).toEqual([path, 200]);
    }
    expect(page.body).toContain('/vendor/diff2html.min.js');
  });

  it('reports a port in use as a user error with a hint, and closes on abort', async () => {
    const port = Number(new URL(server.url).port);
    const error: unknown = await serve({ experimentsRoot: root, port }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).hint).toContain('--port');

    const controller = new AbortController();
    const other = await serve({ experimentsRoot: root, port: 0, signal: controller.signal });
    expect((await fetch(new URL('/api/runs', other.url))).status).toBe(200);
    controller.abort();
    await other.close();
    await expect(fetch(new URL('/api/runs', other.url))).rejects.toThrow();
  });

  it('refuses a request for another host name (DNS rebinding)', async () => {
    expect(await rawGet('/api/runs', { host: 'evil.example:80' })).toBe(403);
    expect(await rawGet('/api/runs', { host: 'localhost' })).toBe(200);
  });

  it('pushes each new event line over server-sent events once the line is whole', async () => {
    const controller = new AbortController();
    const res = await fetch(new URL(`/api/runs/${RUN_ID}/events`, server.url), { signal: controller.signal });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let received = '';
    const until = async (pattern: RegExp): Promise<void> => {
      const deadline = Date.now() + 5000;
      while (!pattern.test(received)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern} in:\n${received}`);
        const { value, done } = await reader.read();
        if (done) throw new Error('stream ended');
        received += decoder.decode(value as Uint8Array, { stream: true });
      }
    };
    await until(/event: hello/);

    const line = JSON.stringify({ v: 1, t: '2026-11-21T10:15:00.000Z', run: RUN_ID, type: 'stage_finished', exp: 'e0009', stage: 'bench', status: 'ok', durationS: 30, reason: 'ok' });
    const events = join(root, RUN_ID, 'events.jsonl');
    await appendFile(events, line.slice(0, 40));
    await new Promise((r) => setTimeout(r, 300));
    expect(received).not.toContain('event: run-event');
    await appendFile(events, `${line.slice(40)}\n`);
    await until(/event: run-event\nid: \d+\ndata: .*\n\n/);
    const data = /event: run-event\nid: \d+\ndata: (.*)\n\n/.exec(received)![1]!;
    expect(JSON.parse(data)).toMatchObject({ type: 'stage_finished', exp: 'e0009', stage: 'bench' });
    controller.abort();
  });
});
