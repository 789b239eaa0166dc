/**
 * results.tsv: one row per finished experiment. The first five columns are autoresearch's
 * (`commit`, the metric, `memory_gb`, `status`, `description`), so its tools read ours. New
 * columns go at the end (the holdout's last), so a reader by position keeps working; a run
 * recorded before them leaves them empty.
 */
import type { RunState } from '../domain/run-state.js';
import { finishedExperiments } from '../plan/fold.js';

export const RESULTS_COLUMNS_AFTER_METRIC = [
  'memory_gb',
  'status',
  'description',
  'experiment',
  'reason',
  'duration_s',
  'delta',
  'gain_pct',
  'pairs',
  'p_value',
  'ci_low_pct',
  'ci_high_pct',
  'parent',
  'files',
  'input_tokens',
  'output_tokens',
  'cost_usd',
  'holdout',
  'holdout_parent',
  'holdout_change_pct',
] as const;

/** Tabs and newlines would break a row. */
function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'number') return Number.isFinite(value) ? String(Number(value.toPrecision(10))) : '';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.replace(/[\t\r\n]+/g, ' ').trim();
}

function memoryGb(secondary: Record<string, number>): number | undefined {
  if (secondary.memory_gb !== undefined) return secondary.memory_gb;
  if (secondary.peak_vram_mb !== undefined) return secondary.peak_vram_mb / 1024;
  if (secondary.rss_mb !== undefined) return secondary.rss_mb / 1024;
  return undefined;
}

function pct(value: unknown): number | undefined {
  return typeof value === 'number' ? value * 100 : undefined;
}

export function renderResultsTsv(state: RunState): string {
  const metric = state.started?.metric ?? 'metric';
  const header = ['commit', metric, ...RESULTS_COLUMNS_AFTER_METRIC];
  const rows = finishedExperiments(state).map((e) => {
    const f = e.finished!;
    const stats = f.stats ?? {};
    return [
      f.commit?.slice(0, 7),
      f.metric,
      memoryGb(f.secondary),
      f.verdict,
      f.description,
      e.id,
      f.reason,
      f.durationS,
      f.delta,
      pct(f.gain),
      f.pairs,
      stats.p_value,
      pct(stats.ci_low),
      pct(stats.ci_high),
      f.parent.slice(0, 7),
      e.files.length > 0 ? e.files.join(',') : undefined,
      f.usage?.inputTokens,
      f.usage?.outputTokens,
      f.usage?.costUsd,
      f.holdout?.metric,
      f.holdout?.parent,
      pct(f.holdout?.change),
    ].map(cell);
  });
  return [header, ...rows].map((r) => r.join('\t')).join('\n') + '\n';
}

/** Parse results.tsv back into records (for tools that only have the file). */
export function parseResultsTsv(text: string): Record<string, string>[] {
  const [head, ...lines] = text.split('\n').filter((l) => l !== '');
  if (head === undefined) return [];
  const names = head.split('\t');
  return lines.map((line) => Object.fromEntries(line.split('\t').map((v, i) => [names[i] ?? `col${i}`, v])));
}
