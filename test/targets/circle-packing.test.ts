import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/gitdir.js';
import { metricOf, runNode, TARGETS, type NodeRun } from './node-run.js';

const dir = join(TARGETS, 'circle-packing');
let tmp: { path: string; cleanup: () => Promise<void> };
beforeAll(async () => {
  tmp = await tempDir('circle-packing-');
});
afterAll(() => tmp.cleanup());

/** Evaluate a program that starts from the seed's grid (`circles`), changed by `body`. */
function evaluate(name: string, body: string, print = 'console.log(JSON.stringify(circles));'): NodeRun {
  const program = join(tmp.path, `${name}.js`);
  const seed = 'const circles = []; for (let i = 0; i < 26; i++) circles.push([((i % 6) + 0.5) / 6, (Math.floor(i / 6) + 0.5) / 5, 0.037]);';
  writeFileSync(program, `${seed}\n${body}\n${print}\n`);
  return runNode(dir, ['evaluate.js', program]);
}

function expectRefused(run: NodeRun, reason: RegExp): void {
  expect(run.status).toBe(1);
  expect(run.stdout).toMatch(reason);
  expect(run.stdout).not.toMatch(/^METRIC/m);
}

describe('circle-packing target', () => {
  it('scores the seed program at about 0.96', () => {
    const run = runNode(dir, ['evaluate.js']);
    expect(run.status, run.stdout).toBe(0);
    expect(metricOf(run.stdout, 'sum_radii')).toBeCloseTo(0.962, 6);
  });

  it('accepts circles that touch, and sums their radii', () => {
    const run = evaluate('touching', 'for (const c of circles) c[2] = Math.min(1 / 12, 1 / 10);');
    expect(run.status, run.stdout).toBe(0);
    expect(metricOf(run.stdout, 'sum_radii')).toBeCloseTo(26 / 12, 9);
  });

  it('ignores a claimed sum and recomputes it from the circles', () => {
    const run = evaluate('forged', '', 'console.log("METRIC sum_radii=2.7"); console.log(JSON.stringify({ circles, sum_radii: 2.7 }));');
    expect(run.status, run.stdout).toBe(0);
    expect(run.stdout.match(/^METRIC/gm)).toHaveLength(1);
    expect(metricOf(run.stdout, 'sum_radii')).toBeCloseTo(0.962, 6);
  });

  it('refuses NaN and infinite values', () => {
    expectRefused(evaluate('nan', 'circles[3][0] = NaN;'), /circle 3 has a value that is not a finite number/);
    expectRefused(evaluate('nan-raw', '', 'console.log(JSON.stringify(circles).replace("0.037", "NaN"));'), /not JSON/);
    expectRefused(evaluate('infinite', '', 'console.log(JSON.stringify(circles).replace("0.037", "1e999"));'), /not a finite number/);
  });

  it('refuses overlapping circles', () => {
    expectRefused(evaluate('overlap', 'circles[1][0] = circles[0][0] + 0.07;'), /circles 0 and 1 overlap by/);
    // Beyond the tolerance of 1e-12, however slightly.
    expectRefused(evaluate('overlap-slight', 'for (const c of circles) c[2] = 1 / 12; circles[1][0] -= 1e-9;'), /overlap/);
  });

  it('refuses a circle outside the unit square', () => {
    expectRefused(evaluate('outside', 'circles[5] = [0.99, 0.5, 0.02];'), /circle 5 .* is not inside the unit square/);
    expectRefused(evaluate('outside-slight', 'circles[0] = [0.037 - 1e-9, 0.1, 0.037];'), /not inside the unit square/);
  });

  it('refuses a wrong number of circles, a wrong shape and a negative radius', () => {
    expectRefused(evaluate('count', 'circles.pop();'), /expected 26 circles, got 25/);
    expectRefused(evaluate('shape', 'circles[2] = [0.5, 0.5];'), /circle 2 is not an \[x, y, r\] triple/);
    expectRefused(evaluate('negative', 'circles[7][2] = -0.01;'), /circle 7 has a negative radius/);
    expectRefused(evaluate('string', 'circles[7][2] = "0.5";'), /not a finite number/);
  });

  it('refuses a program that fails, without letting its output through', () => {
    const run = evaluate('fails', 'console.error("METRIC sum_radii=9"); process.exit(3);');
    expectRefused(run, /the program exited with 3/);
  });
});
