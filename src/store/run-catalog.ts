/**
 * Where runs are found by id: one experiments folder, or several places together (the folder
 * of the current directory and the index of runs started on this machine, run-index.ts). The
 * views and `ls` read runs through this, so a run id works from any folder.
 */
import { stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { listRunIds, runDir } from './run-dir.js';

export interface CatalogRun {
  runId: string;
  /** The run folder (absolute). */
  dir: string;
}

export interface RunCatalog {
  /** What the catalog covers, for messages: `/work/experiments`, `… or the runs started on this machine`. */
  readonly where: string;
  /** Every run, newest first (by its run.json). */
  list(): Promise<CatalogRun[]>;
  /** The folder of a run; undefined when the catalog has no run of that id. */
  find(runId: string): Promise<string | undefined>;
}

async function hasRunJson(dir: string): Promise<boolean> {
  return stat(join(dir, 'run.json')).then((s) => s.isFile(), () => false);
}

/** The runs of one experiments folder (`experiments/<run>/`). */
export function folderCatalog(root: string): RunCatalog {
  const abs = resolve(root);
  return {
    where: abs,
    list: async () => (await listRunIds(abs)).map((runId) => ({ runId, dir: runDir(abs, runId) })),
    find: async (runId) => {
      const dir = runDir(abs, runId);
      return (await hasRunJson(dir)) ? dir : undefined;
    },
  };
}

/** Several catalogs as one: for an id in more than one, the first catalog's run wins. */
export function combineCatalogs(catalogs: readonly RunCatalog[]): RunCatalog {
  return {
    where: catalogs.map((c) => c.where).join(' or '),
    list: async () => {
      const seen = new Set<string>();
      const runs: (CatalogRun & { mtime: number })[] = [];
      for (const catalog of catalogs) {
        for (const run of await catalog.list()) {
          if (seen.has(run.runId)) continue;
          seen.add(run.runId);
          const mtime = await stat(join(run.dir, 'run.json')).then((s) => s.mtimeMs, () => 0);
          runs.push({ ...run, mtime });
        }
      }
      return runs.sort((a, b) => b.mtime - a.mtime || b.runId.localeCompare(a.runId)).map(({ runId, dir }) => ({ runId, dir }));
    },
    find: async (runId) => {
      for (const catalog of catalogs) {
        const dir = await catalog.find(runId);
        if (dir !== undefined) return dir;
      }
      return undefined;
    },
  };
}
