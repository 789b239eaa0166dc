/**
 * The patch gate: what a committed change must satisfy before any job runs for it. Pure.
 * Paths (editable, not protected), size (files, lines, bytes), symlinks that would lead out of
 * the worktree or into the evaluator, and binary files when the spec refuses them.
 */
import { checkPaths, symlinkProblem } from './path-policy.js';
import type { Spec } from '../domain/spec.js';
import { formatSize } from '../domain/size.js';
import type { CandidateCommit } from '../domain/workspace.js';

/** Why the change is rejected, or undefined when it passes. */
export function gateChange(spec: Spec, candidate: CandidateCommit): string | undefined {
  const { max_changed_files: maxFiles, max_diff_lines: maxLines, max_patch_bytes: maxBytes, binary } = spec.limits;
  if (candidate.patchBytes > maxBytes) {
    return `the patch is ${formatSize(candidate.patchBytes)}, more than limits.max_patch_bytes (${formatSize(maxBytes)})`;
  }
  const policy = checkPaths(candidate.files, { editable: spec.editable, protected: spec.protected });
  if (!policy.ok) return policy.reason;
  if (candidate.files.length > maxFiles) return `changes ${candidate.files.length} files, more than limits.max_changed_files (${maxFiles})`;
  const lines = candidate.insertions + candidate.deletions;
  if (lines > maxLines) return `changes ${lines} lines, more than limits.max_diff_lines (${maxLines})`;
  for (const link of candidate.symlinks) {
    const problem = symlinkProblem(link.path, link.target, spec.protected);
    if (problem !== undefined) return problem;
  }
  const first = candidate.binary[0];
  if (binary === 'refuse' && first !== undefined) {
    return `adds or changes the binary file ${first}${candidate.binary.length > 1 ? ` and ${candidate.binary.length - 1} more` : ''}; limits.binary is refuse`;
  }
  return undefined;
}
