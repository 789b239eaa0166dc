/**
 * Job payloads as a worker reads them off a shared Redis, and results as the orchestrator reads
 * them back: anything that is not exactly what the key signed is refused with a reason, never a
 * throw; a signed job and a signed reply are accepted, before and after the JSON trip.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { EvaluationRequest, StageKind } from '../../src/domain/evaluation.js';
import type { StageResult } from '../../src/domain/job.js';
import { readJob, readReply, signJob, signReply } from '../../src/queue/protocol.js';
import { canonicalJson, sign } from '../../src/queue/signing.js';
import { parseSpec } from '../../src/spec/load.js';
import { awkwardPiece, awkwardText, hugeText, within } from './arbitraries.js';

const SPEC = parseSpec('objective: x\nbench:\n  run: node bench.js\n  metric: { name: ms, goal: minimize }\n', 'ratchet.yaml');

const key = fc.uint8Array({ minLength: 16, maxLength: 64 }).map((bytes) => Buffer.from(bytes));
/** Any text a spec may carry into a job: unicode, lone surrogates, NUL, now and then 20 KB of it. */
const text = fc.oneof({ weight: 6, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) }, { weight: 3, arbitrary: awkwardText(6) }, { weight: 1, arbitrary: hugeText(20_000) });
const segment = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).map((s) => s.replace(/[/\0]/g, '_'));
const absolutePath = fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) => `/${parts.join('/')}`);
const commit = fc.stringMatching(/^[0-9a-f]{7,40}$/);

const request: fc.Arbitrary<EvaluationRequest> = fc.record({
  runId: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9_-]{0,30}$/),
  experiment: fc.integer({ min: 0, max: 99_999 }).map((n) => `e${String(n).padStart(4, '0')}`),
  commit,
  parentCommit: fc.option(commit, { nil: undefined }),
  logDir: absolutePath,
  spec: fc.tuple(text, text, text).map(([name, run, bench]) => ({ ...SPEC, checks: [{ name, run, timeout: 1000 }], bench: { ...SPEC.bench, run: bench } })),
  baseCommit: commit,
  source: fc.oneof(
    absolutePath.map((gitDir) => ({ kind: 'local' as const, gitDir })),
    fc.webUrl().map((url) => ({ kind: 'remote' as const, url })),
  ),
});
const stage = fc.constantFrom<StageKind>('setup', 'checks', 'bench');
const job = fc.record({ key, stage, request, session: fc.string({ minLength: 1, maxLength: 200 }) }).map(({ key, ...rest }) => ({ key, job: signJob(key, rest) }));

/** What Redis gives back: BullMQ stores job data as JSON. */
const viaRedis = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

function expectRefused(checked: { ok: boolean; reason?: string }): void {
  expect(checked.ok).toBe(false);
  // A reason a log line can hold, however large the job.
  expect(checked.reason).toMatch(/\S/);
  expect(checked.reason!.length).toBeLessThan(600);
}

/** Every place in a JSON value: the path to it. */
function places(value: unknown, path: (string | number)[] = []): (string | number)[][] {
  const inner = Array.isArray(value)
    ? value.flatMap((item, i) => places(item, [...path, i]))
    : typeof value === 'object' && value !== null
      ? Object.entries(value).flatMap(([k, v]) => places(v, [...path, k]))
      : [];
  return [path, ...inner];
}

type Edit = { kind: 'replace'; value: unknown } | { kind: 'delete' } | { kind: 'add'; key: string; value: unknown };
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant('replace' as const), value: fc.oneof(fc.jsonValue({ maxDepth: 2 }), awkwardPiece, fc.constantFrom(null, 0, -1, 1e308, '', '/etc/passwd', 'rm -rf /', 3, 1)) }),
  fc.constant({ kind: 'delete' as const }),
  fc.record({ kind: fc.constant('add' as const), key: fc.oneof(fc.string({ maxLength: 8 }), fc.constantFrom('__proto__', 'constructor', 'sig', 'v', 'env')), value: fc.jsonValue({ maxDepth: 1 }) }),
);

/** `value` with one edit at `path` (a copy; the root itself is replaced, never deleted). */
function edited(value: unknown, path: (string | number)[], change: Edit): unknown {
  if (path.length === 0) return change.kind === 'replace' ? change.value : change.kind === 'add' ? { [change.key]: change.value } : null;
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let node = copy;
  for (const step of path.slice(0, -1)) node = node[step] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (change.kind === 'replace') node[last] = change.value;
  else if (change.kind === 'delete') {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else {
    const target = node[last];
    if (typeof target === 'object' && target !== null && !Array.isArray(target)) Object.defineProperty(target, change.key, { value: change.value, enumerable: true, writable: true, configurable: true });
    else node[last] = { [change.key]: change.value };
  }
  return copy;
}

/** Whether two jobs say the same thing once through JSON (so refusing one and not the other would be wrong). */
const same = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);

describe('readJob', () => {
  it('accepts a signed job, as the orchestrator made it and as Redis gives it back', () => {
    fc.assert(
      fc.property(job, ({ key, job }) => {
        expect(readJob(job, key)).toEqual({ ok: true, value: job });
        expect(readJob(viaRedis(job), key)).toEqual({ ok: true, value: viaRedis(job) });
      }),
      { numRuns: 150 },
    );
  });

  it('refuses any one edit anywhere in a signed job: a value replaced, a key removed or added', () => {
    fc.assert(
      fc.property(job, fc.nat(), edit, ({ key, job }, at, change) => {
        const data = viaRedis(job);
        const all = places(data);
        const mutated = viaRedis(edited(data, all[at % all.length]!, change));
        fc.pre(!same(mutated, data));
        expectRefused(within(1_000, () => readJob(mutated, key)));
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a signed job with any one character of its JSON changed, added or removed', () => {
    const change = fc.tuple(fc.nat(), fc.constantFrom('replace', 'insert', 'delete'), fc.oneof(fc.constantFrom('0', '1', 'a', 'f', 'A', '"', '\\', '{', '}', ',', ':', ' ', '\0', 'é', '9', '-', 'e', 'E', '.'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })));
    fc.assert(
      fc.property(job, change, ({ key, job }, [at, how, char]) => {
        const json = JSON.stringify(job);
        const i = at % json.length;
        const changed = how === 'replace' ? `${json.slice(0, i)}${char}${json.slice(i + 1)}` : how === 'insert' ? `${json.slice(0, i)}${char}${json.slice(i)}` : `${json.slice(0, i)}${json.slice(i + 1)}`;
        let data: unknown;
        try {
          data = JSON.parse(changed);
        } catch {
          return; // not JSON: BullMQ could not hand it to a worker at all
        }
        fc.pre(!same(data, job));
        expectRefused(within(1_000, () => readJob(data, key)));
      }),
      { numRuns: 500 },
    );
  });

  it('refuses a job signed with another key, and one whose signature is not its own', () => {
    fc.assert(
      fc.property(job, key, job, ({ key: signer, job: signed }, other, { job: elsewhere }) => {
        fc.pre(!signer.equals(other));
        expectRefused(readJob(signed, other));
        fc.pre(!same({ ...signed, sig: '' }, { ...elsewhere, sig: '' }));
        expectRefused(readJob({ ...signed, sig: elsewhere.sig }, signer));
      }),
      { numRuns: 150 },
    );
  });

  it('refuses a correctly signed job whose repository path is relative, holds NUL or runs past 4096 characters', () => {
    const badPath = fc.oneof(fc.constantFrom('', 'wt/e0001', './wt', '../wt', '/wt/\0x', `/${'a'.repeat(4096)}`, 'C:\\wt'), awkwardText(3).filter((p) => !p.startsWith('/')));
    fc.assert(
      fc.property(key, stage, request, badPath, (k, s, r, path) => {
        const payload = { v: 3, stage: s, request: { ...r, source: { kind: 'local', gitDir: path } }, session: 'session-1' };
        expectRefused(readJob({ ...payload, sig: sign(k, 'job', payload) }, k));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses any value at all that is not a signed job, quickly and with a short reason', () => {
    const anything = fc.oneof(
      fc.anything({ withBoxedValues: true, withNullPrototype: true, withSparseArray: true, withDate: true, withMap: true, withSet: true, withTypedArray: true, withObjectString: true }),
      fc.jsonValue(),
      hugeText(1_000_000),
      fc.record({ v: fc.oneof(fc.constant(2), fc.jsonValue()), stage: fc.oneof(stage, fc.jsonValue()), request: fc.oneof(request, fc.jsonValue()), session: fc.oneof(fc.string(), fc.jsonValue()), sig: fc.oneof(fc.stringMatching(/^[0-9a-f]{64}$/), fc.jsonValue()) }, { requiredKeys: [] }),
    );
    fc.assert(
      fc.property(anything, key, (value, k) => {
        expectRefused(within(1_000, () => readJob(value, k)));
      }),
      { numRuns: 400 },
    );
  });
});

const result: fc.Arbitrary<StageResult> = fc.record({
  outcomes: fc.array(
    fc.record({ stage, name: text, status: fc.constantFrom('ok', 'failed', 'timeout', 'crash', 'skipped'), exitCode: fc.option(fc.integer(), { nil: undefined }), durationS: fc.double({ min: 0, max: 1e6, noNaN: true }), reason: text }),
    { minLength: 1, maxLength: 3 },
  ),
  failureTail: fc.option(text, { nil: undefined }),
});

describe('readReply', () => {
  const reply = fc.tuple(job, fc.string({ minLength: 1, maxLength: 60 }), result).map(([{ key, job }, jobId, stageResult]) => ({ key, job, jobId, stageResult, reply: signReply(key, jobId, job, stageResult) }));

  it("accepts a worker's signed reply for its very job, before and after the JSON trip", () => {
    fc.assert(
      fc.property(reply, ({ key, job, jobId, reply }) => {
        expect(readReply(reply, jobId, job, key)).toMatchObject({ ok: true });
        expect(readReply(viaRedis(reply), jobId, job, key)).toEqual({ ok: true, value: viaRedis(reply).result });
      }),
      { numRuns: 150 },
    );
  });

  it('refuses a reply moved to another job id or another job, or edited anywhere', () => {
    fc.assert(
      fc.property(reply, fc.string({ maxLength: 60 }), job, fc.nat(), edit, ({ key, job: own, jobId, reply: signed }, otherId, { job: other }, at, change) => {
        const data = viaRedis(signed);
        if (otherId !== jobId) expect(readReply(data, otherId, own, key).ok).toBe(false);
        if (other.sig !== own.sig) expect(readReply(data, jobId, other, key).ok).toBe(false);
        const all = places(data);
        const mutated = viaRedis(edited(data, all[at % all.length]!, change));
        fc.pre(!same(mutated, data));
        const checked = within(1_000, () => readReply(mutated, jobId, own, key));
        expect(checked.ok).toBe(false);
      }),
      { numRuns: 400 },
    );
  });

  it('refuses any value at all that is not a signed reply', () => {
    fc.assert(
      fc.property(fc.oneof(fc.anything({ withNullPrototype: true, withBoxedValues: true }), fc.jsonValue(), fc.record({ v: fc.constant(2), result, sig: fc.stringMatching(/^[0-9a-f]{64}$/) })), job, (value, { key, job }) => {
        expect(within(1_000, () => readReply(value, 'job-1', job, key)).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
