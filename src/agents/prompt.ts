/**
 * The prompt every model-driven agent sees, rendered from the proposal context. Pure.
 *
 * Three parts, in the order a prompt cache wants them: `system` (the same for every run),
 * `stable` (the same for every experiment of a run: objective, metric, rules, files) and
 * `volatile` (history, best so far, last failure). `full` joins them for agents that take one
 * text (the `command` agent's prompt file).
 */
import type { HistoryRow, InFlightRow, ProposalContext } from '../domain/proposal.js';
import { formatMetric, formatMinEffect } from '../plan/decide.js';
import { formatDuration } from '../domain/duration.js';

export interface RenderedPrompt {
  system: string;
  stable: string;
  volatile: string;
  full: string;
}

export interface PromptOptions {
  /** Editable files of the worktree, listed in the stable part (capped). */
  files?: readonly string[];
  /** How the agent ends: the `finish` tool (claude) or a description file (command). */
  finish?: 'tool' | 'file';
}

/** Where a `command` agent writes its one-line description, relative to the worktree. */
export const DESCRIPTION_FILE = '.ratchet/description';
/** Where a `command` agent writes why it has nothing left to try; the run then ends. */
export const EXHAUSTED_FILE = '.ratchet/exhausted';

/** Rows shown besides every kept one: the most recent tries. */
export const RECENT_ROWS = 15;
export const MAX_FILES_LISTED = 300;
export const FAILURE_TAIL_CHARS = 4000;
const DESCRIPTION_CHARS = 120;
const REASON_CHARS = 90;

export function renderPrompt(context: ProposalContext, options: PromptOptions = {}): RenderedPrompt {
  const system = renderSystem(options.finish ?? 'tool');
  const stable = renderStable(context, options.files);
  const volatile = renderVolatile(context);
  return { system, stable, volatile, full: `${system}\n\n${stable}\n\n${volatile}\n` };
}

function renderSystem(finish: 'tool' | 'file'): string {
  const done =
    finish === 'tool'
      ? 'When the change is complete, call the `finish` tool with a one-line `description` of the change (it becomes the commit message) and your `hypothesis`.'
      : `When the change is complete, write a one-line description of it (it becomes the commit message) to \`${DESCRIPTION_FILE}\` and stop. Leave the change in the working tree; you need not commit it. If nothing is left that is worth trying, change nothing: write a one-line reason to \`${EXHAUSTED_FILE}\` and stop, and the run ends.`;
  return [
    'You are a research engineer in an automated improvement loop. Each session you make one change to a code base in a fresh git worktree. An evaluator then runs the checks and the benchmark, and keeps the change only if every check passes and the metric improves by more than the measurement noise. Everything tried is recorded, kept or not.',
    '',
    'Rules:',
    '1. Make ONE focused change that tests ONE idea. A small diff is easier to evaluate, and an idea that fails teaches more when it is alone.',
    '2. Form a hypothesis before you edit: why should this change move the metric? Read the history first; do not repeat what was discarded unless you have a new reason.',
    '3. Never change protected files (the benchmark, the tests, the data): edits to them are refused, and a change that touches them is rejected. Change only editable files.',
    '4. Keep the code correct: the checks must still pass. Run them if you can.',
    `5. ${done}`,
  ].join('\n');
}

function renderStable(context: ProposalContext, files: readonly string[] | undefined): string {
  const { spec } = context;
  const metric = spec.bench.metric;
  const lines = ['# Objective', '', context.objective.trim(), '', '# Metric', ''];
  lines.push(
    `\`${metric.name}\`, to ${metric.goal} (${metric.goal === 'maximize' ? 'higher' : 'lower'} is better), printed by the benchmark \`${spec.bench.run}\` (time limit ${formatDuration(spec.bench.timeout)}).`,
  );
  const minEffect = spec.bench.min_effect;
  lines.push(`A change is kept when it beats the best by more than the noise${minEffect.value === 0 ? '' : ` and by at least ${formatMinEffect(minEffect)}`}.`);
  for (const c of spec.bench.constraints) {
    const bounds = [c.min === undefined ? '' : `≥ ${c.min}`, c.max === undefined ? '' : `≤ ${c.max}`].filter(Boolean).join(' and ');
    lines.push(`Constraint: \`${c.metric}\` must stay ${bounds}.`);
  }
  if (spec.checks.length > 0) {
    lines.push('', 'Checks that must pass first:');
    for (const check of spec.checks) lines.push(`- ${check.name}: \`${check.run}\``);
  }
  lines.push('', '# Files', '');
  lines.push(spec.editable.length === 0 ? 'Editable: every file that is not protected.' : `Editable (globs): ${spec.editable.map(code).join(', ')}`);
  lines.push(spec.protected.length === 0 ? 'Protected: none.' : `Protected (never change): ${spec.protected.map(code).join(', ')}`);
  if (files !== undefined) {
    lines.push('', `Editable files (${files.length}):`);
    for (const file of files.slice(0, MAX_FILES_LISTED)) lines.push(`- ${file}`);
    if (files.length > MAX_FILES_LISTED) lines.push(`- … and ${files.length - MAX_FILES_LISTED} more`);
  }
  return lines.join('\n');
}

function renderVolatile(context: ProposalContext): string {
  const metricName = context.spec.bench.metric.name;
  const lines = [`# History of run ${context.runId}`, ''];
  lines.push(`Best so far: ${context.best.experiment}, ${metricName} = ${formatMetric(context.best.metric)} (commit ${context.best.commit.slice(0, 10)}).`, '');
  lines.push(...historyTable(context.history, metricName));
  lines.push(...inFlightList(context.inFlight ?? []));
  const failure = context.lastFailure;
  if (failure !== undefined) {
    lines.push('', `# Last failure: ${failure.experiment}, ${failure.verdict}: ${oneLine(failure.reason, 300)}`);
    const tail = tailOf(failure.outputTail, FAILURE_TAIL_CHARS);
    if (tail !== '') lines.push('', 'End of its output:', '```', tail.replaceAll('```', "'''"), '```');
  }
  lines.push('', '# Your task', '');
  lines.push(
    `This is experiment ${context.experiment}. The worktree is checked out at the best commit. Study the code, choose one promising idea that the history has not already settled, make the change, check it, and finish.`,
  );
  return lines.join('\n');
}

/** Candidates other agents are working on or being measured now: not to be tried twice at once. */
export function inFlightList(rows: readonly InFlightRow[]): string[] {
  if (rows.length === 0) return [];
  const lines = ['', '# In flight', '', 'Other candidates are being proposed or measured right now. Do not try the same idea; pick a different one.', ''];
  for (const row of rows) {
    const what = row.description === '' ? '(its agent is still working)' : cell(row.description, DESCRIPTION_CHARS);
    lines.push(`- ${row.experiment} (${row.phase}): ${what}`);
  }
  return lines;
}

/** Every kept row and the most recent tries, oldest first; older failures summarised by count. */
export function historyTable(history: readonly HistoryRow[], metricName: string): string[] {
  if (history.length === 0) return ['No experiments have finished yet.'];
  const recentFrom = Math.max(0, history.length - RECENT_ROWS);
  const shown = history.filter((row, i) => i >= recentFrom || row.verdict === 'keep');
  const hidden = history.filter((row, i) => i < recentFrom && row.verdict !== 'keep');
  const lines = [`| exp | verdict | ${metricName} | description | note |`, '|---|---|---|---|---|'];
  for (const row of shown) {
    const metric = row.metric === undefined ? '-' : formatMetric(row.metric);
    const note = row.verdict === 'keep' && row.reason === 'baseline' ? '' : oneLine(row.reason, REASON_CHARS);
    lines.push(`| ${row.experiment} | ${row.verdict} | ${metric} | ${cell(row.description, DESCRIPTION_CHARS)} | ${cell(note, REASON_CHARS)} |`);
  }
  if (hidden.length > 0) {
    const counts = new Map<string, number>();
    for (const row of hidden) counts.set(row.verdict, (counts.get(row.verdict) ?? 0) + 1);
    const summary = [...counts].map(([verdict, n]) => `${n} ${verdict}`).join(', ');
    lines.push('', `(${hidden.length} earlier experiments not shown: ${summary}.)`);
  }
  return lines;
}

function code(glob: string): string {
  return `\`${glob}\``;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

function cell(text: string, max: number): string {
  return oneLine(text, max).replaceAll('|', '\\|');
}

/** The last `max` characters, cut at a line start when one is near. */
function tailOf(text: string, max: number): string {
  const trimmed = text.trimEnd();
  if (trimmed.length <= max) return trimmed;
  const cut = trimmed.slice(-max);
  const newline = cut.indexOf('\n');
  return `…${newline >= 0 && newline < 200 ? cut.slice(newline) : cut}`;
}
