/**
 * A candidate commit as recorded: its patch against the parent, the files it changed and its
 * line counts. The patch must apply again byte for byte, and it is kept as text.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import type { CandidateCommit } from '../domain/workspace.js';
import { git, gitBytes, LITERAL_PATHSPECS, splitNul } from './exec.js';

const COMMON = ['--no-ext-diff', '--no-textconv', '--no-color', '--no-renames'];
const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodes(bytes: Uint8Array): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** `path` as an anchored, literal gitattributes pattern (glob characters escaped, C-quoted). */
function attributePattern(path: string): string {
  const literal = `/${path.replace(/[*?[\\]/g, '\\$&')}`;
  let quoted = '';
  for (const char of literal) {
    const code = char.charCodeAt(0);
    if (char === '\\' || char === '"') quoted += `\\${char}`;
    else if (code < 0x20 || code === 0x7f) quoted += `\\${code.toString(8).padStart(3, '0')}`;
    else quoted += char;
  }
  return `"${quoted}"`;
}

async function patchBytes(cwd: string, parent: string, commit: string, attributesFile?: string): Promise<Uint8Array> {
  const config = attributesFile === undefined ? [] : ['-c', `core.attributesFile=${attributesFile}`];
  return gitBytes([...config, 'diff', ...COMMON, '--binary', '--src-prefix=a/', '--dst-prefix=b/', parent, commit, '--'], { cwd });
}

/**
 * The binary-safe patch as text. A text file that is not UTF-8 (Latin-1, say) would be mangled
 * by decoding, so such files are diffed as binary instead: a global attributes file marks them
 * `-diff` (it yields to a repository's own `diff` attribute, which sets one rarely).
 */
async function textPatch(cwd: string, parent: string, commit: string, textFiles: readonly string[]): Promise<string> {
  const bytes = await patchBytes(cwd, parent, commit);
  if (decodes(bytes)) return Buffer.from(bytes).toString('utf8');
  const offending: string[] = [];
  for (const file of textFiles) {
    const one = await gitBytes(['diff', ...COMMON, parent, commit, '--', file], { cwd, env: LITERAL_PATHSPECS });
    if (!decodes(one)) offending.push(file);
  }
  const dir = await mkdtemp(join(tmpdir(), 'ratchet-attributes-'));
  try {
    const attributes = join(dir, 'attributes');
    await writeFile(attributes, offending.map((file) => `${attributePattern(file)} -diff\n`).join(''));
    return Buffer.from(await patchBytes(cwd, parent, commit, attributes)).toString('utf8');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

interface RawEntry {
  newMode: string;
  oldSha: string;
  newSha: string;
  path: string;
}

/**
 * `git diff --raw --numstat -z` in one run (one spawn fewer per commit): every raw record first,
 * `:oldmode newmode oldsha newsha status NUL path NUL`, then every numstat record,
 * `added TAB deleted TAB path NUL`. A raw header starts with `:` and a numstat record never does
 * (it starts with a count or `-`); a path that starts with `:` is read as the header's path.
 */
async function rawAndNumstat(cwd: string, parent: string, commit: string): Promise<{ raw: RawEntry[]; numstat: string[] }> {
  const fields = splitNul((await git(['diff', '--raw', '--numstat', '-z', '--no-abbrev', ...COMMON, parent, commit, '--'], { cwd })).stdout);
  const raw: RawEntry[] = [];
  let i = 0;
  for (; i + 1 < fields.length && fields[i]?.startsWith(':') === true; i += 2) {
    const [, newMode = '', oldSha = '', newSha = ''] = (fields[i] ?? '').slice(1).split(' ');
    raw.push({ newMode, oldSha, newSha, path: fields[i + 1] ?? '' });
  }
  return { raw, numstat: fields.slice(i) };
}

/** Contents (symlink targets) or sizes of blobs, in one `cat-file --batch` each. */
async function blobSizes(cwd: string, shas: readonly string[]): Promise<number> {
  const wanted = shas.filter((sha) => !/^0+$/.test(sha));
  if (wanted.length === 0) return 0;
  const { stdout } = await git(['cat-file', '--batch-check=%(objectsize)'], { cwd, input: `${wanted.join('\n')}\n` });
  return stdout.split('\n').reduce((sum, line) => sum + (Number(line) || 0), 0);
}

async function blobText(cwd: string, sha: string): Promise<string> {
  return (await git(['cat-file', 'blob', sha], { cwd })).stdout;
}

/** Bytes of the binary patch, counted as git writes it, never held in memory. */
function countPatchBytes(cwd: string, parent: string, commit: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn('git', ['-c', 'core.hooksPath=/dev/null', 'diff', ...COMMON, '--binary', parent, commit, '--'], { cwd, stdio: ['ignore', 'pipe', 'ignore'] });
    let bytes = 0;
    child.stdout.on('data', (chunk: Buffer) => (bytes += chunk.length));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(bytes) : reject(new Error(`git diff exited ${String(code)} in ${cwd}`))));
  });
}

export interface DescribeOptions {
  /** A patch over this many bytes is measured, not produced: `patch` is then undefined. */
  maxPatchBytes?: number;
}

export async function describeCommit(cwd: string, parent: string, commit: string, options: DescribeOptions = {}): Promise<CandidateCommit> {
  const { raw, numstat } = await rawAndNumstat(cwd, parent, commit);
  const files: string[] = [];
  const textFiles: string[] = [];
  const binary: string[] = [];
  let insertions = 0;
  let deletions = 0;
  for (const record of numstat) {
    // `added<TAB>deleted<TAB>path`; binary files count `-`, no lines. Paths may hold tabs.
    const first = record.indexOf('\t');
    const second = record.indexOf('\t', first + 1);
    const added = record.slice(0, first);
    const file = record.slice(second + 1);
    insertions += Number(added) || 0;
    deletions += Number(record.slice(first + 1, second)) || 0;
    files.push(file);
    if (added !== '-') textFiles.push(file);
    else binary.push(file);
  }
  const symlinks: { path: string; target: string }[] = [];
  for (const entry of raw) {
    if (entry.newMode === '120000') symlinks.push({ path: entry.path, target: await blobText(cwd, entry.newSha) });
  }
  const limit = options.maxPatchBytes ?? Number.POSITIVE_INFINITY;
  // A patch is at most about both sides of every file: only a change that could be too big is measured first.
  const bound = 2 * (await blobSizes(cwd, raw.flatMap((e) => [e.oldSha, e.newSha]))) + 512 * raw.length;
  const measured = bound > limit ? await countPatchBytes(cwd, parent, commit) : undefined;
  const patch = measured !== undefined && measured > limit ? undefined : await textPatch(cwd, parent, commit, textFiles);
  return {
    commit,
    patch,
    patchBytes: patch === undefined ? (measured ?? 0) : Buffer.byteLength(patch),
    files: files.sort(),
    insertions,
    deletions,
    binary: binary.sort(),
    symlinks: symlinks.sort((a, b) => a.path.localeCompare(b.path)),
  };
}
