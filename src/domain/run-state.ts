/**
 * The run's state as the fold of its events builds it (src/plan/fold.ts): what the loop, resume
 * and the views read. Types only, so the store port can name them.
 */
import type { EventOf } from './events.js';
import type { AgentState } from './proposal.js';
import type { ExperimentId, Usage } from './words.js';

export type ExperimentPhase = 'proposing' | 'setup' | 'checks' | 'bench' | 'holdout' | 'deciding' | 'finished';

export interface ExperimentState {
  id: ExperimentId;
  parent: string;
  parentExp: string;
  phase: ExperimentPhase;
  description: string;
  hypothesis: string | undefined;
  commit: string | undefined;
  files: string[];
  startedAt: string;
  finished: EventOf<'experiment_finished'> | undefined;
  usage: Usage | undefined;
  /** What the agent recorded with its proposal (`proposed.agentState`). */
  agentState: AgentState | undefined;
  /** The commit first measured, when the candidate was re-applied on a newer best (`commit`, `parent` are then the new ones). */
  reappliedFrom?: string;
}

export interface RunState {
  runId: string;
  started: EventOf<'run_started'> | undefined;
  experiments: Map<ExperimentId, ExperimentState>;
  /** `holdout`: the best's holdout value, when the spec has a holdout. */
  best: { exp: ExperimentId; commit: string; metric: number; holdout?: number } | undefined;
  baseline: { commit: string; metric: number } | undefined;
  /** How the bench measures candidates, from the baseline's calibration runs. */
  calibration: Calibration | undefined;
  /** How the holdout measures candidates, from its runs at the baseline (with a holdout in the spec). */
  holdoutCalibration: Calibration | undefined;
  stopped: EventOf<'run_stopped'> | undefined;
  lastEventAt: string | undefined;
  /** Experiment numbers are never reused, so a cancelled one still counts here. */
  lastExperimentNumber: number;
  cancelled: number;
}

export interface Calibration {
  runs: number;
  seeds: number[];
  values: number[];
  /** (max − min) / |median| of the values; 0 when they are identical. */
  spread: number;
  varies: boolean;
  /** The values vary with the seed, and one seed measured twice gave the same value. */
  seedDetermined: boolean;
  /** How candidates are measured: one run each, or paired A/B runs. */
  mode: 'single' | 'paired';
  /** The repeat every candidate is measured with. */
  repeat: number;
  /** `repeat` was given in the spec (not `auto`): calibration only warns. */
  explicit: boolean;
  /** The relative min_effect the calibration set (auto, noisy, none in the spec); else undefined. */
  minEffect?: number;
  /** The confidence the calibration set (auto, noisy, none in the spec); else undefined. */
  confidence?: number;
}
