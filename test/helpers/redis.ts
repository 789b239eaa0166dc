import { randomUUID } from 'node:crypto';
import { inject } from 'vitest';

/** The test run's private redis-server, as a URL ratchet accepts (`redis+unix://` style path). */
export function testRedisSocket(): string {
  return inject('redisSocket');
}

/** ioredis options for the test Redis. */
export function testRedisOptions(): { path: string; maxRetriesPerRequest: null } {
  return { path: testRedisSocket(), maxRetriesPerRequest: null };
}

/** A BullMQ prefix of its own for each test, so tests never see each other's jobs. */
export function uniquePrefix(label = 't'): string {
  return `ratchet-test-${label}-${randomUUID().slice(0, 8)}`;
}

/** The key jobs are signed with in tests: RATCHET_KEY, set for every test in vitest.config.ts. */
export function testJobKey(): Buffer {
  const key = process.env['RATCHET_KEY'];
  if (key === undefined || key === '') throw new Error('RATCHET_KEY is not set; vitest.config.ts sets it for the tests');
  return Buffer.from(key, 'utf8');
}
