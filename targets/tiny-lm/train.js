// tiny-lm: a character-level language model trained on a CPU in a few seconds, in plain
// JavaScript with hand-written backprop. This is the file to improve: the hyperparameters, the
// model, the optimiser. prepare.js (protected) owns the data, the budget and the evaluation.
//
// The contract with prepare.js and test.js: `train(data, { steps, seed })` returns
// `{ predict, losses }`, where `predict(context)` maps the preceding character ids (the last is
// the nearest) to a probability distribution over the vocabulary.
import { pathToFileURL } from 'node:url';
import { evaluateBpb, loadData, makeRng, report, runSeed, stepBudget } from './prepare.js';

// ---- Hyperparameters (the tune agent rewrites these numbers) -----------------------------
export const LEARNING_RATE = 1e-3; // peak Adam step size, reached after the warmup
export const BATCH_SIZE = 32; // examples per optimiser step; steps = token budget / batch
export const CONTEXT = 3; // characters the model looks back
export const EMBED_DIM = 8; // size of a character's embedding
export const HIDDEN = 64; // width of the hidden layer
export const WARMUP_STEPS = 300; // linear warmup, then cosine decay to zero
const SEED = 1337;

// ---- Model: embeddings of the last CONTEXT characters → tanh layer → softmax ---------------
// All parameters live in one flat array (and so do their gradients and Adam's moments), with
// each tensor a view into it, so the optimiser is one loop.
function createModel(vocabSize, rng) {
  const IN = CONTEXT * EMBED_DIM;
  const shapes = { emb: vocabSize * EMBED_DIM, w1: IN * HIDDEN, b1: HIDDEN, w2: HIDDEN * vocabSize, b2: vocabSize };
  const size = Object.values(shapes).reduce((a, b) => a + b, 0);
  const params = new Float64Array(size);
  const grads = new Float64Array(size);
  const views = (buffer) => {
    const out = {};
    let offset = 0;
    for (const [name, n] of Object.entries(shapes)) {
      out[name] = buffer.subarray(offset, offset + n);
      offset += n;
    }
    return out;
  };
  // Hoisted into locals: the inner loops then index typed arrays directly.
  const { emb, w1, b1, w2, b2 } = views(params);
  const { emb: gEmb, w1: gW1, b1: gB1, w2: gW2, b2: gB2 } = views(grads);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  for (let i = 0; i < emb.length; i++) emb[i] = normal();
  for (let i = 0; i < w1.length; i++) w1[i] = normal() / Math.sqrt(IN);
  for (let i = 0; i < w2.length; i++) w2[i] = normal() / Math.sqrt(HIDDEN) * 0.1;

  // Scratch buffers of one example, reused: the loops below allocate nothing.
  const x = new Float64Array(IN);
  const h = new Float64Array(HIDDEN);
  const logits = new Float64Array(vocabSize);
  const dpre = new Float64Array(HIDDEN);

  /** Forward pass for the characters before `end` in `ids`; leaves probabilities in `logits`. */
  function forward(ids, end) {
    for (let c = 0; c < CONTEXT; c++) {
      const t = end - CONTEXT + c;
      // Before the start of the text there is nothing: a zero embedding.
      if (t < 0) x.fill(0, c * EMBED_DIM, (c + 1) * EMBED_DIM);
      else x.set(emb.subarray(ids[t] * EMBED_DIM, (ids[t] + 1) * EMBED_DIM), c * EMBED_DIM);
    }
    h.set(b1);
    for (let i = 0; i < IN; i++) {
      const xi = x[i];
      const row = i * HIDDEN;
      for (let j = 0; j < HIDDEN; j++) h[j] += xi * w1[row + j];
    }
    for (let j = 0; j < HIDDEN; j++) h[j] = Math.tanh(h[j]);
    logits.set(b2);
    for (let j = 0; j < HIDDEN; j++) {
      const hj = h[j];
      const row = j * vocabSize;
      for (let v = 0; v < vocabSize; v++) logits[v] += hj * w2[row + v];
    }
    let max = -Infinity;
    for (let v = 0; v < vocabSize; v++) if (logits[v] > max) max = logits[v];
    let sum = 0;
    for (let v = 0; v < vocabSize; v++) sum += (logits[v] = Math.exp(logits[v] - max));
    for (let v = 0; v < vocabSize; v++) logits[v] /= sum;
  }

  /** Adds the gradient of this example's loss, times `scale`, to `grads`; returns the loss. */
  function backward(ids, end, target, scale) {
    forward(ids, end);
    const loss = -Math.log(logits[target]);
    const dl = logits; // softmax minus one-hot, scaled, in place
    dl[target] -= 1;
    for (let v = 0; v < vocabSize; v++) {
      dl[v] *= scale;
      gB2[v] += dl[v];
    }
    for (let j = 0; j < HIDDEN; j++) {
      const hj = h[j];
      const row = j * vocabSize;
      let dh = 0;
      for (let v = 0; v < vocabSize; v++) {
        gW2[row + v] += hj * dl[v];
        dh += w2[row + v] * dl[v];
      }
      dpre[j] = dh * (1 - hj * hj);
      gB1[j] += dpre[j];
    }
    for (let i = 0; i < IN; i++) {
      const xi = x[i];
      const row = i * HIDDEN;
      let dx = 0;
      for (let j = 0; j < HIDDEN; j++) {
        gW1[row + j] += xi * dpre[j];
        dx += w1[row + j] * dpre[j];
      }
      const t = end - CONTEXT + Math.floor(i / EMBED_DIM);
      if (t >= 0) gEmb[ids[t] * EMBED_DIM + (i % EMBED_DIM)] += dx;
    }
    return loss;
  }

  function predict(context) {
    forward(context, context.length);
    return Float64Array.from(logits);
  }

  return { params, grads, backward, predict };
}

// ---- Optimiser: Adam with linear warmup and cosine decay -----------------------------------
function createAdam(params, grads, { beta1 = 0.9, beta2 = 0.99, eps = 1e-8 } = {}) {
  const m = new Float64Array(params.length);
  const v = new Float64Array(params.length);
  let t = 0;
  return (lr) => {
    t++;
    const c1 = 1 - beta1 ** t;
    const c2 = 1 - beta2 ** t;
    for (let i = 0; i < params.length; i++) {
      const gi = grads[i];
      m[i] = beta1 * m[i] + (1 - beta1) * gi;
      v[i] = beta2 * v[i] + (1 - beta2) * gi * gi;
      params[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
      grads[i] = 0;
    }
  };
}

function learningRate(step, steps) {
  if (step < WARMUP_STEPS) return (LEARNING_RATE * (step + 1)) / WARMUP_STEPS;
  const progress = (step - WARMUP_STEPS) / Math.max(1, steps - WARMUP_STEPS);
  return LEARNING_RATE * 0.5 * (1 + Math.cos(Math.PI * Math.min(1, progress)));
}

// ---- Training --------------------------------------------------------------------------------
export function train(data, { steps, seed = SEED }) {
  const rng = makeRng(seed);
  const model = createModel(data.vocabSize, rng);
  const adam = createAdam(model.params, model.grads);
  const losses = [];
  for (let step = 0; step < steps; step++) {
    let loss = 0;
    for (let b = 0; b < BATCH_SIZE; b++) {
      // A random position of the training part; its target is the character there.
      const t = 1 + Math.floor(rng() * (data.split - 1));
      loss += model.backward(data.ids, t, data.ids[t], 1 / BATCH_SIZE);
    }
    adam(learningRate(step, steps));
    losses.push(loss / BATCH_SIZE);
  }
  return { predict: model.predict, losses, numParams: model.params.length };
}

function main() {
  const started = performance.now();
  const data = loadData();
  const steps = stepBudget(BATCH_SIZE);
  const { predict, losses, numParams } = train(data, { steps, seed: runSeed(SEED) });
  const trained = performance.now();
  const tail = losses.slice(-Math.min(100, losses.length));
  report({
    val_bpb: evaluateBpb(predict, data),
    train_loss: tail.reduce((a, b) => a + b, 0) / tail.length,
    training_seconds: (trained - started) / 1000,
    total_seconds: (performance.now() - started) / 1000,
    num_steps: steps,
    num_params: numParams,
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) main();
