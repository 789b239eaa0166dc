// The benchmark of sort-speed (protected): how many arrays of 2,000 random numbers sort.js
// sorts per second. The number is noisy (JIT, CPU frequency, neighbours), on purpose: the spec
// measures each candidate several times against its parent and keeps only a gain beyond noise.
import { sort } from './sort.js';

const SIZE = 2000;
const ARRAYS = 64;
const WARMUP_MS = 250;
const MEASURE_MS = 1000;

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// The same inputs on every run: integers (with duplicates) and floats.
const random = rng(42);
const inputs = Array.from({ length: ARRAYS }, (_, k) =>
  Array.from({ length: SIZE }, () => (k % 2 === 0 ? Math.floor(random() * 1000) : random() * 1e6)),
);

// A fast wrong answer is not a speed-up: check the output once before timing.
for (const input of inputs.slice(0, 2)) {
  const expected = input.slice().sort((a, b) => a - b);
  const actual = sort(input);
  if (actual.length !== expected.length || actual.some((v, i) => v !== expected[i])) {
    process.stderr.write('bench: sort.js returned a wrong result; not measuring\n');
    process.exit(1);
  }
}

function run(ms) {
  let done = 0;
  let sink = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    const out = sort(inputs[done % ARRAYS]);
    sink += out[0];
    done++;
    now = performance.now();
  }
  return { done, seconds: (now - start) / 1000, sink };
}

run(WARMUP_MS);
const { done, seconds } = run(MEASURE_MS);
process.stdout.write(`sorted ${done} arrays of ${SIZE} in ${seconds.toFixed(3)} s\n`);
process.stdout.write(`METRIC ops_per_sec=${(done / seconds).toFixed(1)}\n`);
