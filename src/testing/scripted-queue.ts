/**
 * The EvaluationQueue port from a script: one evaluation per experiment id, reported with the
 * stage progress a real queue sends. An experiment the script does not name fails the call (so
 * a test sees an evaluation it did not expect); `unused` lists what was scripted and never asked.
 */
import type { Evaluation, EvaluationQueue, EvaluationRequest, StageKind, StageProgress } from '../domain/evaluation.js';
import { AbortedError } from '../domain/errors.js';
import type { ExperimentId } from '../domain/words.js';
import type { FakeClock } from './clock.js';

export class ScriptedQueue implements EvaluationQueue {
  readonly requests: EvaluationRequest[] = [];
  private readonly script: Map<ExperimentId, Evaluation>;
  private readonly holdouts: Map<ExperimentId, Evaluation>;

  /** `clock`: moved by each evaluation's `durationS`, so duration budgets see time pass. */
  constructor(
    script: Readonly<Record<ExperimentId, Evaluation>>,
    private readonly clock?: FakeClock,
    holdouts: Readonly<Record<ExperimentId, Evaluation>> = {},
  ) {
    this.script = new Map(Object.entries(script));
    this.holdouts = new Map(Object.entries(holdouts));
  }

  evaluate(request: EvaluationRequest, signal: AbortSignal, onProgress?: (progress: StageProgress) => void): Promise<Evaluation> {
    return this.answer(this.script, request, signal, onProgress);
  }

  evaluateHoldout(request: EvaluationRequest, signal: AbortSignal, onProgress?: (progress: StageProgress) => void): Promise<Evaluation> {
    return this.answer(this.holdouts, request, signal, onProgress);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  get unused(): ExperimentId[] {
    return [...this.script.keys(), ...this.holdouts.keys()];
  }

  private answer(script: Map<ExperimentId, Evaluation>, request: EvaluationRequest, signal: AbortSignal, onProgress?: (progress: StageProgress) => void): Promise<Evaluation> {
    this.requests.push(request);
    if (signal.aborted) return Promise.reject(new AbortedError());
    const evaluation = script.get(request.experiment);
    if (evaluation === undefined) return Promise.reject(new Error(`no evaluation scripted for ${request.experiment}`));
    script.delete(request.experiment);
    const stages = [...new Set(evaluation.stages.map((s) => s.stage))] as StageKind[];
    for (const stage of stages) {
      onProgress?.({ stage, state: 'started' });
      onProgress?.({ stage, state: 'finished', outcomes: evaluation.stages.filter((s) => s.stage === stage) });
    }
    this.clock?.advance(evaluation.durationS * 1000);
    return Promise.resolve(evaluation);
  }
}
