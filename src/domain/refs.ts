/** The run's git refs, named once: `ratchet/<run>/best` (the frontier) and one branch per experiment. */
export function refs(runId: string): { best: string; experiment: (exp: string) => string; prefix: string } {
  const prefix = `refs/heads/ratchet/${runId}/`;
  return { prefix, best: `${prefix}best`, experiment: (exp) => `${prefix}${exp}` };
}
