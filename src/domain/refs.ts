/** A full commit id, SHA-1 or SHA-256, as git writes it (lowercase hex). */
export const FULL_COMMIT_ID = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

/** The run's git refs, named once: `ratchet/<run>/best` (the frontier) and one branch per experiment. */
export function refs(runId: string): { best: string; experiment: (exp: string) => string; prefix: string } {
  const prefix = `refs/heads/ratchet/${runId}/`;
  return { prefix, best: `${prefix}best`, experiment: (exp) => `${prefix}${exp}` };
}
