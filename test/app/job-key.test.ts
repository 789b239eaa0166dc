/** Where the key that signs jobs comes from, and who must be given one. */
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/domain/errors.js';
import { resolveJobKey } from '../../src/app/job-key.js';

describe('resolveJobKey', () => {
  it('takes RATCHET_KEY as given, on a shared or a private Redis', () => {
    const env = { RATCHET_KEY: ' 0123456789abcdef0123456789abcdef ' };
    for (const shared of [true, false]) {
      expect(resolveJobKey({ shared, who: 'a run', env }).toString('utf8')).toBe('0123456789abcdef0123456789abcdef');
    }
  });

  it('makes up a random key for a private Redis without RATCHET_KEY, new each time', () => {
    const first = resolveJobKey({ shared: false, who: 'a run', env: {} });
    const second = resolveJobKey({ shared: false, who: 'a run', env: { RATCHET_KEY: '' } });

    expect(first).toHaveLength(32);
    expect(first.equals(second)).toBe(false);
  });

  it('refuses a shared Redis without RATCHET_KEY, naming the fix', () => {
    const error: unknown = (() => {
      try {
        return resolveJobKey({ shared: true, who: 'ratchet worker', env: {} });
      } catch (e) {
        return e;
      }
    })();

    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).message).toContain('ratchet worker needs RATCHET_KEY');
    expect((error as UserError).hint).toContain('export RATCHET_KEY=$(openssl rand -hex 32)');
    expect((error as UserError).hint).toContain('every machine');
  });

  it('refuses a key too short to resist guessing', () => {
    expect(() => resolveJobKey({ shared: true, who: 'a run', env: { RATCHET_KEY: 'secret' } })).toThrow(/at least 32/);
  });
});
