/**
 * What `ratchet show` and the dashboard print of an experiment's `patch.diff`: its start, never
 * all of a patch of many megabytes (a terminal or a browser tab would choke on it), and a line
 * saying how much was left out and where the whole file is.
 */
import { readHead } from '../util/fs.js';

export const PATCH_PREVIEW_LIMITS = { maxBytes: 200 * 1024, maxLines: 4000 } as const;

export interface PatchPreview {
  text: string;
  truncated: boolean;
  totalBytes: number;
  shownBytes: number;
  /** Where the whole patch is. */
  path: string;
  /** Says what was left out, when something was. */
  note: string | undefined;
}

export async function readPatchPreview(path: string, limits: { maxBytes: number; maxLines: number } = PATCH_PREVIEW_LIMITS): Promise<PatchPreview> {
  const head = (await readHead(path, limits)) ?? { text: '', totalBytes: 0, shownBytes: 0, truncated: false };
  const lines = head.text.split('\n').length - 1;
  const note = head.truncated
    ? `patch.diff is ${formatBytes(head.totalBytes)}: the first ${lines} lines (${formatBytes(head.shownBytes)}) are shown, ${formatBytes(head.totalBytes - head.shownBytes)} left out; the whole patch is ${path}`
    : undefined;
  return { text: head.text, truncated: head.truncated, totalBytes: head.totalBytes, shownBytes: head.shownBytes, path, note };
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
