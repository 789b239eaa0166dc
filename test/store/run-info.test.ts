/** run.json read back: a damaged one is a clear error naming the file and every problem, never a crash. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UserError } from '../../src/domain/errors.js';
import { specSchema } from '../../src/domain/spec.js';
import { readRunInfo, RUN_JSON_VERSION, type RunInfo } from '../../src/store/run-dir.js';

const roots: string[] = [];
afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

async function folderWith(text: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ratchet-run-info-'));
  roots.push(dir);
  await writeFile(join(dir, 'run.json'), text);
  return dir;
}

const good: RunInfo = {
  schema: RUN_JSON_VERSION,
  runId: 'r1',
  target: '/tmp/target',
  base: 'a'.repeat(40),
  baseRef: 'HEAD',
  createdAt: '2026-12-04T00:00:00.000Z',
  spec: specSchema.parse({ objective: 'x', bench: { run: 'true', metric: { name: 'ops', goal: 'maximize' } } }),
  objective: 'x',
  specSource: 'test',
  versions: { ratchet: '0.0.0', node: process.version },
};

describe('readRunInfo', () => {
  it('reads back what a run wrote', async () => {
    const dir = await folderWith(JSON.stringify(good));
    expect(await readRunInfo(dir)).toEqual(good);
  });

  it('says a run.json that is not JSON is not, naming the file and what to do', async () => {
    const dir = await folderWith('{"schema": 1, "runId": ');
    const reading = readRunInfo(dir);
    await expect(reading).rejects.toBeInstanceOf(UserError);
    await expect(reading).rejects.toThrow(`${join(dir, 'run.json')} is not valid JSON`);
    await expect(reading).rejects.toMatchObject({ hint: expect.stringContaining('start a new run') });
  });

  it('names every damaged field at once', async () => {
    const { base: _base, ...rest } = good;
    const dir = await folderWith(JSON.stringify({ ...rest, target: 7, spec: { ...good.spec, bench: { ...good.spec.bench, metric: { name: 'ops', goal: 'up' } } } }));
    const error = await readRunInfo(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    const message = (error as Error).message;
    expect(message).toContain(`${join(dir, 'run.json')} is damaged`);
    for (const field of ['target', 'base', 'spec.bench.metric.goal']) expect(message).toContain(`${field}:`);
  });

  it('refuses a run.json of another schema version before looking further', async () => {
    const dir = await folderWith(JSON.stringify({ ...good, schema: 99, target: 7 }));
    await expect(readRunInfo(dir)).rejects.toThrow(`has schema 99; this ratchet reads ${RUN_JSON_VERSION}`);
  });
});
