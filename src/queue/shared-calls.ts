/**
 * Callers asking for the same thing at once share one piece of work. Each caller keeps its own
 * abort: it rejects only that caller's promise, and the work itself stops when the last caller
 * waiting for it aborts.
 */
import { AbortedError } from '../domain/errors.js';

interface Shared<T> {
  promise: Promise<T>;
  controller: AbortController;
  callers: number;
}

export class SharedCalls<T> {
  private readonly running = new Map<string, Shared<T>>();

  run(key: string, work: (signal: AbortSignal) => Promise<T>, signal: AbortSignal): Promise<T> {
    let shared = this.running.get(key);
    if (shared === undefined || shared.controller.signal.aborted) {
      const controller = new AbortController();
      const created: Shared<T> = { controller, callers: 0, promise: work(controller.signal) };
      const forget = (): void => {
        if (this.running.get(key) === created) this.running.delete(key);
      };
      created.promise.then(forget, forget);
      this.running.set(key, created);
      shared = created;
    }
    return follow(shared, signal);
  }
}

function follow<T>(shared: Shared<T>, signal: AbortSignal): Promise<T> {
  shared.callers++;
  return new Promise((resolve, reject) => {
    let left = false;
    const leave = (): boolean => {
      if (left) return false;
      left = true;
      shared.callers--;
      signal.removeEventListener('abort', onAbort);
      return true;
    };
    const onAbort = (): void => {
      if (!leave()) return;
      if (shared.callers > 0) {
        reject(new AbortedError());
        return;
      }
      // The last one out stops the work, and hears back once the work has wound down.
      shared.controller.abort();
      const aborted = (): void => reject(new AbortedError());
      shared.promise.then(aborted, aborted);
    };
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    shared.promise.then(
      (value) => {
        if (leave()) resolve(value);
      },
      (error: unknown) => {
        if (leave()) reject(error instanceof Error ? error : new Error(String(error)));
      },
    );
  });
}
