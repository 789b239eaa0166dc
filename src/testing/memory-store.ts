/**
 * The Store port in memory, for loop tests: the same fold as the run folder (plan/fold.ts), and
 * every event checked against the event schema, so a loop that writes an event the record would
 * not read back fails here too.
 */
import { eventSchema, EVENT_VERSION, type EventOf, type NewEvent, type RunEvent, type RunEventType } from '../domain/events.js';
import type { Calibration, RunState } from '../domain/run-state.js';
import type { Store } from '../domain/store.js';
import type { ExperimentId } from '../domain/words.js';
import { applyEvent, foldEvents } from '../plan/fold.js';

export class MemoryStore implements Store {
  readonly events: RunEvent[];
  /** Experiment files by `eNNNN/name`. */
  readonly files = new Map<string, string>();
  calibration: Calibration | undefined;
  holdoutCalibration: Calibration | undefined;
  /** Called after each event is recorded: a test acts at a point of the run (a signal, say). */
  onAppend: ((event: RunEvent) => void) | undefined;
  private state: RunState;
  private refuse: ((event: NewEvent) => boolean) | undefined;

  /** `events`: what an earlier session recorded (a resumed run). */
  constructor(
    readonly runId: string,
    private readonly now: () => number,
    events: readonly RunEvent[] = [],
  ) {
    this.events = [...events];
    this.state = foldEvents(runId, this.events);
  }

  getState(): RunState {
    return this.state;
  }

  append(event: NewEvent): Promise<RunEvent> {
    if (this.refuse?.(event) === true) return Promise.reject(new Error(`the store refused a ${event.type} event`));
    const full = eventSchema.parse({ v: EVENT_VERSION, t: new Date(this.now()).toISOString(), run: this.runId, ...event });
    this.events.push(full);
    this.state = applyEvent(this.state, full);
    this.onAppend?.(full);
    return Promise.resolve(full);
  }

  /** Appends matching `refuse` fail from now on, as a full disk would make them. */
  refuseAppends(refuse: (event: NewEvent) => boolean): void {
    this.refuse = refuse;
  }

  ofType<T extends RunEventType>(type: T): EventOf<T>[] {
    return this.events.filter((e): e is EventOf<T> => e.type === type);
  }

  experimentDir(exp: ExperimentId): string {
    return `/memory/${this.runId}/${exp}`;
  }

  ensureExperimentDir(exp: ExperimentId): Promise<string> {
    return Promise.resolve(this.experimentDir(exp));
  }

  writeExperimentFile(exp: ExperimentId, name: string, content: string): Promise<void> {
    this.files.set(`${exp}/${name}`, content);
    return Promise.resolve();
  }

  readExperimentFile(exp: ExperimentId, name: string): Promise<string | undefined> {
    return Promise.resolve(this.files.get(`${exp}/${name}`));
  }

  recordCalibration(calibration: Calibration, stage: 'bench' | 'holdout' = 'bench'): Promise<void> {
    if (stage === 'holdout') this.holdoutCalibration = calibration;
    else this.calibration = calibration;
    return Promise.resolve();
  }
}
