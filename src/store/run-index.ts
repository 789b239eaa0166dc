/**
 * The index of run folders started on this machine, so a run id works from any folder:
 * `$RATCHET_STATE_DIR/runs.json`, else `$XDG_STATE_HOME/ratchet/runs.json`, else
 * `~/.local/state/ratchet/runs.json`. A run is recorded when it starts (and again on resume);
 * the file is rewritten atomically under a lock, so runs starting together do not lose each
 * other. An entry whose folder is gone is ignored, and dropped at the next write.
 *
 * Versions:
 *   v1 — `{ v: 1, runs: { <run id>: { dir, target, createdAt } } }`.
 */
import { chmod, mkdir, readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import lockfile from 'proper-lockfile';
import { z } from 'zod';
import { writeFileAtomic } from './atomic.js';
import type { CatalogRun, RunCatalog } from './run-catalog.js';

export const RUN_INDEX_VERSION = 1 as const;
export const RUN_INDEX_FILE = 'runs.json';

const entrySchema = z.object({ dir: z.string(), target: z.string(), createdAt: z.string() });
const indexSchema = z.object({ v: z.literal(RUN_INDEX_VERSION), runs: z.record(z.string(), entrySchema) });

export interface IndexedRun {
  runId: string;
  dir: string;
  target: string;
  createdAt: string;
}

/** ratchet's state folder: `RATCHET_STATE_DIR` (tests set it), else the XDG state home. */
export function ratchetStateDir(env: NodeJS.ProcessEnv = process.env): string {
  const own = env['RATCHET_STATE_DIR'];
  if (own !== undefined && own !== '') return resolve(own);
  const xdg = env['XDG_STATE_HOME'];
  // The XDG spec: a relative path is invalid and must be ignored.
  if (xdg !== undefined && isAbsolute(xdg)) return join(xdg, 'ratchet');
  return join(env['HOME'] || homedir(), '.local', 'state', 'ratchet');
}

export function runIndexPath(env: NodeJS.ProcessEnv = process.env): string {
  return join(ratchetStateDir(env), RUN_INDEX_FILE);
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

/** The entries as written; an index that is missing, unreadable or of another version holds none. */
async function readEntries(path: string): Promise<Record<string, z.infer<typeof entrySchema>>> {
  const text = await readFile(path, 'utf8').catch(() => undefined);
  if (text === undefined) return {};
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return {};
  }
  const parsed = indexSchema.safeParse(raw);
  return parsed.success ? parsed.data.runs : {};
}

/** Runs in the index whose folder still holds a run. */
export async function readRunIndex(env: NodeJS.ProcessEnv = process.env): Promise<IndexedRun[]> {
  const entries = await readEntries(runIndexPath(env));
  const runs: IndexedRun[] = [];
  for (const [runId, entry] of Object.entries(entries)) {
    if (await exists(join(entry.dir, 'run.json'))) runs.push({ runId, ...entry });
  }
  return runs;
}

/** Records (or moves) a run in the index; stale entries go at the same time. */
export async function recordRun(run: IndexedRun, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const dir = ratchetStateDir(env);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, RUN_INDEX_FILE);
  const release = await lockfile.lock(dir, {
    lockfilePath: `${path}.lock`,
    realpath: false,
    stale: 10_000,
    retries: { retries: 40, minTimeout: 25, maxTimeout: 250, factor: 1.5, randomize: true },
  });
  try {
    const runs: Record<string, z.infer<typeof entrySchema>> = {};
    for (const [id, entry] of Object.entries(await readEntries(path))) if (await exists(join(entry.dir, 'run.json'))) runs[id] = entry;
    runs[run.runId] = { dir: resolve(run.dir), target: run.target, createdAt: run.createdAt };
    await writeFileAtomic(path, `${JSON.stringify({ v: RUN_INDEX_VERSION, runs }, null, 2)}\n`);
    await chmod(path, 0o600);
  } finally {
    await release().catch(() => undefined);
  }
}

/** The index as a catalog of runs. */
export function indexCatalog(env: NodeJS.ProcessEnv = process.env): RunCatalog {
  return {
    where: 'the runs started on this machine',
    list: async (): Promise<CatalogRun[]> => (await readRunIndex(env)).map(({ runId, dir }) => ({ runId, dir })),
    find: async (runId) => (await readRunIndex(env)).find((r) => r.runId === runId)?.dir,
  };
}
