import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkAgentReady } from '../../src/agents/factory.js';
import { UserError } from '../../src/domain/errors.js';
import { specSchema } from '../../src/domain/spec.js';
import { tempDir } from '../helpers/gitdir.js';
import { writePatches } from '../helpers/target.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

function spec(agent: Record<string, unknown>) {
  return specSchema.parse({ objective: 'x', bench: { run: 'true', metric: { name: 'm', goal: 'minimize' } }, agent });
}

describe('checking the agent before a run', () => {
  it('accepts agent.parallel above 1 without a warning: the loop keeps that many in flight', async () => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    await writePatches(join(dir.path, 'p'), { '01.patch': 'diff' });
    const warnings = await checkAgentReady(spec({ kind: 'replay', patches: join(dir.path, 'p'), parallel: 2 }), dir.path);
    expect(warnings).toEqual([]);
  });

  it('refuses a replay agent without patches, and a patch folder with none in it', async () => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    await expect(checkAgentReady(spec({ kind: 'replay' }), dir.path)).rejects.toThrow(/needs a folder of patches/);
    const error = await checkAgentReady(spec({ kind: 'replay', patches: dir.path }), dir.path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toContain('no .patch or .diff files');
  });
});
