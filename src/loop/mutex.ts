/** One task at a time, in the order they asked: the merge queue and the run's refs are serialised with it. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  private waiting = 0;

  /** Runs `fn` once every task asked before it has ended (whether it resolved or threw). */
  run<T>(fn: () => Promise<T>): Promise<T> {
    this.waiting += 1;
    const result = this.tail.then(fn).finally(() => {
      this.waiting -= 1;
    });
    this.tail = result.catch(() => undefined);
    return result;
  }

  /** Tasks running or waiting. */
  get pending(): number {
    return this.waiting;
  }
}
