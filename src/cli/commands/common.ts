import { InvalidArgumentError, Option } from 'commander';
import { DEFAULT_EXPERIMENTS, type RunsWhere } from '../../app/runs.js';
import type { StopReason } from '../../domain/words.js';

export function experimentsOption(): Option {
  return new Option('--experiments <dir>', `the folder of run folders (default: RATCHET_EXPERIMENTS, else ./${DEFAULT_EXPERIMENTS}, where a run id not found there is looked up among the runs started on this machine)`);
}

/** The experiments folder the user chose (the flag, else RATCHET_EXPERIMENTS); undefined: look everywhere. */
export function runsWhere(o: { experiments?: string | undefined }): RunsWhere {
  const chosen = o.experiments ?? (process.env['RATCHET_EXPERIMENTS'] || undefined);
  return chosen === undefined ? {} : { experimentsRoot: chosen };
}

/** Where a new run's folder goes. */
export function newRunsRoot(o: { experiments?: string | undefined }): string {
  return runsWhere(o).experimentsRoot ?? DEFAULT_EXPERIMENTS;
}

export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function intArg(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
}

export function numberArg(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
}

/** 0 when the run ended as planned (budget, or the agent had nothing left). */
export function exitCodeFor(reason: StopReason): number {
  switch (reason) {
    case 'budget':
    case 'exhausted':
    case 'user':
      return 0;
    case 'signal':
      return 130;
    case 'failures':
      return 3;
    case 'error':
      return 1;
  }
}
