/**
 * What a worktree changed against its HEAD, file by file, minus what setup created.
 */
import { git, LITERAL_PATHSPECS, splitNul } from './exec.js';

/**
 * Whether `path` is in `exclude`, or lies in a folder that is. Entries may name files or folders
 * (`node_modules` or `node_modules/`), so a caller can exclude a whole tree with one entry.
 */
export function isExcluded(path: string, exclude: ReadonlySet<string> | undefined): boolean {
  if (exclude === undefined || exclude.size === 0) return false;
  const trimmed = path.replace(/\/+$/, '');
  if (exclude.has(trimmed) || exclude.has(`${trimmed}/`)) return true;
  for (let cut = trimmed.lastIndexOf('/'); cut > 0; cut = trimmed.lastIndexOf('/', cut - 1)) {
    const folder = trimmed.slice(0, cut);
    if (exclude.has(folder) || exclude.has(`${folder}/`)) return true;
  }
  return false;
}

/**
 * An untracked folder that setup already put files in is setup's (build output, caches), so
 * later files there are too: an agent running the build must not commit what it produced.
 */
function holdsExcluded(folder: string, exclude: ReadonlySet<string> | undefined): boolean {
  if (exclude === undefined) return false;
  for (const path of exclude) if (path.startsWith(folder)) return true;
  return false;
}

/**
 * Modified, deleted and untracked (not ignored) files of the worktree against its HEAD, sorted.
 * Untracked folders are listed file by file, except those `exclude` covers or holds files of,
 * which are not walked at all (a `node_modules` of setup can hold a hundred thousand files).
 */
export async function listChangedPaths(worktree: string, exclude?: ReadonlySet<string>): Promise<string[]> {
  // `normal` collapses untracked folders to one entry, so excluded ones cost nothing.
  const status = await git(['status', '--porcelain=v1', '-z', '--untracked-files=normal', '--no-renames', '--ignore-submodules=dirty'], {
    cwd: worktree,
  });
  const paths = new Set<string>();
  const folders: string[] = [];
  for (const entry of splitNul(status.stdout)) {
    const path = entry.slice(3);
    if (isExcluded(path, exclude)) continue;
    if (!entry.startsWith('??') || !path.endsWith('/')) paths.add(path);
    else if (!holdsExcluded(path, exclude)) folders.push(path);
  }
  if (folders.length > 0) {
    const listed = await git(['ls-files', '-z', '--others', '--exclude-standard', '--', ...folders], { cwd: worktree, env: LITERAL_PATHSPECS });
    for (const path of splitNul(listed.stdout)) {
      if (!isExcluded(path, exclude)) paths.add(path);
    }
  }
  return [...paths].sort();
}
