/** Helpers for spec tests: the issues a bad spec is rejected with. */
import { expect } from 'vitest';
import { ValidationError, type Issue } from '../../src/domain/errors.js';

/** The issues `run` throws; fails the test when it throws anything else or nothing. */
export function issuesOf(run: () => unknown): readonly Issue[] {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues;
  }
  throw new Error('expected a ValidationError, but the spec was accepted');
}

export async function issuesOfAsync(run: () => Promise<unknown>): Promise<readonly Issue[]> {
  try {
    await run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues;
  }
  throw new Error('expected a ValidationError, but the spec was accepted');
}

/** `path: message` lines, the way a user reads them. */
export function lines(issues: readonly Issue[]): string[] {
  return issues.map((issue) => `${issue.path}: ${issue.message}`);
}
