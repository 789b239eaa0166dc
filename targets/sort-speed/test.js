// The correctness gate of sort-speed (protected): whatever sort.js becomes, it must sort, be
// stable, handle the edge cases, and leave its input alone.
import assert from 'node:assert/strict';
import test from 'node:test';
import { sort } from './sort.js';

function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const byNumber = (a, b) => a - b;

test('sorts random arrays of every size like the built-in sort', () => {
  const random = rng(1);
  for (const n of [0, 1, 2, 3, 5, 8, 15, 16, 17, 31, 64, 100, 257, 1000, 4096, 10007]) {
    for (const spread of [3, 1000, 1e9]) {
      const input = Array.from({ length: n }, () => Math.floor(random() * spread) - spread / 2);
      assert.deepEqual(sort(input), input.slice().sort(byNumber), `n=${n} spread=${spread}`);
    }
  }
});

test('handles sorted, reversed, constant, sawtooth and float inputs', () => {
  const n = 2000;
  const cases = {
    sorted: Array.from({ length: n }, (_, i) => i),
    reversed: Array.from({ length: n }, (_, i) => n - i),
    constant: Array.from({ length: n }, () => 7),
    sawtooth: Array.from({ length: n }, (_, i) => i % 37),
    floats: Array.from({ length: n }, (_, i) => Math.sin(i) * 1e-3),
    negatives: [-0.5, -1e308, 1e308, 0, -0, 5e-324, -Infinity, Infinity],
  };
  for (const [name, input] of Object.entries(cases)) {
    assert.deepEqual(sort(input), input.slice().sort(byNumber), name);
  }
});

test('is stable and honours the comparator', () => {
  const random = rng(2);
  for (const n of [10, 100, 5000]) {
    const records = Array.from({ length: n }, (_, i) => ({ key: Math.floor(random() * 10), i }));
    const sorted = sort(records, (a, b) => a.key - b.key);
    assert.deepEqual(sorted, records.slice().sort((a, b) => a.key - b.key));
    for (let k = 1; k < n; k++) {
      const [a, b] = [sorted[k - 1], sorted[k]];
      assert.ok(a.key < b.key || (a.key === b.key && a.i < b.i), `unstable at ${k}`);
    }
  }
  const words = ['pear', 'Apple', 'fig', 'apple', 'Fig'];
  const byLower = (a, b) => a.toLowerCase().localeCompare(b.toLowerCase());
  assert.deepEqual(sort(words, byLower), ['Apple', 'apple', 'fig', 'Fig', 'pear']);
  assert.deepEqual(sort([3, 1, 2], (a, b) => b - a), [3, 2, 1]);
});

test('returns a new array and leaves the input untouched', () => {
  const input = [5, 3, 9, 1, 1, 8];
  const copy = input.slice();
  const output = sort(input);
  assert.notEqual(output, input);
  assert.deepEqual(input, copy);
  assert.equal(output.length, input.length);
});
