/** Durations in specs and flags: `90` (seconds), `500ms`, `30s`, `2m`, `8h`, `1h30m`, `1d`. */
const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;

/** `1e308` seconds, or 400 digits, overflow to Infinity milliseconds: not a duration. */
const finite = (ms: number): number | undefined => (Number.isFinite(ms) ? ms : undefined);

export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number') return input >= 0 ? finite(input * 1000) : undefined;
  const text = input.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return finite(Number(text) * 1000);
  PART.lastIndex = 0;
  let total = 0;
  let consumed = 0;
  for (let match = PART.exec(text); match !== null; match = PART.exec(text)) {
    total += Number(match[1]) * (UNIT_MS[match[2] ?? ''] ?? Number.NaN);
    consumed = PART.lastIndex;
  }
  return consumed === text.length && consumed > 0 && Number.isFinite(total) ? total : undefined;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`;
  const h = Math.floor(m / 60);
  return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`;
}
