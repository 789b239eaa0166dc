/** The dashboard's experiment detail sends a bounded start of a huge patch and says where the rest is. */
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExperimentDetail } from '../../src/view/web/api.js';
import { PATCH_PREVIEW_LIMITS } from '../../src/view/patch-preview.js';
import { serve, type DashboardServer } from '../../src/view/web/server.js';
import { bigPatch } from '../helpers/big-patch.js';

const FIXTURE = join(import.meta.dirname, '..', 'fixtures', 'run-basic');
const RUN_ID = '2026-11-21-sort-a1b2';

let root: string;
let server: DashboardServer;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'ratchet-web-big-diff-'));
  await cp(FIXTURE, join(root, RUN_ID), { recursive: true });
  await writeFile(join(root, RUN_ID, 'e0004', 'patch.diff'), bigPatch(8));
  server = await serve({ experimentsRoot: root, port: 0 });
});
afterAll(async () => {
  await server.close();
  await rm(root, { recursive: true, force: true });
});

describe('the dashboard on a huge patch', () => {
  it('sends at most the preview limit of an 8 MB patch, with a note naming the whole file', async () => {
    const res = await fetch(new URL(`/api/runs/${RUN_ID}/experiments/e0004`, server.url));
    const body = await res.text();
    const { diff } = JSON.parse(body) as ExperimentDetail;

    expect(res.status).toBe(200);
    expect(body.length).toBeLessThan(PATCH_PREVIEW_LIMITS.maxBytes + 64 * 1024);
    expect(Buffer.byteLength(diff.text)).toBeLessThanOrEqual(PATCH_PREVIEW_LIMITS.maxBytes);
    expect(diff.truncated).toBe(true);
    expect(diff.totalBytes).toBeGreaterThan(8 * 1024 * 1024);
    expect(diff.note).toContain('left out');
    expect(diff.note).toContain(join(root, RUN_ID, 'e0004', 'patch.diff'));
  });
});
