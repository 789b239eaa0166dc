/**
 * The run directory, `experiments/<run>/`: where every try is kept. Layout:
 *   run.json          the resolved spec, target, base commit, agent, versions
 *   events.jsonl      append-only events, the source of truth
 *   results.tsv       one row per experiment, rewritten atomically from the state
 *   eNNNN/            patch.diff, agent.jsonl, setup.log, checks.log, bench.log, result.json
 *
 * The folder is 0700: its logs may hold what a command printed, and its events are what `show`
 * and `pick` trust, so no other user of the machine may read or append to them.
 */
import { appendFileSync } from 'node:fs';
import { chmod, mkdir, open, readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { UserError } from '../domain/errors.js';
import { FULL_COMMIT_ID } from '../domain/refs.js';
import type { ExperimentId } from '../domain/words.js';
import type { Spec } from '../domain/spec.js';
import type { Calibration } from '../domain/run-state.js';
import type { Store } from '../domain/store.js';
import { writeFileAtomic } from './atomic.js';
import { NO_REDACTION, type Redactor } from '../util/redact.js';
import { EVENT_VERSION, parseEvents, type NewEvent, type RunEvent } from '../domain/events.js';
import { applyEvent, emptyState, foldEvents } from '../plan/fold.js';
import type { RunState } from '../domain/run-state.js';
import { renderResultsTsv } from './results-tsv.js';

export const RUN_JSON_VERSION = 1;

/** Owner only; see the header. */
const RUN_FOLDER_MODE = 0o700;

export interface RunInfo {
  /** Schema version of run.json. v1: the first format. */
  schema: number;
  runId: string;
  target: string;
  base: string;
  baseRef: string;
  createdAt: string;
  spec: Spec;
  objective: string;
  specSource: string;
  versions: { ratchet: string; node: string; git?: string };
  /** The baseline's calibration (also the `calibrated` event), once it ran. */
  calibration?: Calibration;
  /** The holdout's calibration, with a holdout in the spec. */
  holdoutCalibration?: Calibration;
}

export interface StoreOptions {
  redactor?: Redactor;
}

export function runDir(root: string, runId: string): string {
  return join(resolve(root), runId);
}

/** The run folder behind the loop's Store port. */
export class RunStore implements Store {
  readonly dir: string;
  private state: RunState;
  private writing: Promise<void> = Promise.resolve();
  private readonly listeners = new Set<(event: RunEvent, state: RunState) => void>();
  /** Experiment folders made by this store. */
  private readonly made = new Set<string>();

  private constructor(
    dir: string,
    state: RunState,
    /** Secrets never reach the record: every event and experiment file passes through it. */
    private readonly redactor: Redactor,
  ) {
    this.dir = dir;
    this.state = state;
  }

  /** A new run folder; fails when one with that id exists. */
  static async create(root: string, info: RunInfo, options: StoreOptions = {}): Promise<RunStore> {
    const dir = runDir(root, info.runId);
    await mkdir(resolve(root), { recursive: true });
    try {
      await mkdir(dir, { mode: RUN_FOLDER_MODE });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new UserError(`run ${info.runId} already exists in ${resolve(root)}`, {
          hint: `choose another --run-id, or continue it with: ratchet resume ${info.runId}`,
        });
      }
      throw error;
    }
    // mkdir's mode passes through the umask, which only ever removes bits; chmod says it outright.
    await chmod(dir, RUN_FOLDER_MODE);
    await writeFileAtomic(join(dir, 'run.json'), `${JSON.stringify(info, null, 2)}\n`);
    await writeFileAtomic(join(dir, 'events.jsonl'), '');
    return new RunStore(dir, emptyState(info.runId), options.redactor ?? NO_REDACTION);
  }

  /** An existing run folder, its state rebuilt from events.jsonl; made 0700 if an older ratchet left it open. */
  static async open(root: string, runId: string, options: StoreOptions = {}): Promise<RunStore> {
    const dir = runDir(root, runId);
    const events = await readRunEvents(dir);
    await chmod(dir, RUN_FOLDER_MODE);
    return new RunStore(dir, foldEvents(runId, events), options.redactor ?? NO_REDACTION);
  }

  get runId(): string {
    return this.state.runId;
  }

  getState(): RunState {
    return this.state;
  }

  async readInfo(): Promise<RunInfo> {
    return readRunInfo(this.dir);
  }

  /** run.json with the calibration beside the spec, for readers of the folder (the event stays the truth). */
  async recordCalibration(calibration: Calibration, stage: 'bench' | 'holdout' = 'bench'): Promise<void> {
    const info = await readRunInfo(this.dir);
    const field = stage === 'holdout' ? { holdoutCalibration: calibration } : { calibration };
    await writeFileAtomic(join(this.dir, 'run.json'), `${JSON.stringify({ ...info, ...field }, null, 2)}\n`);
  }

  onEvent(listener: (event: RunEvent, state: RunState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Append one event (a whole line per write, so a crash tears at most the last line). */
  append(event: NewEvent): Promise<RunEvent> {
    const line = this.redactor.redact(JSON.stringify({ v: EVENT_VERSION, t: new Date().toISOString(), run: this.state.runId, ...event }));
    // Redacted as text, then read back: the state holds exactly what the file does.
    const full = JSON.parse(line) as RunEvent;
    const done = this.writing.then(async () => {
      // Synchronous: a promise's open, write and close per event was the orchestrator's largest
      // share of CPU with many workers; one small write blocks for microseconds.
      appendFileSync(join(this.dir, 'events.jsonl'), `${line}\n`);
      this.state = applyEvent(this.state, full);
      // Rows come from finished experiments only; no other event changes the file.
      if (full.type === 'experiment_finished') await this.writeResultsTsv();
      for (const listener of this.listeners) listener(full, this.state);
    });
    this.writing = done.catch(() => undefined);
    return done.then(() => full);
  }

  async writeResultsTsv(): Promise<void> {
    await writeFileAtomic(join(this.dir, 'results.tsv'), renderResultsTsv(this.state));
  }

  experimentDir(exp: ExperimentId): string {
    return join(this.dir, exp);
  }

  async ensureExperimentDir(exp: ExperimentId): Promise<string> {
    const dir = this.experimentDir(exp);
    // Asked for several times per experiment: made once (a mkdir each time was a share of the
    // orchestrator's CPU with many workers).
    if (!this.made.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.made.add(dir);
    }
    return dir;
  }

  async writeExperimentFile(exp: ExperimentId, name: string, content: string): Promise<void> {
    await writeFileAtomic(join(await this.ensureExperimentDir(exp), name), this.redactor.redact(content));
  }

  async readExperimentFile(exp: ExperimentId, name: string): Promise<string | undefined> {
    try {
      return await readFile(join(this.experimentDir(exp), name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }
}

export async function readRunInfo(dir: string): Promise<RunInfo> {
  let text: string;
  try {
    text = await readFile(join(dir, 'run.json'), 'utf8');
  } catch {
    throw new UserError(`no run at ${dir} (run.json is missing)`, { hint: 'list runs with: ratchet ls' });
  }
  const file = join(dir, 'run.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UserError(`${file} is not valid JSON (${(error as Error).message})`, { hint: RUN_JSON_HINT, fields: { file } });
  }
  const schema = (parsed as { schema?: unknown } | null)?.schema;
  if (schema !== RUN_JSON_VERSION) {
    throw new UserError(`${file} has schema ${String(schema)}; this ratchet reads ${RUN_JSON_VERSION}`);
  }
  const checked = runInfoSchema.safeParse(parsed);
  if (!checked.success) {
    // Every problem at once, each with where it is.
    const problems = checked.error.issues.map((issue) => `${issue.path.join('.') || '(top)'}: ${issue.message}`);
    throw new UserError(`${file} is damaged: ${problems.join('; ')}`, { hint: RUN_JSON_HINT, fields: { file, problems } });
  }
  return parsed as RunInfo;
}

const RUN_JSON_HINT = 'run.json is written by ratchet when the run starts; restore it from a backup, or start a new run (the events and experiments beside it are untouched)';

/** What readers of run.json rely on; the spec in it was validated when the run started. */
const runInfoSchema = z.object({
  runId: z.string().min(1),
  target: z.string().min(1),
  base: z.string().regex(FULL_COMMIT_ID, 'not a commit id'),
  baseRef: z.string(),
  createdAt: z.string(),
  spec: z.looseObject({ bench: z.looseObject({ run: z.string(), metric: z.looseObject({ name: z.string(), goal: z.enum(['minimize', 'maximize']) }) }) }),
  objective: z.string(),
  specSource: z.string(),
  versions: z.looseObject({ ratchet: z.string(), node: z.string() }),
});

export async function readRunEvents(dir: string): Promise<RunEvent[]> {
  let text: string;
  try {
    text = await readFile(join(dir, 'events.jsonl'), 'utf8');
  } catch {
    throw new UserError(`no run at ${dir} (events.jsonl is missing)`, { hint: 'list runs with: ratchet ls' });
  }
  const { events, problems } = parseEvents(text);
  if (problems.length > 0) {
    throw new UserError(`${join(dir, 'events.jsonl')} cannot be read:\n  ${problems.join('\n  ')}`);
  }
  return events;
}

/** Run ids under the experiments root, newest first (by run.json time). */
export async function listRunIds(root: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(resolve(root));
  } catch {
    return [];
  }
  const runs: { id: string; mtime: number }[] = [];
  for (const name of names) {
    try {
      const s = await stat(join(resolve(root), name, 'run.json'));
      runs.push({ id: name, mtime: s.mtimeMs });
    } catch {
      // not a run folder (README.md, stray files)
    }
  }
  return runs.sort((a, b) => b.mtime - a.mtime || b.id.localeCompare(a.id)).map((r) => r.id);
}

/** The last `bytes` of a file as text, or '' when it does not exist. */
export async function readTail(path: string, bytes = 4096): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return '';
  }
  try {
    const { size } = await handle.stat();
    const start = Math.max(0, size - bytes);
    const buffer = Buffer.alloc(size - start);
    await handle.read(buffer, 0, buffer.length, start);
    return buffer.toString('utf8');
  } finally {
    await handle.close();
  }
}
