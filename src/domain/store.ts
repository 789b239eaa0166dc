/**
 * What the loop needs of the run's record, as an interface: the events (the truth, and the state
 * folded from them) and each experiment's files. src/store implements it (RunStore, the run
 * folder); src/testing has one in memory for fast loop tests.
 */
import type { Calibration, RunState } from './run-state.js';
import type { NewEvent, RunEvent } from './events.js';
import type { ExperimentId } from './words.js';

export interface Store {
  readonly runId: string;
  /** The fold of every event appended so far. */
  getState(): RunState;
  /** Appends one event (the envelope `v`, `t`, `run` is added); resolves once it is recorded. */
  append(event: NewEvent): Promise<RunEvent>;
  /** Where the experiment's logs and files live (the folder need not exist yet). */
  experimentDir(exp: ExperimentId): string;
  /** The experiment's folder, made when missing: the stages write their logs there. */
  ensureExperimentDir(exp: ExperimentId): Promise<string>;
  writeExperimentFile(exp: ExperimentId, name: string, content: string): Promise<void>;
  /** One of the experiment's files as text, or undefined when it was never written. */
  readExperimentFile(exp: ExperimentId, name: string): Promise<string | undefined>;
  /** The baseline's calibration (the bench's or the holdout's) beside the spec, for readers of the record (the event stays the truth). */
  recordCalibration(calibration: Calibration, stage?: 'bench' | 'holdout'): Promise<void>;
}
