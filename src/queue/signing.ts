/**
 * HMAC-SHA256 signatures of what travels through Redis. A job names the commands a worker runs
 * and a result decides what is kept, so anyone who can write to a shared Redis could otherwise
 * run anything on a worker or fake a keep. Both sides hold the same key (`RATCHET_KEY`); nothing
 * here reads it, so the module is pure apart from the key it is given.
 *
 * What is signed is the value as the other side will read it: BullMQ stores job data and return
 * values as JSON, so the value goes through the same round trip (undefined fields drop out) and
 * is then written with its object keys sorted, the one form both sides can rebuild.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a signature is for: a job's payload or a worker's result, never one for the other. */
export type SignedPart = 'job' | 'result';

const SIGNATURE = /^[0-9a-f]{64}$/;

/** JSON with every object's keys in order, after the JSON round trip Redis imposes. */
export function canonicalJson(value: unknown): string {
  const text = JSON.stringify(value) as string | undefined;
  return sorted(JSON.parse(text ?? 'null'));
}

function sorted(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sorted).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record).sort().map((k) => `${JSON.stringify(k)}:${sorted(record[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function mac(key: Buffer, part: SignedPart, value: unknown): Buffer {
  // The part and a version in the message: a job's signature never passes as a result's.
  return createHmac('sha256', key).update(`ratchet ${part} v1\n`).update(canonicalJson(value)).digest();
}

/** The signature of `value`, as 64 hex digits. */
export function sign(key: Buffer, part: SignedPart, value: unknown): string {
  return mac(key, part, value).toString('hex');
}

/** Whether `signature` is `value`'s; compared in constant time, so timing tells nothing of the key. */
export function verify(key: Buffer, part: SignedPart, value: unknown, signature: unknown): boolean {
  if (typeof signature !== 'string' || !SIGNATURE.test(signature)) return false;
  return timingSafeEqual(Buffer.from(signature, 'hex'), mac(key, part, value));
}
