/**
 * One error base, split by who is at fault. Expected failures of an experiment (a failing
 * test, a timeout, a patch that does not apply) are never thrown: they are verdicts.
 */
export type ErrorFields = Record<string, unknown>;

export abstract class RatchetError extends Error {
  abstract readonly kind: 'user' | 'internal';
  /** Process exit code the CLI uses for this error. */
  abstract readonly exitCode: number;
  readonly fields: ErrorFields;

  constructor(message: string, fields: ErrorFields = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.fields = fields;
  }
}

/** The user can fix it: a bad spec, a bad flag, a missing binary, a missing key. */
export class UserError extends RatchetError {
  readonly kind = 'user' as const;
  readonly exitCode: number = 2;
  /** One line telling the user what to do about it, printed after the message. */
  readonly hint: string | undefined;

  constructor(message: string, options: { hint?: string; fields?: ErrorFields; cause?: unknown } = {}) {
    super(message, options.fields ?? {}, { cause: options.cause });
    this.hint = options.hint;
  }
}

/** One problem of an input, with the path of the value it concerns (`bench.metric.goal`). */
export interface Issue {
  path: string;
  message: string;
}

/** Every problem of one input at once, each with its path; nothing has run. */
export class ValidationError extends UserError {
  readonly issues: readonly Issue[];
  readonly source: string;

  constructor(source: string, issues: readonly Issue[], hint?: string) {
    const lines = issues.map((i) => `  ${i.path === '' ? '(root)' : i.path}: ${i.message}`);
    super(`${source} has ${issues.length} problem${issues.length === 1 ? '' : 's'}:\n${lines.join('\n')}`, {
      ...(hint === undefined ? {} : { hint }),
      fields: { source, issues },
    });
    this.issues = issues;
    this.source = source;
  }
}

/** Ours: a broken invariant. The message says which. */
export class InternalError extends RatchetError {
  readonly kind = 'internal' as const;
  readonly exitCode: number = 70;
}

/**
 * The Redis the run depends on is gone for good (a private redis-server that died and would not
 * start again). Nothing is lost: the run folder and refs are intact and `ratchet resume` goes on.
 * Its own exit code (75, EX_TEMPFAIL: try again later), so a script can tell it from a bad spec.
 */
export class RedisLostError extends UserError {
  override readonly exitCode: number = 75;
}

/** The run was interrupted (Ctrl-C, SIGTERM, AbortSignal). Not an error of anyone's. */
export class AbortedError extends Error {
  constructor(message = 'aborted') {
    super(message);
    this.name = 'AbortedError';
  }
}

export function isAbortError(error: unknown): boolean {
  return (
    error instanceof AbortedError ||
    (error instanceof Error && (error.name === 'AbortError' || error.name === 'APIUserAbortError'))
  );
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new AbortedError();
}
