/**
 * Which run a command means. With `--experiments DIR` (or RATCHET_EXPERIMENTS), runs are that
 * folder's alone. Without, a run id is looked for in `./experiments` and then in the index of
 * runs started on this machine (store/run-index.ts), so `ratchet show <run>` works from any folder.
 */
import { dirname } from 'node:path';
import { UserError } from '../domain/errors.js';
import { combineCatalogs, folderCatalog, type CatalogRun, type RunCatalog } from '../store/run-catalog.js';
import { indexCatalog } from '../store/run-index.js';

/** Where `ratchet run` puts its run folders unless told otherwise, relative to the current folder. */
export const DEFAULT_EXPERIMENTS = 'experiments';

export interface RunsWhere {
  /** An experiments folder chosen by the user: only its runs count. */
  experimentsRoot?: string | undefined;
  env?: NodeJS.ProcessEnv;
}

export function runCatalog(where: RunsWhere = {}): RunCatalog {
  if (where.experimentsRoot !== undefined) return folderCatalog(where.experimentsRoot);
  return combineCatalogs([folderCatalog(DEFAULT_EXPERIMENTS), indexCatalog(where.env)]);
}

export interface LocatedRun extends CatalogRun {
  /** The experiments folder that holds it. */
  root: string;
}

/** The run of that id, or a UserError saying where it was looked for. */
export async function locateRun(runId: string, where: RunsWhere = {}): Promise<LocatedRun> {
  const catalog = runCatalog(where);
  const dir = await catalog.find(runId);
  if (dir === undefined) throw new UserError(`no run ${runId} in ${catalog.where}`, { hint: 'list runs with: ratchet ls' });
  return { runId, dir, root: dirname(dir) };
}

/** The newest run, or a UserError saying there is none. */
export async function latestRun(where: RunsWhere = {}): Promise<LocatedRun> {
  const catalog = runCatalog(where);
  const [latest] = await catalog.list();
  if (latest === undefined) throw new UserError(`no runs in ${catalog.where}`, { hint: 'start one with: ratchet run <repo>' });
  return { ...latest, root: dirname(latest.dir) };
}

/** The named run, or the newest when none is named. */
export async function chooseRun(runId: string | undefined, where: RunsWhere = {}): Promise<LocatedRun> {
  return runId === undefined ? latestRun(where) : locateRun(runId, where);
}
