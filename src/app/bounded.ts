/** Waits that must end: a close on a Redis that is gone, and warnings that repeat. */

/** Waits for `promise` at most `ms`; its rejection or lateness is swallowed (it is tidying up). */
export async function bounded(promise: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (promise === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  try {
    await Promise.race([promise.then(() => undefined, () => undefined), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** `report`, but the same message at most once per `everyMs`. */
export function throttled(everyMs: number, report: (error: Error) => void): (error: Error) => void {
  const last = new Map<string, number>();
  return (error) => {
    const now = Date.now();
    const at = last.get(error.message);
    if (at !== undefined && now - at < everyMs) return;
    if (last.size > 100) last.clear();
    last.set(error.message, now);
    report(error);
  };
}
