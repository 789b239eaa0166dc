/**
 * The Workspace port without git, for loop tests: refs in a map, worktrees as sets of edited
 * paths, commits numbered. An agent's edits go through `edit`; what the real one guards against
 * (a broken `.git` link, moved refs outside the run) never happens here unless a test says so.
 * A re-applied commit conflicts when a commit between its old parent and the new one changed
 * one of its files (git's three-way merge at file granularity).
 */
import type { CandidateCommit, CommitOptions, Reapplied, RepoSnapshot, Workspace, Worktree } from '../domain/workspace.js';

interface FakeWorktree {
  ref: string;
  /** Edited path → content, since the worktree's last commit. */
  edits: Map<string, string>;
}

export class FakeWorkspace implements Workspace {
  readonly repo = '/memory/repo';
  readonly gitDir = '/memory/repo/.git';
  readonly refs = new Map<string, string>();
  /** Worktree paths made and not removed yet. */
  readonly worktrees = new Map<string, FakeWorktree>();
  /** Commit → its message, for every commit made. */
  readonly commits = new Map<string, string>();
  /** Commit → its parent and the files it changed. */
  private readonly graph = new Map<string, { parent: string; files: string[] }>();
  /** Every re-apply asked for: the commit and the new parent. */
  readonly reapplies: { commit: string; onto: string }[] = [];
  /** Repository snapshots taken (around an agent that could write the repository). */
  snapshots = 0;
  /** Each worktree made and each commit, with whether the caller said its index is ratchet's alone. */
  readonly trust: { call: 'createWorktree' | 'commitAll'; indexTrusted: boolean }[] = [];

  resolve(rev: string): Promise<string> {
    return Promise.resolve(this.refs.get(rev) ?? rev);
  }

  createWorktree(options: { ref: string; commit: string; name: string; indexTrusted?: boolean }): Promise<Worktree> {
    this.trust.push({ call: 'createWorktree', indexTrusted: options.indexTrusted === true });
    const path = `/memory/worktrees/${options.name}`;
    if (this.worktrees.has(path)) return Promise.reject(new Error(`worktree ${path} already exists`));
    this.worktrees.set(path, { ref: options.ref, edits: new Map() });
    this.refs.set(options.ref, options.commit);
    return Promise.resolve({ path, ref: options.ref });
  }

  /** What an agent does to a worktree: writes these files. */
  edit(path: string, files: Readonly<Record<string, string>>): void {
    const worktree = this.worktree(path);
    for (const [file, content] of Object.entries(files)) worktree.edits.set(file, content);
  }

  changedPaths(worktree: string, options?: { exclude?: ReadonlySet<string> }): Promise<string[]> {
    return Promise.resolve([...this.worktree(worktree).edits.keys()].filter((p) => options?.exclude?.has(p) !== true).sort());
  }

  async commitAll(worktree: Worktree, message: string, options?: CommitOptions): Promise<CandidateCommit | undefined> {
    this.trust.push({ call: 'commitAll', indexTrusted: options?.indexTrusted === true });
    const files = await this.changedPaths(worktree.path, options);
    if (files.length === 0) return undefined;
    const commit = this.newCommit(message, this.refs.get(worktree.ref) ?? '', files);
    this.refs.set(worktree.ref, commit);
    this.worktree(worktree.path).edits.clear();
    const patch = files.map((f) => `diff --git a/${f} b/${f}\n`).join('');
    return { commit, patch, patchBytes: patch.length, binary: [], symlinks: [], files, insertions: files.length, deletions: 0 };
  }

  reapply(worktree: Worktree, commit: string, onto: string): Promise<Reapplied> {
    this.reapplies.push({ commit, onto });
    const picked = this.graph.get(commit);
    if (picked === undefined) return Promise.reject(new Error(`no commit ${commit}`));
    const touched = new Set<string>();
    for (let at = onto; at !== picked.parent; ) {
      const node = this.graph.get(at);
      if (node === undefined) break; // reached the base: the old parent is not an ancestor
      for (const f of node.files) touched.add(f);
      at = node.parent;
    }
    const files = picked.files.filter((f) => touched.has(f));
    if (files.length > 0) return Promise.resolve({ kind: 'conflict', files, reason: `does not apply on the new best: ${files.join(', ')} conflict` });
    const made = this.newCommit(this.commits.get(commit) ?? '', onto, picked.files);
    this.refs.set(worktree.ref, made);
    const patch = picked.files.map((f) => `diff --git a/${f} b/${f}\n`).join('');
    return Promise.resolve({ kind: 'applied', commit: { commit: made, patch, patchBytes: patch.length, binary: [], symlinks: [], files: picked.files, insertions: picked.files.length, deletions: 0 } });
  }

  worktreeLinkOk(path: string): Promise<boolean> {
    return Promise.resolve(this.worktrees.has(path));
  }

  snapshotRepo(): Promise<RepoSnapshot> {
    this.snapshots++;
    return Promise.resolve({ refs: new Map(), files: new Map() });
  }

  undoRepoChanges(): Promise<string[]> {
    return Promise.resolve([]);
  }

  /** Like git's `update-ref <ref> <new> <old>`: refuses when the ref is no longer at `expected`. */
  updateRef(ref: string, commit: string, expected?: string): Promise<void> {
    if (expected !== undefined && this.refs.get(ref) !== expected) {
      return Promise.reject(new Error(`${ref} is at ${this.refs.get(ref) ?? 'nothing'}, not ${expected}`));
    }
    this.refs.set(ref, commit);
    return Promise.resolve();
  }

  readRef(ref: string): Promise<string | undefined> {
    return Promise.resolve(this.refs.get(ref));
  }

  listRefs(prefix: string): Promise<Map<string, string>> {
    return Promise.resolve(new Map([...this.refs].filter(([ref]) => ref.startsWith(prefix))));
  }

  removeWorktree(path: string): Promise<void> {
    this.worktrees.delete(path);
    return Promise.resolve();
  }

  reconcile(): Promise<string[]> {
    return Promise.resolve([]);
  }

  private newCommit(message: string, parent: string, files: string[]): string {
    const commit = (this.commits.size + 1).toString(16).padStart(40, '0');
    this.commits.set(commit, message);
    this.graph.set(commit, { parent, files });
    return commit;
  }

  private worktree(path: string): FakeWorktree {
    const worktree = this.worktrees.get(path);
    if (worktree === undefined) throw new Error(`no worktree at ${path}`);
    return worktree;
  }
}
