/**
 * The stage executor's contract lives in src/eval/stages.ts; the queue only carries its results.
 */
import type { Evaluation } from '../core/types.js';
import type { StageResult } from '../eval/stages.js';

export type { StageExecutor, StageResult } from '../eval/stages.js';

/** Folds the stages that ran into one evaluation: `combineStages` from src/eval/combine.ts. */
export type CombineStages = (results: StageResult[]) => Evaluation;
