import { describe, expect, it } from 'vitest';
import type { BenchSample, Evaluation, EvaluationStatus } from '../../src/domain/evaluation.js';
import { decide, formatGain, formatMinEffect } from '../../src/plan/decide.js';
import { benchSchema, type BenchSpec } from '../../src/domain/spec.js';

function bench(overrides: Record<string, unknown> = {}): BenchSpec {
  return benchSchema.parse({ run: 'node bench.js', metric: { name: 'ops_per_sec', goal: 'maximize' }, ...overrides });
}

function measured(metric: number, secondary: Record<string, number> = {}, samples?: BenchSample[]): Evaluation {
  return {
    status: 'ok',
    reason: 'bench ok',
    stages: [],
    measurement: { metric, samples: samples ?? [{ side: 'candidate', metric, secondary }], secondary },
    durationS: 1,
    failureTail: undefined,
  };
}

function failed(status: EvaluationStatus, reason: string): Evaluation {
  return { status, reason, stages: [], measurement: undefined, durationS: 1, failureTail: 'tail' };
}

describe('decide with repeat: 1 (a deterministic metric)', () => {
  it('keeps a candidate that beats the best', () => {
    const decision = decide({ bench: bench(), best: 100, evaluation: measured(110) });
    expect(decision).toEqual({ verdict: 'keep', reason: 'ops_per_sec 100 → 110 (+10.0%)', delta: 10, gain: 0.1 });
  });

  it('discards a tie', () => {
    const decision = decide({ bench: bench(), best: 100, evaluation: measured(100) });
    expect(decision).toMatchObject({ verdict: 'discard', reason: 'ops_per_sec 100 → 100: a tie is not an improvement', delta: 0, gain: 0 });
  });

  it('discards a worse candidate, in the goal direction', () => {
    expect(decide({ bench: bench(), best: 100, evaluation: measured(95) })).toMatchObject({ verdict: 'discard', reason: 'ops_per_sec 100 → 95: worse (-5.0%)', gain: -0.05 });
    const minimize = bench({ metric: { name: 'ms', goal: 'minimize' } });
    expect(decide({ bench: minimize, best: 100, evaluation: measured(95) })).toMatchObject({ verdict: 'keep', delta: -5, gain: 0.05 });
    expect(decide({ bench: minimize, best: 100, evaluation: measured(105) }).verdict).toBe('discard');
  });

  it('discards a gain below a relative min_effect and keeps one at it', () => {
    const spec = bench({ min_effect: '2%' });
    expect(decide({ bench: spec, best: 100, evaluation: measured(101) })).toMatchObject({ verdict: 'discard', reason: 'ops_per_sec 100 → 101: gain below min_effect 2%' });
    expect(decide({ bench: spec, best: 100, evaluation: measured(102) }).verdict).toBe('keep');
  });

  it('compares an absolute min_effect in metric units', () => {
    const spec = bench({ min_effect: 5 });
    expect(decide({ bench: spec, best: 1000, evaluation: measured(1004) })).toMatchObject({ verdict: 'discard', reason: 'ops_per_sec 1000 → 1004: gain below min_effect 5' });
    expect(decide({ bench: spec, best: 1000, evaluation: measured(1005) }).verdict).toBe('keep');
  });

  it('passes checks_failed, timeout and crash through with their reasons', () => {
    for (const status of ['checks_failed', 'timeout', 'crash'] as const) {
      expect(decide({ bench: bench(), best: 100, evaluation: failed(status, `${status} happened`) })).toEqual({ verdict: status, reason: `${status} happened`, delta: undefined, gain: undefined });
    }
  });

  it('calls an ok evaluation without a measurement a crash', () => {
    const evaluation: Evaluation = { ...measured(1), measurement: undefined };
    expect(decide({ bench: bench(), best: 100, evaluation })).toMatchObject({ verdict: 'crash', reason: 'the bench produced no measurement' });
  });

  it('discards a better candidate that breaks a constraint', () => {
    const spec = bench({ constraints: [{ metric: 'rss_mb', max: 512 }] });
    expect(decide({ bench: spec, best: 100, evaluation: measured(120, { rss_mb: 600 }) })).toMatchObject({ verdict: 'discard', reason: 'rss_mb 600 exceeds max 512', gain: 0.2 });
    expect(decide({ bench: spec, best: 100, evaluation: measured(120, {}) }).reason).toBe('constraint metric "rss_mb" not found in the bench output');
    expect(decide({ bench: spec, best: 100, evaluation: measured(120, { rss_mb: 500 }) }).verdict).toBe('keep');
  });

  it('formats gains and min_effect for people', () => {
    expect(formatGain(0.1234)).toBe('+12.3%');
    expect(formatGain(-0.004)).toBe('-0.40%');
    expect(formatGain(undefined)).toBe('n/a');
    expect(formatMinEffect({ kind: 'relative', value: 0.015 })).toBe('1.5%');
  });
});

describe('decide with repeat > 1 (A/B pairs)', () => {
  const parents = [100, 98, 103, 99, 102, 101, 97, 104, 100, 99];
  const ab = (ratio: (i: number) => number): BenchSample[] =>
    parents.flatMap((p, i) => [
      { side: 'candidate' as const, metric: p * ratio(i), secondary: {} },
      { side: 'parent' as const, metric: p, secondary: {} },
    ]);
  const spec = bench({ repeat: 10, max_repeat: 10, min_effect: '1%' });

  it('keeps a gain shown over the pairs and records its statistics', () => {
    // The median candidate (101.4) is worse than the recorded best (105): only the pairs count.
    const decision = decide({ bench: spec, best: 105, evaluation: measured(101.4, {}, ab((i) => 1.03 + 0.005 * Math.sin(i))) });
    expect(decision.verdict).toBe('keep');
    expect(decision.reason).toMatch(/^ops_per_sec \+3\.\d% \[\+\d\.\d%, \+\d\.\d%\] p<0\.001 over 10 pairs$/);
    expect(decision.stats).toMatchObject({ rule: 'paired', pairs: 10, confidence: 0.95 });
  });

  it('discards a no-op that a single lucky run would have kept', () => {
    const samples = ab((i) => [1.02, 0.98, 1.01, 0.99, 1.015, 0.985, 1.005, 0.995, 1.03, 0.97][i]!);
    const decision = decide({ bench: spec, best: 95, evaluation: measured(100, {}, samples) });
    expect(decision.verdict).toBe('discard');
    expect(decision.stats?.rule).toBe('paired');
  });

  it('checks constraints on every candidate run, not on their median', () => {
    const samples = ab(() => 1.05).map((s, i) => (i === 4 ? { ...s, secondary: { rss_mb: 700 } } : { ...s, secondary: { rss_mb: 300 } }));
    const constrained = bench({ repeat: 10, max_repeat: 10, constraints: [{ metric: 'rss_mb', max: 512 }] });
    const decision = decide({ bench: constrained, best: 100, evaluation: measured(105, { rss_mb: 300 }, samples) });
    expect(decision).toMatchObject({ verdict: 'discard', reason: 'rss_mb 700 exceeds max 512 (candidate run 3 of 10)' });
  });

  it('falls back to the deterministic rule without parent runs', () => {
    const samples: BenchSample[] = [100, 110, 120].map((metric) => ({ side: 'candidate', metric, secondary: {} }));
    const decision = decide({ bench: spec, best: 100, evaluation: measured(110, {}, samples) });
    expect(decision).toEqual({ verdict: 'keep', reason: 'ops_per_sec 100 → 110 (+10.0%)', delta: 10, gain: 0.1 });
  });

  it('keeps the deterministic rule for repeat: 1 even with paired samples', () => {
    const decision = decide({ bench: bench(), best: 100, evaluation: measured(100.5, {}, ab(() => 1.05)) });
    expect(decision.stats).toBeUndefined();
    expect(decision.reason).toBe('ops_per_sec 100 → 100.5 (+0.50%)');
  });

  it('still passes failures through before looking at samples', () => {
    expect(decide({ bench: spec, best: 100, evaluation: failed('timeout', 'bench timed out after 5m') }).verdict).toBe('timeout');
  });
});
