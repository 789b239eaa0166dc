/**
 * The baseline's calibration in what the user reads: `show`'s summary (with the warning of an
 * explicit repeat: 1 on a bench that varies), the live view's header, and the dashboard's data.
 */
import { runInfo } from '../helpers/run-info.js';
import { appendFile, cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibrate } from '../../src/plan/calibration.js';
import type { NewEvent, RunEvent } from '../../src/domain/events.js';
import { foldEvents } from '../../src/plan/fold.js';
import { benchSchema } from '../../src/domain/spec.js';
import { formatSummary, summarize } from '../../src/view/summary.js';
import type { RunDetail } from '../../src/view/web/api.js';
import { serve, type DashboardServer } from '../../src/view/web/server.js';
import { renderWatch } from '../../src/view/watch/render.js';

const RUN = 'r-calib';
const T0 = Date.parse('2026-12-03T10:00:00.000Z');
const BASE = 'abc1234def5678abc1234def5678abc1234def56';
const SEEDS = [11, 22, 33, 44, 11];
const NOISY = [100, 106, 97, 103, 101];

function ev(seconds: number, event: NewEvent): RunEvent {
  return { v: 1, t: new Date(T0 + seconds * 1000).toISOString(), run: RUN, ...event };
}

function calibrated(bench: Record<string, unknown>, values: number[]): RunEvent {
  return ev(20, { type: 'calibrated', exp: 'e0000', ...calibrate(benchSchema.parse({ run: 'sh bench.sh', metric: { name: 'ms', goal: 'minimize' }, ...bench }), SEEDS, values) });
}

function history(calibration?: RunEvent): RunEvent[] {
  return [
    ev(0, { type: 'run_started', target: '/src/target', base: BASE, metric: 'ms', goal: 'minimize', agent: 'replay', resumed: false }),
    ev(1, { type: 'experiment_started', exp: 'e0000', parent: BASE, parentExp: 'e0000' }),
    ...(calibration === undefined ? [] : [calibration]),
  ];
}

const info = runInfo(RUN, BASE, new Date(T0).toISOString(), { objective: 'faster', bench: { run: 'sh bench.sh', metric: { name: 'ms', goal: 'minimize' } } });

describe('the calibration in show and watch', () => {
  it("puts what the baseline's runs showed and how candidates are measured in show's summary", () => {
    const text = formatSummary(summarize(foldEvents(RUN, history(calibrated({}, NOISY))), '/runs/r'));
    expect(text).toContain('  measured   5 baseline runs, spread 8.9%, noisy → paired A/B runs sharing a seed, repeat 10, min_effect 1.0%, confidence 99.0%');
    expect(text).not.toContain('warning');
    expect(text).not.toContain('holdout');
  });

  it("adds the holdout's calibration to the summary of a run with a holdout", () => {
    const holdout = { ...calibrated({}, [5, 5, 5, 5, 5]), stage: 'holdout' as const };
    const text = formatSummary(summarize(foldEvents(RUN, [...history(calibrated({}, NOISY)), holdout]), '/runs/r'));
    expect(text).toContain('  holdout    5 baseline runs, identical → one run per candidate');
  });

  it('warns in the summary when the spec says repeat: 1 on a bench whose runs vary', () => {
    const text = formatSummary(summarize(foldEvents(RUN, history(calibrated({ repeat: 1 }, NOISY))), '/runs/r'));
    expect(text).toContain('  measured   5 baseline runs, spread 8.9%, noisy → one run per candidate (repeat from the spec)');
    expect(text).toMatch(/ {2}warning {4}bench\.repeat is 1, but 5 baseline runs spread over 8\.9%: one run per candidate keeps noise/);
  });

  it('says nothing of a calibration a run has not made yet (or an older run never made)', () => {
    expect(formatSummary(summarize(foldEvents(RUN, history()), '/runs/r'))).not.toContain('measured');
    expect(renderWatch(foldEvents(RUN, history()), info, T0 + 30_000, 140).join('\n')).not.toContain('measure ');
  });

  it("shows the calibration in the live view's header", () => {
    const lines = renderWatch(foldEvents(RUN, history(calibrated({}, [3.5, 3.5, 3.5, 3.5, 3.5]))), info, T0 + 30_000, 140);
    expect(lines).toContain('measure  identical → one run per candidate');
    const warned = renderWatch(foldEvents(RUN, history(calibrated({ repeat: 1 }, NOISY))), info, T0 + 30_000, 140);
    expect(warned).toContain('measure  spread 8.9%, noisy → one run per candidate (repeat 1: see the warning in the log)');
  });
});

describe('the calibration in the dashboard data', () => {
  const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'run-basic');
  const RUN_ID = '2026-11-21-sort-a1b2';
  let root: string;
  let server: DashboardServer;

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ratchet-calib-views-'));
    await cp(FIXTURE, join(root, RUN_ID), { recursive: true });
    server = await serve({ experimentsRoot: root, port: 0, pollIntervalMs: 100 });
  });

  afterAll(async () => {
    await server?.close();
    await rm(root, { recursive: true, force: true });
  });

  const detail = async (): Promise<RunDetail> => (await (await fetch(new URL(`/api/runs/${RUN_ID}`, server.url))).json()) as RunDetail;

  it("gives the calibrated repeat, not run.json's placeholder, with what decided it", async () => {
    expect((await detail()).info.measured).toBeUndefined();
    const event = { ...calibrated({}, NOISY), run: RUN_ID, t: '2026-11-21T10:00:50.000Z' };
    await appendFile(join(root, RUN_ID, 'events.jsonl'), `${JSON.stringify(event)}\n`);
    const { info: shown } = await detail();
    expect(shown.repeat).toBe(10);
    expect(shown.measured).toEqual({
      short: 'A/B × 10',
      mode: 'paired A/B runs sharing a seed, repeat 10, min_effect 1.0%, confidence 99.0%',
      finding: 'spread 8.9%, noisy',
      runs: 5,
    });
  });
});
