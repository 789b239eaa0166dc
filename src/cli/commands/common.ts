import { InvalidArgumentError, Option } from 'commander';
import type { StopReason } from '../../core/budget.js';

export function experimentsOption(): Option {
  return new Option('--experiments <dir>', 'the folder of run folders').default(process.env.RATCHET_EXPERIMENTS ?? 'experiments');
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
      return 0;
    case 'signal':
      return 130;
    case 'failures':
      return 3;
    case 'error':
      return 1;
  }
}
