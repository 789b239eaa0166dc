// The evaluator of circle-packing (protected). It runs the program (pack.js, or the path given
// as the first argument) in a child process, takes the last line it printed as a JSON array of
// 26 [x, y, r] triples (or an object with such a `circles` array), checks the packing and prints
// the sum of radii it computed itself: `METRIC sum_radii=…`. Anything the program claims about
// its score is ignored. An invalid packing exits 1 with the reason and prints no METRIC line.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';

const N = 26;
/** Slack for rounding only: an overlap or an overhang larger than this is a real one. */
const TOLERANCE = 1e-12;
const TIMEOUT_MS = 280_000;

const here = dirname(fileURLToPath(import.meta.url));
const program = resolve(process.argv[2] ?? resolve(here, 'pack.js'));

function reject(reason, detail = '') {
  process.stdout.write(`invalid packing: ${reason}\n`);
  // The program's own output, defused: it must not be able to print a METRIC line through us.
  if (detail.trim() !== '') process.stdout.write(`${detail.replace(/METRIC/gi, 'metric').split('\n').slice(-20).map((l) => `  | ${l}`).join('\n')}\n`);
  process.exit(1);
}

const run = spawnSync(process.execPath, [program], { encoding: 'utf8', timeout: TIMEOUT_MS, maxBuffer: 64 * 1024 * 1024 });
if (run.error !== undefined) reject(`could not run ${program}: ${run.error.message}`);
if (run.status !== 0) reject(`the program exited with ${run.status ?? run.signal}`, run.stderr);

const last = run.stdout.trim().split('\n').pop() ?? '';
let parsed;
try {
  parsed = JSON.parse(last);
} catch {
  reject('the last line of the output is not JSON', run.stdout);
}
const circles = Array.isArray(parsed) ? parsed : parsed?.circles;
if (!Array.isArray(circles)) reject('expected a JSON array of [x, y, r] triples (or {"circles": [...]})');
if (circles.length !== N) reject(`expected ${N} circles, got ${circles.length}`);
circles.forEach((c, i) => {
  if (!Array.isArray(c) || c.length !== 3) reject(`circle ${i} is not an [x, y, r] triple: ${JSON.stringify(c)}`);
  if (!c.every((v) => typeof v === 'number' && Number.isFinite(v))) reject(`circle ${i} has a value that is not a finite number: ${JSON.stringify(c)}`);
  const [x, y, r] = c;
  if (r < 0) reject(`circle ${i} has a negative radius ${r}`);
  if (x - r < -TOLERANCE || x + r > 1 + TOLERANCE || y - r < -TOLERANCE || y + r > 1 + TOLERANCE) {
    reject(`circle ${i} (${x}, ${y}, r ${r}) is not inside the unit square`);
  }
});
let minGap = Infinity;
for (let i = 0; i < N; i++) {
  for (let j = i + 1; j < N; j++) {
    const [xi, yi, ri] = circles[i];
    const [xj, yj, rj] = circles[j];
    const gap = Math.hypot(xi - xj, yi - yj) - ri - rj;
    if (gap < -TOLERANCE) reject(`circles ${i} and ${j} overlap by ${-gap}`);
    minGap = Math.min(minGap, gap);
  }
}
const sum = circles.reduce((s, c) => s + c[2], 0);
process.stdout.write(`valid packing of ${N} circles; smallest gap ${minGap.toExponential(3)}\n`);
process.stdout.write(`sum_radii: ${sum.toFixed(10)}\n`);
process.stdout.write(`METRIC sum_radii=${sum.toFixed(10)}\n`);
