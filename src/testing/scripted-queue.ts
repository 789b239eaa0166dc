/**
 * The EvaluationQueue port from a script: one evaluation per experiment id, reported with the
 * stage progress a real queue sends. An experiment the script does not name fails the call (so
 * a test sees an evaluation it did not expect); `unused` lists what was scripted and never asked.
 * A list scripts an experiment's evaluations in order (a candidate re-applied on a newer best is
 * evaluated again). With `hold` on, each evaluation waits until the test `release`s it, so a test
 * can see how many are in flight at once.
 */
import type { Evaluation, EvaluationQueue, EvaluationRequest, StageKind, StageProgress } from '../domain/evaluation.js';
import { AbortedError } from '../domain/errors.js';
import type { ExperimentId } from '../domain/words.js';
import type { FakeClock } from './clock.js';

export type Scripted = Evaluation | readonly Evaluation[];

export class ScriptedQueue implements EvaluationQueue {
  readonly requests: EvaluationRequest[] = [];
  /** Hold every evaluation until `release` (see `held`). */
  hold = false;
  /** The most evaluations that were in flight at once. */
  maxInFlight = 0;
  private inFlight = 0;
  private readonly waiting = new Map<ExperimentId, () => void>();
  private readonly script: Map<ExperimentId, Evaluation[]>;
  private readonly holdouts: Map<ExperimentId, Evaluation[]>;

  /** `clock`: moved by each evaluation's `durationS`, so duration budgets see time pass. */
  constructor(
    script: Readonly<Record<ExperimentId, Scripted>>,
    private readonly clock?: FakeClock,
    holdouts: Readonly<Record<ExperimentId, Scripted>> = {},
  ) {
    const lists = (r: Readonly<Record<ExperimentId, Scripted>>): Map<ExperimentId, Evaluation[]> =>
      new Map(Object.entries(r).map(([exp, e]) => [exp, Array.isArray(e) ? [...(e as readonly Evaluation[])] : [e as Evaluation]]));
    this.script = lists(script);
    this.holdouts = lists(holdouts);
  }

  /** Experiments whose evaluation is held, in the order they were asked. */
  get held(): ExperimentId[] {
    return [...this.waiting.keys()];
  }

  /** Lets the held evaluation of `exp` answer. */
  release(exp: ExperimentId): void {
    const go = this.waiting.get(exp);
    if (go === undefined) throw new Error(`no evaluation of ${exp} is held`);
    this.waiting.delete(exp);
    go();
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

  private async answer(script: Map<ExperimentId, Evaluation[]>, request: EvaluationRequest, signal: AbortSignal, onProgress?: (progress: StageProgress) => void): Promise<Evaluation> {
    this.requests.push(request);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      if (this.hold) await this.waitForRelease(request.experiment, signal);
      return this.answerNow(script, request, signal, onProgress);
    } finally {
      this.inFlight -= 1;
    }
  }

  private waitForRelease(exp: ExperimentId, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.waiting.delete(exp);
        reject(new AbortedError());
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiting.set(exp, () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }

  private answerNow(script: Map<ExperimentId, Evaluation[]>, request: EvaluationRequest, signal: AbortSignal, onProgress?: (progress: StageProgress) => void): Promise<Evaluation> {
    if (signal.aborted) return Promise.reject(new AbortedError());
    const evaluation = script.get(request.experiment)?.shift();
    if (evaluation === undefined) return Promise.reject(new Error(`no evaluation scripted for ${request.experiment}`));
    if (script.get(request.experiment)?.length === 0) script.delete(request.experiment);
    const stages = [...new Set(evaluation.stages.map((s) => s.stage))] as StageKind[];
    for (const stage of stages) {
      onProgress?.({ stage, state: 'started' });
      onProgress?.({ stage, state: 'finished', outcomes: evaluation.stages.filter((s) => s.stage === stage) });
    }
    this.clock?.advance(evaluation.durationS * 1000);
    return Promise.resolve(evaluation);
  }
}
