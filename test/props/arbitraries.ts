/**
 * Generators of hostile input shared by the property tests: text a user, a bench or a candidate
 * could hand ratchet, biased towards what breaks parsers (NUL, CRLF, BOM, lone surrogates,
 * combining marks, YAML indicators, numbers that overflow, prototype keys) and towards size.
 */
import fc from 'fast-check';
import { expect } from 'vitest';

// The same cases on every run, so a red build means a change broke something, not that a new
// seed found an old bug; FC_SEED=<n> (any other seed) explores further.
fc.configureGlobal({ seed: process.env['FC_SEED'] === undefined ? 20_261_202 : Number(process.env['FC_SEED']) });

/** Pieces that have broken parsers somewhere; mixed into random text. */
export const AWKWARD = [
  '\0', '\r\n', '\r', '\n', '\t', '\v', '\f', '\uFEFF', '\u2028', '\u2029', '\u0085', '\u00a0',
  'é', 'e\u0301', '😀', '\uD800', '\uDFFF', 'İ', 'ß', '\u202E',
  '../', '..', '/', '\\', '.git', '~', '$HOME', '%s', '%n',
  'null', 'true', 'no', '.nan', '.inf', '-.inf', '1e309', '-1e309', '-0', 'NaN', 'Infinity', '0x1F', '0o17', '1_000',
  '9'.repeat(400), '__proto__', 'constructor', 'toString', 'hasOwnProperty',
  ':', ': ', '- ', '? ', '#', '&a ', '*a', '!!binary ', '!!js/function ', '!tag ', '<<: ', '{', '}', '[', ']', ',', '"', "'",
  '|', '>', '---', '...', '%YAML 1.1', '@', '`', ' ', '    ',
  'METRIC ', '=', '{"x": 1}', 'x: 1', 'objective: ', 'bench:', '  run: ',
] as const;

export const awkwardPiece = fc.constantFrom(...AWKWARD);

/** Random text: unicode, raw UTF-16 (lone surrogates) and the awkward pieces, in any mix. */
export function awkwardText(maxParts = 40): fc.Arbitrary<string> {
  const part = fc.oneof(
    { weight: 3, arbitrary: awkwardPiece },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  );
  return fc.array(part, { maxLength: maxParts }).map((parts) => parts.join(''));
}

/** One piece repeated to a large size (a tenth of `maxLength` to all of it): long lines, long runs of spaces, deep brackets. */
export function hugeText(maxLength = 1_000_000): fc.Arbitrary<string> {
  return fc
    .tuple(fc.oneof(awkwardPiece, fc.string({ minLength: 1, maxLength: 6 })), fc.integer({ min: Math.floor(maxLength / 10), max: maxLength }))
    .map(([unit, length]) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length));
}

/** Lines joined by any mix of the line endings benches and editors write. */
export function joinLines(lines: readonly string[], endings: readonly string[]): string {
  return lines.map((line, i) => `${line}${endings[i % Math.max(endings.length, 1)] ?? '\n'}`).join('');
}

export const lineEnding = fc.constantFrom('\n', '\r\n', '\r');

/** Numbers that are not what they look like: overflow, NaN, -0, beyond safe integers. */
export const awkwardNumber = fc.oneof(
  fc.constantFrom(Number.NaN, Infinity, -Infinity, -0, 0, 1e308, -1e308, Number.MAX_VALUE, Number.MIN_VALUE, 2 ** 53, 2 ** 31, 2 ** 31 - 1, -1, 0.5),
  fc.double(),
  fc.integer(),
);

/** Strings that read as numbers, some of which overflow or are not numbers at all. */
export const numberText = fc.oneof(
  fc.constantFrom('1e309', '-1e309', '1e999', '1e-999', '9'.repeat(400), '0.' + '0'.repeat(400) + '1', '-0', '+0', 'NaN', 'nan', 'inf', 'Infinity', '0x10', '1_000', '1,5', '.5', '5.', ' 1 '),
  fc
    .tuple(fc.oneof(fc.nat().map(String), fc.constant('9'.repeat(320))), fc.constantFrom('', '%', 'e308', 'e309', 'e-400', '.5', ' %', 'ms', 's', 'd', 'MB', 'GiB'))
    .map(([digits, suffix]) => `${digits}${suffix}`),
);

/** Throws when `run` takes longer than `ms`: a bound against hangs and quadratic blow-ups, not a benchmark. */
export function within<T>(ms: number, run: () => T): T {
  const started = performance.now();
  const value = run();
  expect(performance.now() - started, `took longer than ${ms} ms`).toBeLessThan(ms);
  return value;
}

export async function withinAsync<T>(ms: number, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const value = await run();
  expect(performance.now() - started, `took longer than ${ms} ms`).toBeLessThan(ms);
  return value;
}

/** Every number anywhere in `value` (for "a valid spec holds only finite numbers"). */
export function numbersIn(value: unknown, path = ''): { path: string; value: number }[] {
  if (typeof value === 'number') return [{ path, value }];
  if (Array.isArray(value)) return value.flatMap((item, i) => numbersIn(item, `${path}[${i}]`));
  if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([k, v]) => numbersIn(v, path === '' ? k : `${path}.${k}`));
  return [];
}
