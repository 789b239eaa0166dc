import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/gitdir.js';
import { waitFor } from '../helpers/cli.js';

const FIXTURE = fileURLToPath(new URL('./fixtures/run-and-hang.ts', import.meta.url));

function running(marker: string): string[] {
  return execFileSync('ps', ['-eo', 'stat,args'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes(marker) && !l.startsWith('Z') && !l.includes('ratchet-watchdog') && !l.includes('run-and-hang'));
}

describe('a ratchet process killed outright', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups) await c();
  });

  it('leaves no command it started running', async () => {
    const dir = await tempDir();
    cleanups.push(dir.cleanup);
    const marker = `orphan-marker-${process.pid}`;
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE, join(dir.path, 'log.txt'), marker], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout.on('data', () => resolve()));
    await waitFor(() => running(marker).length >= 2, 10_000, 'the command to start');
    // SIGKILL: no exit hook runs, so only the watchdog can stop the group.
    child.kill('SIGKILL');
    await waitFor(() => running(marker).length === 0, 10_000, 'the orphaned command to be killed');
    expect(running(marker)).toEqual([]);
  }, 30_000);
});
