/**
 * Reads a run's events.jsonl from the start and, when following, as it grows: in batches of
 * whole lines (a line still being written waits for its end). fs.watch gives low latency; a
 * poll catches what it misses (network filesystems, platforms without inotify).
 */
import { watch, type FSWatcher } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { UserError } from '../../domain/errors.js';
import { parseEvents, type RunEvent } from '../../domain/events.js';

export interface TailOptions {
  signal: AbortSignal;
  /** Keep reading as the file grows (until `signal` aborts); otherwise stop at its end. */
  follow: boolean;
  pollMs?: number;
  /** Lines that are not events (reported, then skipped). */
  onProblem?: (problem: string) => void;
}

/** Resolves on the next nudge, after `ms`, or on abort, whichever comes first. */
class Waker {
  private resolve: (() => void) | undefined;
  private nudged = false;

  wake(): void {
    this.nudged = true;
    this.resolve?.();
  }

  wait(ms: number, signal: AbortSignal): Promise<void> {
    if (this.nudged || signal.aborted) {
      this.nudged = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.resolve = undefined;
        this.nudged = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.resolve = done;
    });
  }
}

export async function* tailEvents(file: string, options: TailOptions): AsyncGenerator<RunEvent[]> {
  const { signal } = options;
  const waker = new Waker();
  let watcher: FSWatcher | undefined;
  let offset = 0;
  let pending: Buffer = Buffer.alloc(0);
  let lineNumber = 0;
  if (options.follow) {
    try {
      watcher = watch(file, () => waker.wake());
      watcher.on('error', () => watcher?.close());
    } catch {
      // No watcher here; the poll still sees every change.
    }
  }
  try {
    for (;;) {
      if (signal.aborted) return;
      const size = await stat(file).then((s) => s.size);
      if (size < offset) {
        throw new UserError(`${file} shrank while being watched; events.jsonl is append-only`, { hint: 'start ratchet watch again' });
      }
      if (size > offset) {
        const chunk = await readRange(file, offset, size);
        offset += chunk.length;
        pending = Buffer.concat([pending, chunk]);
        const end = pending.lastIndexOf(0x0a) + 1;
        if (end > 0) {
          const text = pending.subarray(0, end).toString('utf8');
          pending = pending.subarray(end);
          const { events, problems } = parseEvents(text);
          for (const problem of problems) options.onProblem?.(renumber(problem, lineNumber));
          lineNumber += text.split('\n').length - 1;
          if (events.length > 0) yield events;
        }
      }
      if (!options.follow) return;
      await waker.wait(options.pollMs ?? 500, signal);
    }
  } finally {
    watcher?.close();
  }
}

async function readRange(file: string, from: number, to: number): Promise<Buffer> {
  const handle = await open(file, 'r');
  try {
    const buffer = Buffer.alloc(to - from);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, from);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** parseEvents numbers lines from the start of what it was given; report them in the file. */
function renumber(problem: string, before: number): string {
  return problem.replace(/^line (\d+)/, (_, n: string) => `line ${Number(n) + before}`);
}
