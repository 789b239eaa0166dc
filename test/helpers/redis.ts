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
