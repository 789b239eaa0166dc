/** The start of a patch, bounded in bytes and lines, cut between whole lines. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPatchPreview } from '../../src/view/patch-preview.js';
import { bigPatch } from '../helpers/big-patch.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ratchet-patch-preview-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function patchFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('readPatchPreview', () => {
  it('gives a small patch whole, with no note', async () => {
    const path = await patchFile('small.diff', '+a\n+b\n');

    expect(await readPatchPreview(path)).toEqual({ text: '+a\n+b\n', truncated: false, totalBytes: 6, shownBytes: 6, path, note: undefined });
  });

  it('gives at most the byte limit of a multi-megabyte patch, and says how much is left out and where it is', async () => {
    const text = bigPatch(6);
    const path = await patchFile('big.diff', text);

    const preview = await readPatchPreview(path, { maxBytes: 200 * 1024, maxLines: 1_000_000 });

    expect(preview.truncated).toBe(true);
    expect(preview.shownBytes).toBeLessThanOrEqual(200 * 1024);
    expect(preview.shownBytes).toBeGreaterThan(190 * 1024);
    expect(preview.text.endsWith('\n')).toBe(true);
    expect(text.startsWith(preview.text)).toBe(true);
    expect(preview.totalBytes).toBe(Buffer.byteLength(text));
    expect(preview.note).toContain('patch.diff is 6.0 MB');
    expect(preview.note).toMatch(/5\.8 MB left out/);
    expect(preview.note).toContain(path);
  });

  it('stops at the line limit first when the lines are short', async () => {
    const path = await patchFile('lines.diff', '+x\n'.repeat(10_000));

    const preview = await readPatchPreview(path, { maxBytes: 200 * 1024, maxLines: 4000 });

    expect(preview.text.split('\n')).toHaveLength(4001);
    expect(preview.note).toContain('the first 4000 lines');
  });

  it('never splits a character that spans the byte limit', async () => {
    const path = await patchFile('unicode.diff', `+${'é'.repeat(10)}\n+${'é'.repeat(10)}\n`);

    const preview = await readPatchPreview(path, { maxBytes: 30, maxLines: 100 });

    expect(preview.text).toBe(`+${'é'.repeat(10)}\n`);
    expect(preview.text).not.toContain('\uFFFD');
  });

  it('gives an empty preview for a missing patch', async () => {
    expect(await readPatchPreview(join(dir, 'none.diff'))).toMatchObject({ text: '', truncated: false, note: undefined });
  });
});
