/** docker-compose.yml ships no secret: compose refuses to start until the user sets them. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const FILE = join(import.meta.dirname, '..', '..', 'docker-compose.yml');

describe('docker-compose.yml', () => {
  it('takes the Redis password and the job key from the environment, with no default', async () => {
    const text = await readFile(FILE, 'utf8');
    const uses = [...text.matchAll(/\$\{(RATCHET_REDIS_PASSWORD|RATCHET_KEY)([^}]*)\}/g)];

    expect(uses.map((m) => m[1])).toEqual(expect.arrayContaining(['RATCHET_REDIS_PASSWORD', 'RATCHET_KEY']));
    for (const use of uses) expect(use[2]).toMatch(/^:\?/);
  });

  it('gives the worker the Redis password and RATCHET_KEY, and keeps the password off command lines', async () => {
    const compose = parse(await readFile(FILE, 'utf8')) as {
      services: Record<string, { environment?: Record<string, string>; command?: string[]; healthcheck?: { test: string[] } }>;
    };
    const { redis, worker } = compose.services;

    expect(worker?.environment?.['REDIS_URL']).toContain('${RATCHET_REDIS_PASSWORD:?');
    expect(worker?.environment?.['RATCHET_KEY']).toMatch(/^\$\{RATCHET_KEY:\?/);
    expect(redis?.command?.join(' ')).not.toMatch(/--requirepass/);
    expect(redis?.healthcheck?.test.join(' ')).not.toMatch(/-a |RATCHET_REDIS_PASSWORD/);
  });

  it('runs the worker with a work folder of its own and no volume: candidates come through the git remote', async () => {
    const compose = parse(await readFile(FILE, 'utf8')) as { services: Record<string, { command?: string[]; volumes?: unknown[] }> };
    const worker = compose.services['worker'];

    expect(worker?.command?.slice(0, 1)).toEqual(['worker']);
    const workdir = worker?.command?.[worker.command.indexOf('--workdir') + 1];
    expect(worker?.command).toContain('--workdir');
    expect(workdir).toMatch(/^\//);
    expect(worker?.volumes).toBeUndefined();
  });
});
