// Data, budget and evaluation of tiny-lm. This file is protected: train.js may change the model
// and the training, never how the text is split, how much it may train, or how bpb is computed.
import { readFileSync } from 'node:fs';

/**
 * Training examples (characters predicted) per run: the fixed compute budget. About a second:
 * every candidate is measured over paired seeds (the result moves with the seed), so a run must be cheap.
 */
export const TOKEN_BUDGET = 12_800;
/** The longest context the evaluation hands the model (it may use fewer characters). */
export const EVAL_CONTEXT = 64;
/** The last part of the text, never trained on. */
export const VAL_FRACTION = 0.1;

const TEXT_URL = new URL('./data/text.txt', import.meta.url);

/** The text as character ids, split into a training part and a held-out part. */
export function loadData() {
  const text = readFileSync(TEXT_URL, 'utf8');
  const chars = [...new Set(text)].sort();
  const index = new Map(chars.map((c, i) => [c, i]));
  const ids = Int32Array.from(text, (c) => index.get(c));
  const split = Math.floor(ids.length * (1 - VAL_FRACTION));
  return {
    vocab: chars,
    vocabSize: chars.length,
    /** Every character of the text; training uses [0, split), evaluation [split, end). */
    ids,
    split,
    decode: (seq) => Array.from(seq, (i) => chars[i]).join(''),
  };
}

/**
 * Optimiser steps for a batch size: the token budget divided by the batch. TINY_LM_STEPS
 * overrides it for ratchet's own tests only, which need a run of a second.
 */
export function stepBudget(batchSize) {
  const override = process.env.TINY_LM_STEPS;
  if (override !== undefined && override !== '') return Math.max(1, Number.parseInt(override, 10));
  return Math.max(1, Math.floor(TOKEN_BUDGET / batchSize));
}

/**
 * The training seed: RATCHET_SEED when ratchet sets one (each pair of an A/B bench shares one,
 * so seed luck cancels within the pair), else the given default.
 */
export function runSeed(fallback) {
  const given = process.env.RATCHET_SEED;
  if (given === undefined || given === '') return fallback;
  const seed = Number.parseInt(given, 10);
  return Number.isFinite(seed) ? seed : fallback;
}

/**
 * Bits per byte of the held-out text: the model's -log2 p(next character | preceding ones),
 * summed and divided by the UTF-8 size of the held-out text. `predict(context)` gets a copy of
 * at most EVAL_CONTEXT preceding ids (the last is the nearest) and must return a probability
 * distribution over the vocabulary.
 */
export function evaluateBpb(predict, data) {
  const { ids, split, vocabSize, vocab } = data;
  let bits = 0;
  let bytes = 0;
  for (let t = split; t < ids.length; t++) {
    const probs = predict(ids.slice(Math.max(0, t - EVAL_CONTEXT), t));
    if (probs.length !== vocabSize) throw new Error(`predict returned ${probs.length} probabilities, expected ${vocabSize}`);
    let sum = 0;
    for (let v = 0; v < vocabSize; v++) {
      const p = probs[v];
      if (!(p >= 0) || !Number.isFinite(p)) throw new Error(`predict returned a probability of ${p} at position ${t}`);
      sum += p;
    }
    if (Math.abs(sum - 1) > 1e-6) throw new Error(`predict's probabilities sum to ${sum} at position ${t}, not 1`);
    const p = probs[ids[t]];
    if (!(p > 0)) throw new Error(`predict gave the actual next character probability 0 at position ${t}`);
    bits -= Math.log2(p);
    bytes += Buffer.byteLength(vocab[ids[t]], 'utf8');
  }
  return bits / bytes;
}

/** A seeded generator of uniform numbers in [0, 1) (sfc32): the same sequence on every machine. */
export function makeRng(seed) {
  let a = 0x9e3779b9;
  let b = 0x243f6a88;
  let c = 0xb7e15162;
  let d = seed >>> 0;
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0;
    const t = (a + b) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    d = (d + 1) | 0;
    const r = (t + d) | 0;
    c = (c + r) | 0;
    return (r >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) next();
  return next;
}

/** The summary autoresearch prints, plus ratchet's METRIC line. */
export function report(values) {
  const lines = ['---'];
  for (const [key, value] of Object.entries(values)) {
    const shown = typeof value === 'number' && !Number.isInteger(value) ? value.toFixed(key === 'val_bpb' ? 6 : 2) : String(value);
    lines.push(`${`${key}:`.padEnd(18)}${shown}`);
  }
  lines.push(`METRIC val_bpb=${values.val_bpb.toFixed(6)}`);
  process.stdout.write(`${lines.join('\n')}\n`);
}
