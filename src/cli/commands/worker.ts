import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { createRunner, createWorkerCheckouts, createWorkerExecutor, processRedactor, readyWorkerProcess } from '../../app/compose.js';
import { resolveJobKey } from '../../app/job-key.js';
import { UserError } from '../../domain/errors.js';
import { describeRedis, parseRedisUrl, redisUrlFrom } from '../../queue/connection.js';
import { startWorker } from '../../queue/worker.js';
import { err } from '../output.js';
import { interruptOnSignals } from '../signals.js';
import { intArg } from './common.js';

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('serve the evaluation jobs of every run on a shared Redis (one bench per bench slot on this machine)')
    .option('--redis <url>', 'the Redis the runs use (default: REDIS_URL)')
    .option('--run <id>', 'serve only this run (default: every active run, as runs come and go)')
    .option('--concurrency <n>', 'parallel setup and check jobs per run', intArg, 2)
    .option('--name <name>', 'what events and results call this worker; the slots of one name are one machine (default: the host name)')
    .option('--bench-slots <n>', 'bench jobs run at once by this worker, across every run it serves', intArg, 1)
    .option('--workdir <dir>', "this worker's folder: clones of the runs' remotes, stage logs on their way (default: $XDG_CACHE_HOME/ratchet/worker)")
    .action(async (o: { redis?: string; run?: string; concurrency: number; name?: string; benchSlots: number; workdir?: string }) => {
      const url = redisUrlFrom(o.redis);
      if (url === undefined) {
        throw new UserError('ratchet worker needs the Redis the runs use', { hint: 'pass --redis URL or set REDIS_URL (the URL `ratchet run` prints when it starts)' });
      }
      if (o.benchSlots < 1) throw new UserError('--bench-slots must be at least 1', { hint: 'one slot runs one bench at a time' });
      const connection = parseRedisUrl(url);
      const key = resolveJobKey({ shared: true, who: 'ratchet worker' });
      const interrupt = interruptOnSignals();
      const workdir = resolve(o.workdir ?? defaultWorkdir());
      const checkouts = createWorkerCheckouts(workdir);
      const sandbox = await readyWorkerProcess();
      const worker = await startWorker({
        connection,
        key,
        executor: createWorkerExecutor(createRunner(processRedactor(connection.password === undefined ? [] : [{ name: 'REDIS_PASSWORD', value: connection.password }])), checkouts),
        runs: o.run === undefined ? 'registered' : [o.run],
        concurrency: o.concurrency,
        benchSlots: o.benchSlots,
        ...(o.name === undefined ? {} : { name: o.name }),
        logRoot: join(workdir, 'logs'),
        signal: interrupt.signal,
        onError: (e) => err(`ratchet worker: ${e.message}`),
      });
      // describeRedis, not the URL: the URL may carry the password.
      const slots = `${o.benchSlots} bench slot${o.benchSlots === 1 ? '' : 's'}`;
      const sandboxed = sandbox.sandboxed ? 'commands in bubblewrap' : `no sandbox here (${sandbox.reason}): a run with sandbox: auto runs its commands unsandboxed on this worker`;
      err(`ratchet worker${o.name === undefined ? '' : ` ${o.name}`}: serving ${o.run ?? 'every registered run'} on ${describeRedis(connection)} with ${slots}, in ${workdir}, ${sandboxed}; Ctrl-C to stop`);
      await new Promise<void>((resolve) => interrupt.signal.addEventListener('abort', () => resolve(), { once: true }));
      await worker.close();
      await checkouts.close();
      interrupt.dispose();
    });
}

function defaultWorkdir(): string {
  const cache = process.env['XDG_CACHE_HOME'];
  return join(cache !== undefined && cache !== '' ? cache : join(homedir(), '.cache'), 'ratchet', 'worker');
}
