/** A run.json as a run started at `createdAt` on `/src/target` would write it, for views' tests. */
import { specSchema } from '../../src/domain/spec.js';
import { RUN_JSON_VERSION, type RunInfo } from '../../src/store/run-dir.js';

export function runInfo(runId: string, base: string, createdAt: string, spec: Record<string, unknown>): RunInfo {
  const parsed = specSchema.parse(spec);
  return {
    schema: RUN_JSON_VERSION,
    runId,
    target: '/src/target',
    base,
    baseRef: 'HEAD',
    createdAt,
    spec: parsed,
    objective: parsed.objective,
    specSource: 'ratchet.yaml',
    versions: { ratchet: '0.1.0', node: 'v20' },
  };
}
