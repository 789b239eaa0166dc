/** `ratchet show <run> <exp>` prints a bounded start of a huge patch, and says where the rest is. */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { showExperiment } from '../../src/app/inspect.js';
import { formatExperiment } from '../../src/cli/commands/inspect.js';
import { PATCH_PREVIEW_LIMITS } from '../../src/view/patch-preview.js';
import { bigPatch } from '../helpers/big-patch.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'run-basic');
const RUN_ID = '2026-11-21-sort-a1b2';

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ratchet-show-patch-'));
  await cp(FIXTURE, join(root, RUN_ID), { recursive: true });
  await writeFile(join(root, RUN_ID, 'e0004', 'patch.diff'), bigPatch(12));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('ratchet show of one experiment', () => {
  it('prints at most the preview limit of a 12 MB patch, then how much was left out and the whole file', async () => {
    const detail = await showExperiment(root, RUN_ID, 'e0004');
    const printed = formatExperiment(detail);
    const path = join(root, RUN_ID, 'e0004', 'patch.diff');

    expect(Buffer.byteLength(detail.patch)).toBeLessThanOrEqual(PATCH_PREVIEW_LIMITS.maxBytes);
    expect(detail.patch.split('\n').length - 1).toBeLessThanOrEqual(PATCH_PREVIEW_LIMITS.maxLines);
    expect(detail.patchTruncated).toMatchObject({ totalBytes: expect.any(Number), path });
    expect(detail.patchTruncated!.totalBytes).toBeGreaterThan(12 * 1024 * 1024);
    expect(Buffer.byteLength(printed)).toBeLessThan(PATCH_PREVIEW_LIMITS.maxBytes + 10_000);
    expect(printed).toMatch(/patch\.diff is 12\.0 MB: the first \d+ lines \(.+\) are shown, .+ left out; the whole patch is /);
    expect(printed).toContain(path);
  });

  it('prints a small patch whole, with no note', async () => {
    const detail = await showExperiment(root, RUN_ID, 'e0005');

    expect(detail.patchTruncated).toBeUndefined();
    expect(formatExperiment(detail)).toContain("stabilise(items, compare);");
    expect(formatExperiment(detail)).not.toContain('left out');
  });
});
