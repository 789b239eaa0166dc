/**
 * A candidate commit as recorded: its patch against the parent, the files it changed and its
 * line counts. The patch must apply again byte for byte, and it is kept as text.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CandidateCommit } from '../core/ports.js';
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

export async function describeCommit(cwd: string, parent: string, commit: string): Promise<CandidateCommit> {
  const numstat = await git(['diff', ...COMMON, '--numstat', '-z', parent, commit, '--'], { cwd });
  const files: string[] = [];
  const textFiles: string[] = [];
  let insertions = 0;
  let deletions = 0;
  for (const record of splitNul(numstat.stdout)) {
    // `added<TAB>deleted<TAB>path`; binary files count `-`, no lines. Paths may hold tabs.
    const first = record.indexOf('\t');
    const second = record.indexOf('\t', first + 1);
    const added = record.slice(0, first);
    const file = record.slice(second + 1);
    insertions += Number(added) || 0;
    deletions += Number(record.slice(first + 1, second)) || 0;
    files.push(file);
    if (added !== '-') textFiles.push(file);
  }
  const patch = await textPatch(cwd, parent, commit, textFiles);
  return { commit, patch, files: files.sort(), insertions, deletions };
}
