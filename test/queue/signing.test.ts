/** Signatures over the JSON form both sides of Redis see. */
import { describe, expect, it } from 'vitest';
import { canonicalJson, sign, verify } from '../../src/queue/signing.js';

const key = Buffer.from('a-signing-key-of-the-tests-0123456789', 'utf8');

describe('canonicalJson', () => {
  it('writes the same text whatever the key order, and drops what JSON drops', () => {
    const a = { b: 1, a: { y: [1, { d: 2, c: undefined }], x: 'é' }, u: undefined };
    const b = { a: { x: 'é', y: [1, { d: 2 }] }, b: 1 };

    expect(canonicalJson(a)).toBe(canonicalJson(b));
    expect(canonicalJson(a)).toBe('{"a":{"x":"é","y":[1,{"d":2}]},"b":1}');
  });

  it('matches a value after the round trip through Redis', () => {
    const value = { n: Number.NaN, list: [undefined, 1], when: new Date(0) };
    expect(canonicalJson(JSON.parse(JSON.stringify(value)))).toBe(canonicalJson(value));
  });
});

describe('sign and verify', () => {
  it('accepts the signature of the same value and refuses any change to it', () => {
    const job = { request: { spec: { bench: { run: 'node bench.js' } } } };
    const signature = sign(key, 'job', job);

    expect(signature).toMatch(/^[0-9a-f]{64}$/);
    expect(verify(key, 'job', structuredClone(job), signature)).toBe(true);
    expect(verify(key, 'job', { request: { spec: { bench: { run: 'node bench.js; curl x' } } } }, signature)).toBe(false);
  });

  it('refuses another key, another part, and signatures that are not 64 hex digits', () => {
    const signature = sign(key, 'job', { a: 1 });

    expect(verify(Buffer.from('another-key-of-the-tests-0123456789', 'utf8'), 'job', { a: 1 }, signature)).toBe(false);
    expect(verify(key, 'result', { a: 1 }, signature)).toBe(false);
    for (const bad of [undefined, 42, '', signature.slice(1), `${signature}00`, signature.toUpperCase(), 'z'.repeat(64)]) {
      expect(verify(key, 'job', { a: 1 }, bad)).toBe(false);
    }
  });
});
