/**
 * A candidate commit as recorded: its patch against the parent, the files it changed and its
 * line counts. The patch must apply again byte for byte, and it is kept as text.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CandidateCommit } from '../domain/workspace.js';
import { git, gitBytes, gitCapped, LITERAL_PATHSPECS, splitNul } from './exec.js';

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

async function patchBytes(cwd: string, parent: string, commit: string, attributesFile: string): Promise<Uint8Array> {
  return gitBytes(['-c', `core.attributesFile=${attributesFile}`, 'diff', ...COMMON, '--binary', '--src-prefix=a/', '--dst-prefix=b/', parent, commit, '--'], { cwd });
}

/**
 * The binary-safe patch as text. A text file that is not UTF-8 (Latin-1, say) would be mangled
 * by decoding, so such files are diffed as binary instead: a global attributes file marks them
 * `-diff` (it yields to a repository's own `diff` attribute, which sets one rarely).
 */
async function textPatch(cwd: string, parent: string, commit: string, bytes: Uint8Array, textFiles: readonly string[]): Promise<string> {
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

interface Diffed {
  raw: RawEntry[];
  numstat: string[];
  /** The binary-safe patch; undefined when it is over the limit. */
  patch: Uint8Array | undefined;
  /** Its size, counted whole even when it was not kept. */
  patchBytes: number;
}

const SEPARATOR = Uint8Array.from([0, 0]);

/**
 * `git diff --raw --numstat -z -p --binary` in one run (one spawn per commit, where three
 * were: the records, the blob sizes that bounded the patch, the patch): every raw record first,
 * `:oldmode newmode oldsha newsha status NUL path NUL`, then every numstat record,
 * `added TAB deleted TAB path NUL`, then an empty field, then the patch as `diff --binary`
 * alone writes it. No record is empty, so the first empty field ends them. The patch is kept
 * up to `keepBytes` and counted to its end, so a huge one is never held in memory.
 */
async function diffCommit(cwd: string, parent: string, commit: string, keepBytes: number): Promise<Diffed> {
  const args = ['diff', '--raw', '--numstat', '-z', '--no-abbrev', ...COMMON, '-p', '--binary', '--src-prefix=a/', '--dst-prefix=b/', parent, commit, '--'];
  // One byte over the limit is enough to know the patch is over it.
  const { stdout, stdoutBytes, headBytes } = await gitCapped(args, { cwd }, SEPARATOR, Number.isFinite(keepBytes) ? keepBytes + 1 : undefined);
  // Without the separator there is no patch: all of it is records.
  const headEnd = headBytes < 0 ? stdout.length : headBytes - 1;
  const fields = splitNul(stdout.subarray(0, headEnd).toString('utf8'));
  const raw: RawEntry[] = [];
  let i = 0;
  for (; i + 1 < fields.length && fields[i]?.startsWith(':') === true; i += 2) {
    const [, newMode = '', oldSha = '', newSha = ''] = (fields[i] ?? '').slice(1).split(' ');
    raw.push({ newMode, oldSha, newSha, path: fields[i + 1] ?? '' });
  }
  const patchBytes = headBytes < 0 ? 0 : stdoutBytes - headBytes;
  const patch = patchBytes > keepBytes ? undefined : stdout.subarray(headBytes < 0 ? stdout.length : headBytes);
  return { raw, numstat: fields.slice(i), patch, patchBytes };
}

async function blobText(cwd: string, sha: string): Promise<string> {
  return (await git(['cat-file', 'blob', sha], { cwd })).stdout;
}

export interface DescribeOptions {
  /** A patch over this many bytes is measured, not produced: `patch` is then undefined. */
  maxPatchBytes?: number;
}

export async function describeCommit(cwd: string, parent: string, commit: string, options: DescribeOptions = {}): Promise<CandidateCommit> {
  const limit = options.maxPatchBytes ?? Number.POSITIVE_INFINITY;
  const { raw, numstat, patch: bytes, patchBytes: measured } = await diffCommit(cwd, parent, commit, limit);
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
  const patch = bytes === undefined ? undefined : await textPatch(cwd, parent, commit, bytes, textFiles);
  return {
    commit,
    patch,
    patchBytes: patch === undefined ? measured : Buffer.byteLength(patch),
    files: files.sort(),
    insertions,
    deletions,
    binary: binary.sort(),
    symlinks: symlinks.sort((a, b) => a.path.localeCompare(b.path)),
  };
}
