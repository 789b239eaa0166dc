// The correctness gate of tiny-lm (protected): a few training steps must give finite losses,
// the model must return a probability distribution for any context length, and a seed must
// reproduce its run. Fast: it never trains for the full budget.
import assert from 'node:assert/strict';
import test from 'node:test';
import { EVAL_CONTEXT, loadData } from './prepare.js';
import { train } from './train.js';

const data = loadData();

test('the data splits into a training part and a held-out part over one vocabulary', () => {
  assert.ok(data.vocabSize > 40 && data.vocabSize < 200, `vocabulary of ${data.vocabSize} characters`);
  assert.ok(data.split > 0.8 * data.ids.length && data.split < data.ids.length);
  assert.ok(data.ids.every((id) => id >= 0 && id < data.vocabSize));
});

test('a few training steps give finite losses, reproducibly for a seed', () => {
  const a = train(data, { steps: 5, seed: 7 });
  const b = train(data, { steps: 5, seed: 7 });
  assert.equal(a.losses.length, 5);
  assert.ok(a.losses.every(Number.isFinite), `losses ${a.losses}`);
  assert.deepEqual(a.losses, b.losses);
});

test('predict returns a probability distribution for contexts of any length', () => {
  const { predict } = train(data, { steps: 3, seed: 1 });
  for (const length of [0, 1, 2, 5, EVAL_CONTEXT]) {
    const context = data.ids.slice(data.split - length, data.split);
    const probs = predict(context);
    assert.equal(probs.length, data.vocabSize);
    assert.ok(Array.from(probs).every((p) => p >= 0 && Number.isFinite(p)));
    assert.ok(Math.abs(probs.reduce((s, p) => s + p, 0) - 1) < 1e-9);
  }
});
