/**
 * `ratchet watch`: the live view rendered from a fixture event stream, the terminal driver,
 * and the plain mode following a growing events.jsonl.
 */
import { runInfo } from '../helpers/run-info.js';
import { appendFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openWatch, watchRun, type WatchResult } from '../../src/app/watch.js';
import type { NewEvent, RunEvent } from '../../src/domain/events.js';
import { applyEvent, emptyState, foldEvents } from '../../src/plan/fold.js';
import type { RunState } from '../../src/domain/run-state.js';
import { formatEventLine } from '../../src/view/plain.js';
import { ESC, createLiveView, type TerminalOut } from '../../src/view/watch/live.js';
import { renderWatch } from '../../src/view/watch/render.js';
import { buildTimeline } from '../../src/view/watch/timeline.js';
import { runCli, spawnCli, waitFor } from '../helpers/cli.js';
import { tempDir } from '../helpers/gitdir.js';

const RUN = '2026-11-21-watch-a1b2';
const T0 = Date.parse('2026-11-21T10:00:00.000Z');
const BASE = 'abc1234def5678abc1234def5678abc1234def56';

function ev(seconds: number, event: NewEvent): RunEvent {
  return { v: 1, t: new Date(T0 + seconds * 1000).toISOString(), run: RUN, ...event };
}

const info = runInfo(RUN, BASE, new Date(T0).toISOString(), {
  objective: 'lower the score',
  checks: [{ name: 'test', run: 'true', timeout: '1m' }],
  bench: { run: 'sh bench.sh', timeout: '5m', metric: { name: 'score', goal: 'minimize' } },
  budget: { experiments: 20, duration: '2h', usd: 5 },
});

const usage = (costUsd: number) => ({ inputTokens: 1, outputTokens: 1, cacheReadTokens: 0, cacheWriteTokens: 0, costUsd });

/** One experiment from start to verdict, its bench taking `benchS` seconds. */
function experiment(at: number, exp: string, description: string, end: Omit<Extract<NewEvent, { type: 'experiment_finished' }>, 'type' | 'exp' | 'description' | 'parent' | 'secondary' | 'durationS'>, benchS: number, cost = 0): RunEvent[] {
  const commit = `${exp}000000000000000000000000000000000000`.slice(0, 40);
  return [
    ev(at, { type: 'experiment_started', exp, parent: BASE, parentExp: 'e0000' }),
    ev(at + 5, { type: 'proposed', exp, description, ...(cost > 0 ? { usage: usage(cost) } : {}) }),
    ev(at + 6, { type: 'committed', exp, commit, files: ['value.txt'], insertions: 1, deletions: 1 }),
    ev(at + 7, { type: 'stage_started', exp, stage: 'bench' }),
    ev(at + 7 + benchS, { type: 'stage_finished', exp, stage: 'bench', status: end.verdict === 'checks_failed' ? 'failed' : 'ok', durationS: benchS, reason: '' }),
    ev(at + 8 + benchS, { type: 'experiment_finished', exp, description, parent: BASE, secondary: {}, durationS: 8 + benchS, commit, ...end }),
  ];
}

// Baseline 100; e0001 keeps 80; e0002 is worse; e0003 fails its checks; e0004 benches, e0005 proposes.
const HISTORY: RunEvent[] = [
  ev(0, { type: 'run_started', target: '/src/target', base: BASE, metric: 'score', goal: 'minimize', agent: 'replay', resumed: false }),
  ...experiment(1, 'e0000', 'baseline', { verdict: 'keep', reason: 'baseline', metric: 100 }, 30),
  ev(40, { type: 'best_advanced', exp: 'e0000', commit: BASE, metric: 100 }),
  ...experiment(50, 'e0001', 'lower the constant', { verdict: 'keep', reason: 'score 100 → 80 (+20.0%)', metric: 80, delta: -20, gain: 0.2 }, 40, 0.5),
  ev(99, { type: 'best_advanced', exp: 'e0001', commit: 'e0001000000000000000000000000000000000000', metric: 80 }),
  ...experiment(150, 'e0002', 'try a worse idea', { verdict: 'discard', reason: 'score 80 → 90: worse (-12.5%)', metric: 90, delta: 10, gain: -0.125 }, 50, 0.25),
  ev(260, { type: 'experiment_started', exp: 'e0003', parent: BASE, parentExp: 'e0001' }),
  ev(265, { type: 'proposed', exp: 'e0003', description: 'break things' }),
  ev(300, { type: 'experiment_finished', exp: 'e0003', verdict: 'checks_failed', reason: 'check "test" failed (exit 1)', description: 'break things', parent: BASE, secondary: {}, durationS: 40 }),
  ev(310, { type: 'experiment_started', exp: 'e0004', parent: BASE, parentExp: 'e0001' }),
  ev(320, { type: 'proposed', exp: 'e0004', description: 'unroll the loop' }),
  ev(321, { type: 'committed', exp: 'e0004', commit: 'e0004000000000000000000000000000000000000', files: ['value.txt'], insertions: 3, deletions: 1 }),
  ev(400, { type: 'stage_started', exp: 'e0004', stage: 'bench' }),
  ev(410, { type: 'experiment_started', exp: 'e0005', parent: BASE, parentExp: 'e0001' }),
];
const NOW = T0 + 430_000;

describe('renderWatch', () => {
  const state = foldEvents(RUN, HISTORY);
  const timeline = buildTimeline(HISTORY);
  const lines = renderWatch(state, info, NOW, 120, timeline);
  const text = lines.join('\n');

  it('shows the target, the metric and goal, and baseline → best with the gain', () => {
    expect(lines[0]).toBe(`ratchet ${RUN} · running · 7m10s`);
    expect(text).toContain('target   /src/target  (agent replay)');
    expect(text).toContain('metric   score, minimize: baseline 100 → best 80 (e0001)  +20.0%');
  });

  it('counts experiments, keeps, the rate per hour and the cost', () => {
    // 3 experiments in 430 s is 25.1 an hour.
    expect(text).toContain('done     3 experiments · 1 kept · 25.1/h · cost $0.75');
  });

  it("shows what is left of each of the spec's budgets", () => {
    expect(text).toContain('budget   17 of 20 experiments left · 1h52m of 2h left · $4.25 of $5.00 left · stops after 10 failures in a row');
  });

  it('shows experiments in flight with their stage and a progress bar against the median bench', () => {
    const bench = lines.find((l) => l.startsWith('  e0004'));
    // 30 s into a bench whose earlier runs took 30, 40 and 50 s.
    expect(bench).toBe('  e0004 bench      [###############-----]  75%  30s of ~40s (median of 3 earlier)  unroll the loop');
    expect(lines.find((l) => l.startsWith('  e0005'))).toBe('  e0005 proposing  20s since it started  (proposing)');
  });

  it('shows every candidate in flight at once, each with its own stage, and says which was re-applied', () => {
    const many: RunEvent[] = [
      ...HISTORY.slice(0, 7),
      ev(100, { type: 'experiment_started', exp: 'e0002', parent: BASE, parentExp: 'e0000' }),
      ev(101, { type: 'experiment_started', exp: 'e0003', parent: BASE, parentExp: 'e0000' }),
      ev(102, { type: 'experiment_started', exp: 'e0004', parent: BASE, parentExp: 'e0000' }),
      ev(103, { type: 'proposed', exp: 'e0002', description: 'cache the keys' }),
      ev(104, { type: 'committed', exp: 'e0002', commit: 'e0002'.padEnd(40, '0'), files: ['a'], insertions: 1, deletions: 0 }),
      ev(105, { type: 'stage_started', exp: 'e0002', stage: 'checks' }),
      ev(106, { type: 'proposed', exp: 'e0003', description: 'inline the compare' }),
      ev(107, { type: 'committed', exp: 'e0003', commit: 'e0003'.padEnd(40, '0'), files: ['b'], insertions: 1, deletions: 0 }),
      ev(108, { type: 'reapplied', exp: 'e0003', from: 'e0003'.padEnd(40, '0'), commit: 'e0003'.padEnd(40, '1'), onto: 'e0001'.padEnd(40, '0'), ontoExp: 'e0001', metric: 79 }),
      ev(109, { type: 'stage_started', exp: 'e0003', stage: 'bench' }),
    ];
    const shown = renderWatch(foldEvents(RUN, many), info, T0 + 120_000, 200, buildTimeline(many));
    expect(shown).toContain('in flight (3)');
    expect(shown.find((l) => l.startsWith('  e0002'))).toMatch(/^ {2}e0002 checks .*cache the keys$/);
    expect(shown.find((l) => l.startsWith('  e0003'))).toMatch(/^ {2}e0003 bench .*inline the compare \(re-applied on e0001\)$/);
    expect(shown.find((l) => l.startsWith('  e0004'))).toBe('  e0004 proposing  18s since it started  (proposing)');
  });

  it("estimates a first bench against its timeouts, an upper bound: the baseline's five calibration runs", () => {
    const first = HISTORY.slice(0, 5);
    const fresh = renderWatch(foldEvents(RUN, first), info, T0 + 68_000, 120, buildTimeline(first));
    expect(fresh.find((l) => l.startsWith('  e0000'))).toContain('1m of at most 25m (timeouts)');
  });

  it('bounds a candidate by the calibrated bench (paired, 30 pairs at most), not the spec\'s unresolved repeat: auto', () => {
    const events: RunEvent[] = [
      ...HISTORY.slice(0, 4),
      ev(20, { type: 'calibrated', exp: 'e0000', runs: 5, seeds: [1, 2, 3, 4, 1], values: [100, 104, 98, 101, 99], spread: 0.06, varies: true, seedDetermined: false, mode: 'paired', repeat: 10, explicit: false, minEffect: 0.01, confidence: 0.99 }),
      ...HISTORY.slice(4, 9),
      ev(60, { type: 'experiment_started', exp: 'e0001', parent: BASE, parentExp: 'e0000' }),
      ev(61, { type: 'proposed', exp: 'e0001', description: 'lower the constant' }),
      ev(62, { type: 'stage_started', exp: 'e0001', stage: 'bench' }),
    ].filter((e) => !(e.type === 'experiment_finished' && e.exp === 'e0001') && !(e.type === 'best_advanced' && e.exp === 'e0001'));
    const uncalibrated = events.filter((e) => e.type !== 'calibrated');
    const line = (evs: RunEvent[]) => renderWatch(foldEvents(RUN, evs), info, T0 + 122_000, 140, { ...buildTimeline(evs), durations: { setup: [], checks: [], bench: [], holdout: [] } }).find((l) => l.startsWith('  e0001'));
    // 5 minutes a run, both sides, up to 3 × 10 pairs.
    expect(line(events)).toContain('1m of at most 5h (timeouts)');
    expect(line(uncalibrated)).toContain('1m of at most 5m (timeouts)');
  });

  it('lists the last results with verdict, metric, delta and description', () => {
    const at = lines.indexOf('last results');
    expect(lines.slice(at + 1)).toEqual([
      '  exp   verdict       score     delta             description',
      '  e0000 keep          100       baseline          baseline',
      '  e0001 keep          80        -20 (+20.0%)      lower the constant',
      '  e0002 discard       90        +10 (-12.5%)      try a worse idea',
      '  e0003 checks_failed -                           break things — check "test" failed (exit 1)',
    ]);
  });

  it('never draws a line wider than the terminal', () => {
    for (const width of [30, 60, 200]) {
      for (const line of renderWatch(state, info, NOW, width, timeline)) expect(line.length).toBeLessThanOrEqual(width);
    }
  });

  it('freezes the clock and says why once the run stopped', () => {
    const stopped = [...HISTORY, ev(500, { type: 'run_stopped', reason: 'budget', detail: '20 of 20 experiments done' })];
    const later = renderWatch(foldEvents(RUN, stopped), info, NOW + 3_600_000, 120, buildTimeline(stopped));
    expect(later[0]).toBe(`ratchet ${RUN} · stopped (budget): 20 of 20 experiments done · 8m20s`);
  });
});

/** A terminal that records what is written to it. */
function fakeTerminal(tty: boolean, columns = 80, rows?: number): TerminalOut & { writes: string[] } {
  const writes: string[] = [];
  return { isTTY: tty, columns, ...(rows === undefined ? {} : { rows }), writes, write: (text: string) => writes.push(text) };
}

function feed(view: { onEvent(e: RunEvent, s: RunState): void }, events: readonly RunEvent[]): void {
  let state = emptyState(RUN);
  for (const event of events) view.onEvent(event, (state = applyEvent(state, event)));
}

describe('createLiveView', () => {
  it('redraws in place on a terminal: hidden cursor, home, lines cleared to their end, restored on close', async () => {
    let now = NOW;
    const out = fakeTerminal(true);
    const view = createLiveView({ out, info, tickMs: 0, now: () => now });
    feed(view, HISTORY);
    await new Promise((r) => setImmediate(r));
    expect(out.writes).toHaveLength(1); // one frame for the burst
    expect(out.writes[0]!.startsWith(`${ESC.hideCursor}${ESC.home}`)).toBe(true);
    now += 60_000;
    view.tick();
    expect(out.writes[1]!.startsWith(ESC.home) && !out.writes[1]!.includes(ESC.hideCursor)).toBe(true);
    const frame = out.writes.at(-1)!;
    expect(frame.endsWith(ESC.clearDown)).toBe(true);
    expect(frame).toContain(`ratchet ${RUN} · running · 8m10s${ESC.clearLine}\n`);
    for (const line of frame.split('\n').slice(0, -1)) expect(line.replace(ESC.home, '').replace(ESC.clearLine, '').length).toBeLessThanOrEqual(80);
    view.close();
    view.close();
    expect(out.writes.at(-1)).toBe(ESC.showCursor);
    expect(out.writes.filter((w) => w === ESC.showCursor)).toHaveLength(1);
  });

  it('draws no more lines than the screen holds', () => {
    const out = fakeTerminal(true, 80, 10);
    const view = createLiveView({ out, info, tickMs: 0, now: () => NOW });
    feed(view, HISTORY);
    view.tick();
    const frame = out.writes.at(-1)!;
    expect(frame.split('\n')).toHaveLength(10);
    expect(frame).toContain('more lines (a taller terminal shows them)');
    view.close();
  });

  it('prints one plain line per event when the output is not a terminal', () => {
    const out = fakeTerminal(false);
    const view = createLiveView({ out, info, now: () => NOW });
    feed(view, HISTORY);
    view.close();
    const state = emptyState(RUN);
    const expected = HISTORY.map((e) => formatEventLine(e, applyEvent(state, e))).filter((l) => l !== undefined);
    expect(out.writes).toEqual(expected.map((l) => `${l}\n`));
    expect(out.writes.join('')).not.toContain('\x1b');
  });
});

describe('formatEventLine', () => {
  const state = foldEvents(RUN, HISTORY.slice(0, 1));
  const finished = (reason: string, extra: Partial<Extract<NewEvent, { type: 'experiment_finished' }>> = {}): RunEvent =>
    ev(500, { type: 'experiment_finished', exp: 'e0007', verdict: 'keep', reason, description: 'd', parent: BASE, secondary: {}, durationS: 1, metric: 80, gain: 0.032, ...extra });

  it('names the metric once on a keep line, with the measurement its reason leaves out', () => {
    expect(formatEventLine(finished('score 100 → 80 (+20.0%)'), state)).toBe('10:08:20 e0007 KEEP score 100 → 80 (+20.0%)');
    expect(formatEventLine(finished('score +3.2% [+1.9%, +4.4%] p=0.002 over 12 pairs'), state)).toBe('10:08:20 e0007 KEEP score +3.2% [+1.9%, +4.4%] p=0.002 over 12 pairs; measured 80');
    expect(formatEventLine(finished('constraint rss_mb 600 > max 512', { verdict: 'discard' }), state)).toBe('10:08:20 e0007 DISCARD score=80 (+3.2%) constraint rss_mb 600 > max 512');
    expect(formatEventLine(finished('check "test" failed (exit 1)', { verdict: 'checks_failed', metric: undefined, gain: undefined }), state)).toBe('10:08:20 e0007 CHECKS_FAILED check "test" failed (exit 1)');
  });

  it('says a candidate was re-applied on the new best, onto which commit, and what it measured first', () => {
    const line = formatEventLine(ev(500, { type: 'reapplied', exp: 'e0007', from: 'f'.repeat(40), commit: '7'.repeat(40), onto: BASE, ontoExp: 'e0005', metric: 81 }), state);
    expect(line).toBe('10:08:20 e0007 re-applied on e0005 (abc1234) as 7777777, to be measured again there (it measured 81 on its first parent)');
  });
});

describe('watching a run folder in plain mode', () => {
  let root: { path: string; cleanup: () => Promise<void> };
  let file: string;
  const run = (id: string): string => join(root.path, id);

  beforeAll(async () => {
    root = await tempDir('ratchet-watch-');
  });
  afterAll(() => root.cleanup());

  async function makeRun(id: string, events: readonly RunEvent[]): Promise<string> {
    await mkdir(run(id), { recursive: true });
    await writeFile(join(run(id), 'run.json'), JSON.stringify({ ...info, runId: id }));
    file = join(run(id), 'events.jsonl');
    await writeFile(file, events.map((e) => `${JSON.stringify({ ...e, run: id })}\n`).join(''));
    return file;
  }

  function watchPlain(id: string, follow: boolean, signal = new AbortController().signal): { lines: string[]; done: Promise<WatchResult> } {
    const out = fakeTerminal(false);
    const lines: string[] = [];
    out.write = (text: string) => lines.push(text.replace(/\n$/, ''));
    const view = createLiveView({ out, redraw: false });
    const done = openWatch({ experimentsRoot: root.path, runId: id, follow, signal, pollMs: 50 }).then((source) => watchRun(source, view, { signal }));
    return { lines, done };
  }

  it('prints the events so far, one line each, and exits without --follow', async () => {
    await makeRun('plain-once', HISTORY.slice(0, 12));
    const { lines, done } = watchPlain('plain-once', false);
    expect(await done).toMatchObject({ ended: 'end_of_events', events: 12 });
    expect(lines).toEqual([
      `10:00:00 run plain-once started on /src/target at abc1234 (minimize score, agent replay)`,
      '10:00:01 e0000 started from the base commit',
      '10:00:07 e0000 committed e000000: 1 file, +1 -1',
      '10:00:38 e0000 bench ok in 30.0s',
      '10:00:39 e0000 baseline score=100',
      '10:00:40 best is now e0000 (abc1234) at 100',
      '10:00:50 e0001 started from e0000 (abc1234)',
      '10:00:55 e0001 proposed: lower the constant',
      '10:00:56 e0001 committed e000100: 1 file, +1 -1',
    ]);
  });

  it('follows events appended while it watches, a line written in two parts included, until aborted', async () => {
    const path = await makeRun('plain-follow', HISTORY.slice(0, 3));
    const abort = new AbortController();
    const { lines, done } = watchPlain('plain-follow', true, abort.signal);
    await waitFor(() => lines.length === 2, 10_000, 'the first lines');
    const next = JSON.stringify({ ...HISTORY[3]!, run: 'plain-follow' });
    await appendFile(path, next.slice(0, 20));
    await new Promise((r) => setTimeout(r, 150));
    expect(lines).toHaveLength(2);
    const more = HISTORY.slice(4, 6).map((e) => `${JSON.stringify({ ...e, run: 'plain-follow' })}\n`);
    await appendFile(path, `${next.slice(20)}\n${more.join('')}`);
    await waitFor(() => lines.length === 4, 10_000, 'the appended lines');
    expect(lines.slice(2)).toEqual(['10:00:07 e0000 committed e000000: 1 file, +1 -1', '10:00:38 e0000 bench ok in 30.0s']);
    abort.abort();
    expect(await done).toMatchObject({ ended: 'interrupted', events: 6 });
  });

  it('stops following when the run stops, but not at an earlier session that was resumed', async () => {
    const resumed = [
      ...HISTORY.slice(0, 2),
      ev(20, { type: 'run_stopped', reason: 'signal', detail: 'interrupted' }),
      ev(30, { type: 'run_started', target: '/src/target', base: BASE, metric: 'score', goal: 'minimize', agent: 'replay', resumed: true }),
    ];
    const path = await makeRun('plain-stop', resumed);
    const { lines, done } = watchPlain('plain-stop', true);
    let finished = false;
    void done.then(() => (finished = true));
    await waitFor(() => lines.length === 4, 10_000, 'the history');
    await new Promise((r) => setTimeout(r, 150));
    expect(finished).toBe(false);
    await appendFile(path, `${JSON.stringify({ ...ev(40, { type: 'run_stopped', reason: 'exhausted', detail: 'no more patches' }), run: 'plain-stop' })}\n`);
    expect(await done).toMatchObject({ ended: 'run_stopped' });
    expect(lines.at(-1)).toBe('10:00:40 run stopped (exhausted): no more patches');
  });

  it('prints plain lines from the CLI when piped', async () => {
    await makeRun('plain-cli', HISTORY.slice(0, 3));
    const result = await runCli(['watch', 'plain-cli', '--experiments', root.path, '--no-follow']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toBe('10:00:00 run plain-cli started on /src/target at abc1234 (minimize score, agent replay)\n10:00:01 e0000 started from the base commit\n');
  });

  it('ends quietly with 0 when the reader of its output goes away, as `ratchet watch <run> | head -1` does', async () => {
    const path = await makeRun('plain-pipe', HISTORY.slice(0, 3));
    const watch = spawnCli(['watch', 'plain-pipe', '--experiments', root.path, '--plain']);
    await waitFor(() => watch.output().includes('\n'), 20_000, 'the first line');
    // `head -1` has its line and exits: the pipe's read end closes, the next write gets EPIPE.
    watch.child.stdout!.destroy();
    await appendFile(path, HISTORY.slice(3, 8).map((e) => `${JSON.stringify({ ...e, run: 'plain-pipe' })}\n`).join(''));
    const result = await watch.done;
    expect(result).toMatchObject({ code: 0, signal: null, stderr: '' });
  });
});
