/**
 * Secrets out of everything ratchet writes: the values of ratchet's own secret variables (the
 * API key, anything named like a key, token, secret or password) are replaced wherever they
 * appear in logs, events, result files and what an agent is shown. A candidate that finds a key
 * somewhere (a file, a crafted error message) still cannot get it into the record.
 */

/** Variable names whose values are secrets. */
const SECRET_NAME = /(KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|AUTH|COOKIE|SESSION|PRIVATE)/i;
/** Names that match the pattern above but hold no secret. */
const NOT_SECRET = new Set(['SSH_AUTH_SOCK', 'XDG_SESSION_ID', 'XDG_SESSION_TYPE', 'XDG_SESSION_CLASS', 'XDG_SESSION_DESKTOP', 'DESKTOP_SESSION', 'GPG_AGENT_INFO']);
/** Shorter values would redact ordinary words (`true`, `1`, a port). */
const MIN_SECRET_LENGTH = 8;

export interface Secret {
  name: string;
  value: string;
}

/** The secrets of an environment: named like one and long enough to be one. */
export function secretsOf(env: NodeJS.ProcessEnv): Secret[] {
  const secrets: Secret[] = [];
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined || value.length < MIN_SECRET_LENGTH || NOT_SECRET.has(name) || !SECRET_NAME.test(name)) continue;
    secrets.push({ name, value });
  }
  return secrets;
}

export interface Redactor {
  /** `text` with every secret value replaced by `[redacted NAME]`. */
  redact(text: string): string;
  /**
   * A redactor for a stream cut into chunks: a secret split across two chunks is still found.
   * `push` returns what is safe to write now; `end` the rest.
   */
  stream(): { push(chunk: string): string; end(): string };
  /** Longest secret value, in characters (0 when there is none). */
  readonly longest: number;
  readonly secrets: readonly Secret[];
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

export function createRedactor(secrets: readonly Secret[]): Redactor {
  // Longest first, so a secret that contains another is replaced whole.
  const unique = [...new Map(secrets.filter((s) => s.value.length >= MIN_SECRET_LENGTH).map((s) => [s.value, s])).values()].sort(
    (a, b) => b.value.length - a.value.length,
  );
  const longest = unique[0]?.value.length ?? 0;
  if (unique.length === 0) {
    return { redact: (text) => text, stream: () => ({ push: (chunk) => chunk, end: () => '' }), longest, secrets: [] };
  }
  const byValue = new Map(unique.map((s) => [s.value, s.name]));
  const pattern = new RegExp(unique.map((s) => escape(s.value)).join('|'), 'g');
  const redact = (text: string): string => text.replace(pattern, (value) => `[redacted ${byValue.get(value) ?? 'secret'}]`);
  return {
    redact,
    longest,
    secrets: unique,
    stream() {
      // Hold back only a tail that could be the start of a secret, so live logs do not lag.
      let pending = '';
      const heldBack = (text: string): number => {
        for (let k = Math.min(text.length, longest - 1); k > 0; k--) {
          const tail = text.slice(text.length - k);
          if (unique.some((secret) => secret.value.startsWith(tail))) return k;
        }
        return 0;
      };
      return {
        push(chunk) {
          const text = redact(pending + chunk);
          const keep = heldBack(text);
          pending = text.slice(text.length - keep);
          return text.slice(0, text.length - keep);
        },
        end() {
          const rest = redact(pending);
          pending = '';
          return rest;
        },
      };
    },
  };
}

/** A redactor that changes nothing: for tests and callers with no secrets. */
export const NO_REDACTION: Redactor = createRedactor([]);

/**
 * The same secrets matched in raw bytes read as latin1 (one character per byte), for output that
 * need not be UTF-8: decode chunks with `latin1`, redact, encode back with `latin1`.
 */
export function bytesRedactor(redactor: Redactor): Redactor {
  return createRedactor(redactor.secrets.map((s) => ({ name: s.name, value: Buffer.from(s.value, 'utf8').toString('latin1') })));
}
