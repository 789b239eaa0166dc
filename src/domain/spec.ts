/**
 * The spec, `ratchet.yaml`, as one zod schema: the same schema validates files and flags and
 * is exported as JSON Schema (`ratchet schema`). Parsed values are normalised (durations in
 * milliseconds, `min_effect` as a tagged value), so the rest of ratchet reads one shape.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { parseSize } from './size.js';
import { describeValue } from './describe-value.js';

/** Node fires a timer of more than 2^31 - 1 ms (24.8 days) at once, so a timeout stops at 24 days. */
const MAX_TIMEOUT_MS = 24 * 86_400_000;

function durationSchema(maxMs = Infinity) {
  return z
    .union([z.string(), z.number()], { error: (issue) => `expected a duration like 30s, 2m or 1h, got ${describeValue(issue.input)}` })
    .meta({ description: `A duration: seconds as a number, or a string like 500ms, 30s, 2m, 8h, 1h30m${maxMs === Infinity ? '' : '; at most 24d'}.` })
    .transform((value, ctx) => {
      const ms = parseDuration(value);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: `expected a duration like 30s, 2m or 1h, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      if (ms > maxMs) {
        ctx.addIssue({ code: 'custom', message: `must be at most 24d, got ${JSON.stringify(value)}` });
        return z.NEVER;
      }
      return ms;
    });
}

const duration = durationSchema();
/** What a command may run for: a timer holds it. */
const timeout = durationSchema(MAX_TIMEOUT_MS);

const size = z
  .union([z.string(), z.number()], { error: (issue) => `expected a size like 5MB, 512MiB or a number of bytes, got ${describeValue(issue.input)}` })
  .meta({ description: 'A size: bytes as a number, or a string like 64KB, 5MB, 512MiB, 2GB.' })
  .transform((value, ctx) => {
    const bytes = parseSize(value);
    if (bytes === undefined || bytes <= 0) {
      ctx.addIssue({ code: 'custom', message: `expected a size like 5MB, 512MiB or a number of bytes, got ${JSON.stringify(value)}` });
      return z.NEVER;
    }
    return bytes;
  });

const nonEmpty = z.string().trim().min(1, 'must not be empty');

export type MinEffect = { kind: 'relative'; value: number } | { kind: 'absolute'; value: number };

const minEffect = z
  .union([z.number(), z.string()], { error: (issue) => `expected a non-negative number or a percentage like "1%", got ${describeValue(issue.input)}` })
  .meta({ description: 'Smallest change worth keeping: a number in metric units, or a percentage such as "1%".' })
  .transform((value, ctx): MinEffect => {
    if (typeof value === 'number') {
      if (Number.isFinite(value) && value >= 0) return { kind: 'absolute', value };
    } else {
      // `1e999` or 400 digits parse as Infinity: no candidate could ever beat that.
      const pct = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(value);
      if (pct && Number.isFinite(Number(pct[1]))) return { kind: 'relative', value: Number(pct[1]) / 100 };
      const abs = /^\s*(\d+(?:\.\d+)?(?:e-?\d+)?)\s*$/i.exec(value);
      if (abs && Number.isFinite(Number(abs[1]))) return { kind: 'absolute', value: Number(abs[1]) };
    }
    ctx.addIssue({ code: 'custom', message: `expected a non-negative number or a percentage like "1%", got ${JSON.stringify(value)}` });
    return z.NEVER;
  });

const regex = z.string().superRefine((value, ctx) => {
  let groups: number;
  try {
    // V8 compiles a regex when it first runs: a huge one is "too large" only then.
    groups = new RegExp(`${new RegExp(value).source}|`).exec('')!.length - 1;
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `not a valid regular expression: ${(error as Error).message}` });
    return;
  }
  if (groups !== 1) ctx.addIssue({ code: 'custom', message: `needs exactly one capture group for the value, found ${groups}` });
});

export const checkSchema = z.strictObject({
  name: nonEmpty.describe('A short name shown in logs and verdict reasons.'),
  run: nonEmpty.describe('Shell command; it passes when it exits 0.'),
  timeout: timeout.prefault(600),
});

export const metricSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z_][\w.-]*$/, 'a metric name is letters, digits, _, . or -, starting with a letter or _'),
  goal: z.enum(['minimize', 'maximize']),
  pattern: regex.optional().describe('A regex with one capture group; the last match in the bench output wins.'),
});

export const constraintSchema = z
  .strictObject({
    metric: z.string().min(1),
    max: z.number().optional(),
    min: z.number().optional(),
    pattern: regex.optional(),
  })
  .refine((c) => c.max !== undefined || c.min !== undefined, { message: 'a constraint needs max, min or both' });

export const benchSchema = z
  .strictObject({
    run: nonEmpty.describe('Shell command that prints the metric; {seed} is replaced by the run\'s seed (also in RATCHET_SEED).'),
    timeout: timeout.prefault(600),
    metric: metricSchema,
    constraints: z.array(constraintSchema).default([]),
    repeat: z
      .union([z.literal('auto'), z.int().min(1)])
      .default('auto')
      .describe('Measurements per candidate (A/B pairs with its parent when > 1); auto: calibrated on the baseline, 1 when it is deterministic, paired A/B runs sharing a seed when not.'),
    max_repeat: z.int().min(1).optional().describe('Upper bound for adaptive repeats of a borderline candidate.'),
    warmup: z.int().min(0).default(0).describe('Unrecorded runs before measuring.'),
    confidence: z.number().gt(0.5).lt(1).optional().describe('How sure the noise-aware rule must be that a gain is real. Default 0.95; 0.99 when repeat: auto finds the bench noisy.'),
    min_effect: minEffect.optional().describe('Smallest change worth keeping: a number in metric units, or a percentage such as "1%". Default 0; 1% when repeat: auto finds the bench noisy.'),
  })
  // The rest of ratchet reads one number: `auto` is 1 until the baseline's calibration resolves
  // it (plan/calibration.ts), and `repeat_auto` remembers that it may; `min_effect_auto` that
  // min_effect was not written, so the calibration may set a floor; `confidence_auto` the same
  // for confidence.
  .transform(({ repeat, min_effect: minEffectGiven, confidence, ...bench }) => ({
    ...bench,
    repeat: repeat === 'auto' ? 1 : repeat,
    repeat_auto: repeat === 'auto',
    confidence: confidence ?? 0.95,
    confidence_auto: confidence === undefined,
    min_effect: minEffectGiven ?? { kind: 'absolute', value: 0 },
    min_effect_auto: minEffectGiven === undefined,
  }));

export const holdoutSchema = z.strictObject({
  dir: nonEmpty.describe("A folder outside the target repository, relative to the spec's folder: the agent never sees it; only the holdout stage does, read-only."),
  run: nonEmpty.describe('Shell command that prints the holdout metric, run in the candidate\'s worktree; {holdout} is replaced by the folder\'s path.'),
  timeout: timeout.prefault(600),
  metric: metricSchema,
  rule: z.enum(['no_regress', 'improve']).default('no_regress').describe('no_regress: a keep must not be worse on the holdout than its parent; improve: it must be better.'),
  repeat: z
    .union([z.literal('auto'), z.int().min(1)])
    .default('auto')
    .describe('Holdout runs per candidate: 1 compares with the recorded value of the parent; > 1 measures candidate and parent alternately (A/B); auto: calibrated on the baseline like the bench.'),
  min_effect: minEffect.prefault(0).describe('improve: the least gain on the holdout; no_regress: the largest loss tolerated.'),
  confidence: z.number().gt(0.5).lt(1).default(0.95),
})
  // As the bench's: `auto` is 1 until the baseline's holdout runs resolve it.
  .transform(({ repeat, ...holdout }) => ({ ...holdout, repeat: repeat === 'auto' ? 1 : repeat, repeat_auto: repeat === 'auto' }));

/**
 * `setup` as an object: its command and the files its outputs depend on. The parsed spec keeps
 * `setup` as the command (many places read it) and the globs apart, as `setup_inputs`.
 */
export const setupObjectSchema = z.strictObject({
  run: nonEmpty.describe('Shell command, as setup written as a string.'),
  inputs: z
    .array(nonEmpty)
    .min(1, 'lists no file: name the files setup reads (such as package-lock.json), or write setup as a plain command')
    .optional()
    .describe("Globs of the files setup's outputs depend on; while these, the setup command and the protected files are unchanged, setup's outputs are reused (sandboxed stages only)."),
});

/**
 * A union's failure names neither branch's problem: say the likely one of an object that tried
 * to be setup's object form, else what the two forms are.
 */
function setupShapeError(input: unknown): string {
  if (isObject(input)) {
    if (input['run'] === undefined) return 'needs run: the setup command';
    if (typeof input['run'] !== 'string') return `run must be the setup command, got ${describeValue(input['run'])}`;
    if (input['inputs'] !== undefined && !(Array.isArray(input['inputs']) && input['inputs'].every((glob) => typeof glob === 'string'))) {
      return `inputs must be a list of globs such as [package-lock.json], got ${describeValue(input['inputs'])}`;
    }
  }
  return `expected a shell command, or { run, inputs } to reuse setup's outputs, got ${describeValue(input)}`;
}

export const budgetSchema = z.strictObject({
  experiments: z.int().min(0).optional().describe('Experiments after the baseline.'),
  duration: duration.optional(),
  usd: z.number().min(0).optional(),
  consecutive_failures: z.int().min(1).default(10),
});

const price = z.strictObject({
  input: z.number().min(0),
  output: z.number().min(0),
  cache_read: z.number().min(0).optional(),
  cache_write: z.number().min(0).optional(),
});

export const replayAgentSchema = z.strictObject({
  kind: z.literal('replay'),
  patches: z.string().min(1).optional().describe('Directory of patch files, applied in name order.'),
  parallel: z.int().min(1).default(1),
});

export const commandAgentSchema = z.strictObject({
  kind: z.literal('command'),
  run: nonEmpty.describe('Command line; {prompt} and {prompt_file} are replaced.'),
  timeout: timeout.prefault(1800),
  sandbox: z.boolean().default(true).describe("Run the agent's CLI inside the run's sandbox (with network, a private HOME); false runs it with your own HOME, unconfined."),
  mounts: z.array(z.string().min(1)).default([]).describe("Folders bound writable into the agent's sandbox, such as the CLI's login state (~/.claude)."),
  parallel: z.int().min(1).default(1),
});

export const claudeAgentSchema = z.strictObject({
  kind: z.literal('claude'),
  // claude-sonnet-4-5 is deprecated (the SDK warns on the console for every request to it).
  model: z.string().min(1).default('claude-sonnet-4-6'),
  max_tokens: z.int().min(256).default(8192),
  max_turns: z.int().min(1).default(40),
  temperature: z.number().min(0).max(1).optional(),
  base_url: z.url().optional(),
  command_timeout: timeout.prefault(300),
  max_retries: z.int().min(0).default(6),
  prices: z.record(z.string(), price).optional().describe('USD per million tokens, by model id.'),
  stream: z.boolean().optional().describe('Stream responses (default true); false for servers without streaming.'),
  parallel: z.int().min(1).default(1),
});

export const tuneParamSchema = z
  .strictObject({
    file: z.string().min(1),
    name: z.string().min(1).optional(),
    pattern: regex.optional(),
    min: z.number(),
    max: z.number(),
    type: z.enum(['int', 'float']).default('float'),
    scale: z.enum(['linear', 'log']).default('linear'),
  })
  .refine((p) => (p.name === undefined) !== (p.pattern === undefined), { message: 'give exactly one of name or pattern' })
  .refine((p) => p.min < p.max, { message: 'min must be below max' })
  .refine((p) => p.scale !== 'log' || p.min > 0, { message: 'a log scale needs min > 0' });

export const tuneAgentSchema = z.strictObject({
  kind: z.literal('tune'),
  params: z.array(tuneParamSchema).min(1, 'tune needs at least one parameter'),
  seed: z.int().optional(),
  parallel: z.int().min(1).default(1),
});

export const agentSchema = z.discriminatedUnion('kind', [
  replayAgentSchema,
  commandAgentSchema,
  claudeAgentSchema,
  tuneAgentSchema,
]);

export const DEFAULT_MAX_PATCH_BYTES = 5 * 1000 ** 2;

export const limitsSchema = z.strictObject({
  max_changed_files: z.int().min(1).default(50),
  max_diff_lines: z.int().min(1).default(5000),
  max_patch_bytes: size.prefault(DEFAULT_MAX_PATCH_BYTES).describe('Largest patch a candidate may be; larger ones are rejected before any job runs.'),
  binary: z.enum(['allow', 'refuse']).default('allow').describe('Whether a candidate may add or change binary files.'),
  memory: size.optional().describe('Memory limit of each command ratchet runs for a candidate (the sandbox\'s whole process tree).'),
  cpu: z.number().gt(0).optional().describe('CPU limit of each command, in cores (1.5 = one and a half cores).'),
});

export const specSchema = z
  .strictObject({
    version: z.literal(1).default(1),
    objective: nonEmpty.describe('What to improve: prose, or the path of a markdown file in the target.'),
    editable: z.array(z.string().min(1)).default([]).describe('Globs the agent may change; empty means everything not protected.'),
    protected: z.array(z.string().min(1)).default([]).describe('Globs the agent must never change.'),
    setup: z
      .union([z.string(), setupObjectSchema], { error: (issue) => setupShapeError(issue.input) })
      .optional()
      .describe(
        "Shell command run once per worktree before the checks; or { run, inputs }: inputs are globs of the files setup reads (package-lock.json), and while they are unchanged a worker reuses setup's outputs for the next candidate instead of running setup again (the sandbox keeps later stages from writing to them).",
      ),
    setup_timeout: timeout.prefault(900),
    checks: z.array(checkSchema).default([]),
    bench: benchSchema,
    holdout: holdoutSchema.optional().describe('A second measurement the agent never sees, run on every candidate that would be kept: one that wins the bench but fails it is `overfit`.'),
    budget: budgetSchema.default({ consecutive_failures: 10 }),
    agent: agentSchema.default({ kind: 'replay', parallel: 1 }),
    limits: limitsSchema.prefault({}),
    sandbox: z
      .enum(['auto', 'bwrap', 'none'])
      .default('auto')
      .describe('Where setup, checks, bench and agent commands run: bubblewrap (bwrap), unconfined (none), or bwrap when it works here (auto).'),
    sandbox_paths: z.array(z.string().min(1)).default([]).describe('Extra folders visible read-only inside the sandbox (a toolchain in an unusual place).'),
    setup_network: z.boolean().default(false).describe('Let setup reach the network inside the sandbox (to install dependencies).'),
    remote: z
      .string()
      .min(1)
      .refine((url) => !url.startsWith('-') && !/[\0\n]/.test(url), 'expected a git remote URL')
      // The URL is written to run.json, the events and every job: a secret in it would be too.
      .refine(
        (url) => !/^https?:\/\/[^/]*@/i.test(url) && !/^[a-z][a-z0-9+.-]*:\/\/[^/@]*:[^/@]*@/i.test(url),
        'carries a credential (a token or password before @), which would be written to run.json, the events and every job; use an SSH key or a git credential helper (git config credential.helper) instead',
      )
      .optional()
      .describe(
        'A git remote URL (or path) for workers on other machines: the run pushes its base and every candidate there, under refs/ratchet/<run>/…, and workers fetch them into clones of their own. Without it, workers use the repository where it is, so they must share its machine.',
      ),
    env: z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*\*?$/, 'must be an environment variable name (letters, digits, _), optionally ending in *')).default([]).describe('Extra environment variables passed to commands (an allowlist; PATH, HOME and the like always pass).'),
  })
  // Cross-field rules run even when other parts of the spec are wrong, so one report holds every
  // problem; each runs only once the fields it reads parsed cleanly.
  .superRefine(
    (spec, ctx) => {
      const names = new Set<string>();
      spec.checks.forEach((check, i) => {
        if (names.has(check.name)) ctx.addIssue({ code: 'custom', path: ['checks', i, 'name'], message: `duplicate check name "${check.name}"` });
        names.add(check.name);
      });
    },
    {
      // A check with a bad timeout still has a name worth comparing.
      when: (payload) =>
        isObject(payload.value) &&
        Array.isArray(payload.value.checks) &&
        payload.value.checks.every((check, i) => isObject(check) && !hasIssueUnder(payload.issues, ['checks', i, 'name'])) &&
        !payload.issues.some((issue) => issue.path?.length === 1 && issue.path[0] === 'checks'),
    },
  )
  .superRefine(
    (spec, ctx) => {
      const { repeat, repeat_auto: auto, max_repeat: maxRepeat } = spec.bench;
      if (!auto && maxRepeat !== undefined && maxRepeat < repeat) {
        ctx.addIssue({ code: 'custom', path: ['bench', 'max_repeat'], message: `must be at least bench.repeat (${repeat}), got ${maxRepeat}` });
      }
    },
    {
      when: (payload) =>
        isObject(payload.value) &&
        isObject(payload.value.bench) &&
        !hasIssueUnder(payload.issues, ['bench', 'repeat']) &&
        !hasIssueUnder(payload.issues, ['bench', 'max_repeat']),
    },
  )
  // One shape for the rest of ratchet: `setup` the command, `setup_inputs` its globs ([] when
  // setup's outputs are never reused).
  // No `setup` key at all without a command, as before: a spec that went through JSON (run.json,
  // a job) must equal the one parsed.
  .transform(({ setup, ...spec }) => ({
    ...spec,
    ...(setup === undefined ? {} : { setup: typeof setup === 'object' ? setup.run : setup }),
    setup_inputs: typeof setup === 'object' ? (setup.inputs ?? []) : [],
  }));

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function hasIssueUnder(issues: readonly { path?: readonly PropertyKey[] | undefined }[], prefix: readonly (string | number)[]): boolean {
  return issues.some((issue) => prefix.every((segment, i) => issue.path?.[i] === segment));
}

/** A spec as written (before defaults and normalisation). */
export type SpecInput = z.input<typeof specSchema>;
/** A spec as ratchet uses it. */
export type Spec = z.output<typeof specSchema>;
export type AgentSpec = Spec['agent'];
export type BenchSpec = Spec['bench'];
export type CheckSpec = Spec['checks'][number];
export type HoldoutSpec = NonNullable<Spec['holdout']>;
export type TuneParam = z.output<typeof tuneParamSchema>;
export type Goal = Spec['bench']['metric']['goal'];

/** The spec's `limits.memory` and `limits.cpu`, as the command runner takes them. */
export function commandLimits(spec: Spec): { memoryBytes: number | undefined; cpus: number | undefined } {
  return { memoryBytes: spec.limits.memory, cpus: spec.limits.cpu };
}

/** The spec's `setup.inputs` globs; a job from an orchestrator older than them carries none. */
export function setupInputs(spec: Spec): readonly string[] {
  return (spec as Partial<Spec>).setup_inputs ?? [];
}
