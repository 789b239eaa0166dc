/**
 * The `replay` agent: applies the patch files of a folder in name order, one per experiment.
 * For tests, for re-running a run, and for trying a hand-made series of changes. A patch that
 * does not apply is a `rejected` experiment, not an error.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { git } from '../git/exec.js';
import { UserError } from '../domain/errors.js';
import type { AgentState, ProposalContext, ProposalOutcome, Proposer } from '../domain/proposal.js';

const PATCH_FILE = /\.(patch|diff)$/i;

export async function listPatches(dir: string): Promise<string[]> {
  const folder = resolve(dir);
  let names: string[];
  try {
    if (!(await stat(folder)).isDirectory()) throw new Error('not a directory');
    names = await readdir(folder);
  } catch {
    throw new UserError(`the replay agent's patch folder ${folder} does not exist or is not a folder`, {
      hint: 'pass a folder of .patch or .diff files with --patches DIR (or agent.patches in ratchet.yaml)',
    });
  }
  const patches = names.filter((n) => PATCH_FILE.test(n)).sort((a, b) => a.localeCompare(b, 'en'));
  if (patches.length === 0) {
    throw new UserError(`no .patch or .diff files in ${folder}`, { hint: 'make them with: git format-patch -o DIR BASE..BRANCH' });
  }
  return patches.map((n) => join(folder, n));
}

/**
 * The description of a patch: the Subject of a `git format-patch` mail, else a leading
 * `# ...` comment line, else the file name without its number and extension.
 */
export function describePatch(path: string, text: string): string {
  const subject = /^Subject:\s*(?:\[PATCH[^\]]*\]\s*)?(.+)$/m.exec(text);
  if (subject?.[1]) return subject[1].trim();
  const comment = /^#\s*(.+)$/m.exec(text.split(/^diff --git/m)[0] ?? '');
  if (comment?.[1]) return comment[1].trim();
  return basename(path).replace(PATCH_FILE, '').replace(/^\d+[-_ ]*/, '').replace(/[-_]+/g, ' ') || basename(path);
}

/** What a replay proposal records: which patch it took (`agentState`). */
function replayState(patch: number): AgentState {
  return { agent: 'replay', v: 1, patch };
}

function patchOf(state: AgentState | undefined): number | undefined {
  return state?.agent === 'replay' && typeof state.patch === 'number' ? state.patch : undefined;
}

/**
 * The patch the next proposal takes: the first not taken by a finished experiment, one in flight
 * or one this process is proposing now. Rows recorded before proposals carried their patch took
 * the first patches in order.
 */
export function nextPatch(context: ProposalContext, proposing: ReadonlyMap<string, number>): number {
  const taken = new Set<number>();
  let older = 0;
  for (const row of context.history) {
    if (row.experiment === 'e0000') continue;
    const patch = patchOf(row.agentState);
    if (patch === undefined) older += 1;
    else taken.add(patch);
  }
  for (const row of context.inFlight ?? []) {
    const patch = patchOf(row.agentState) ?? proposing.get(row.experiment);
    if (patch !== undefined) taken.add(patch);
  }
  let index = older;
  while (taken.has(index)) index += 1;
  return index;
}

export class ReplayProposer implements Proposer {
  readonly kind = 'replay';
  /** Experiment → the patch its proposal took, while it may still be in flight (`agent.parallel` > 1). */
  private readonly proposing = new Map<string, number>();

  private constructor(private readonly patches: readonly string[]) {}

  static async fromFolder(dir: string): Promise<ReplayProposer> {
    return new ReplayProposer(await listPatches(dir));
  }

  async propose(context: ProposalContext, signal: AbortSignal): Promise<ProposalOutcome> {
    // Each proposal takes the first patch no other experiment took; a cancelled experiment (an
    // interrupted one: not finished, not in flight) gave its patch back, so a resumed run
    // re-applies the patches it was interrupted on.
    const inFlight = new Set((context.inFlight ?? []).map((row) => row.experiment));
    for (const exp of [...this.proposing.keys()]) if (!inFlight.has(exp)) this.proposing.delete(exp);
    const index = nextPatch(context, this.proposing);
    const path = this.patches[index];
    if (path === undefined) return { kind: 'exhausted', reason: `all ${this.patches.length} patches replayed` };
    this.proposing.set(context.experiment, index);
    const agentState = replayState(index);
    const text = await readFile(path, 'utf8');
    const description = describePatch(path, text);
    // Through ratchet's own git (git/exec.ts): no fork of this process per patch.
    const result = await git(['apply', '--whitespace=nowarn', path], { cwd: context.worktree, allowFailure: true });
    if (signal.aborted) return { kind: 'failed', verdict: 'crash', reason: 'interrupted' };
    if (result.exitCode !== 0) {
      const firstLine = (result.stderr || result.stdout).split('\n').find((l) => l.trim() !== '') ?? `exit ${result.exitCode}`;
      return { kind: 'failed', verdict: 'rejected', reason: `patch ${basename(path)} does not apply: ${firstLine.trim()}`, agentState };
    }
    return { kind: 'change', description, agentState };
  }
}
