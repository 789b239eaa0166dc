import { describe, expect, it } from 'vitest';
import { bytesRedactor, createRedactor, secretsOf } from '../../src/util/redact.js';

describe('secrets', () => {
  it('are the long values of variables named like keys, tokens, secrets and passwords', () => {
    const env = {
      ANTHROPIC_API_KEY: 'sk-ant-0123456789',
      GITHUB_TOKEN: 'ghp_abcdefghijkl',
      DB_PASSWORD: 'hunter2hunter2',
      RATCHET_KEY: 'k'.repeat(40),
      SHORT_TOKEN: 'abc',
      PATH: '/usr/bin:/bin',
      SSH_AUTH_SOCK: '/tmp/ssh-agent.sock',
    };
    expect(secretsOf(env).map((s) => s.name).sort()).toEqual(['ANTHROPIC_API_KEY', 'DB_PASSWORD', 'GITHUB_TOKEN', 'RATCHET_KEY']);
  });

  it('are replaced wherever they appear, a longer one before one it contains', () => {
    const redactor = createRedactor([
      { name: 'A', value: 'secret-1234' },
      { name: 'B', value: 'secret-1234-and-more' },
    ]);
    expect(redactor.redact('x secret-1234-and-more y secret-1234 z')).toBe('x [redacted B] y [redacted A] z');
  });

  it('are found in a stream even when a chunk boundary cuts one, without holding back other text', () => {
    const stream = createRedactor([{ name: 'K', value: 'sk-ant-abcdef' }]).stream();
    const out = [stream.push('started\nkey=sk-a'), stream.push('nt-abc'), stream.push('def end\n'), stream.end()];
    expect(out[0]).toBe('started\nkey=');
    expect(out.join('')).toBe('started\nkey=[redacted K] end\n');
  });

  it('are found in raw bytes that are not UTF-8', () => {
    const bytes = bytesRedactor(createRedactor([{ name: 'K', value: 'clé-secrète-123' }]));
    const raw = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('clé-secrète-123', 'utf8')]);
    expect(Buffer.from(bytes.redact(raw.toString('latin1')), 'latin1')).toEqual(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('[redacted K]')]));
  });
});
