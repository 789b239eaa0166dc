// Formatting shared by the page's modules; mirrors src/eval/decide.ts so numbers read the same.

export function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

export function fmtMetric(value) {
  if (value === undefined || value === null) return '';
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

export function fmtGain(gain) {
  if (gain === undefined || gain === null) return '';
  const pct = gain * 100;
  return `${pct >= 0 ? '+' : ''}${pct.toFixed(Math.abs(pct) < 1 ? 2 : 1)}%`;
}

export function fmtUsd(usd) {
  if (usd === undefined || usd === null) return '';
  return `$${usd.toFixed(usd > 0 && usd < 0.01 ? 4 : 2)}`;
}

export function fmtDuration(seconds) {
  if (seconds === undefined || seconds === null) return '';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (h > 0) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m ${String(s % 60).padStart(2, '0')}s`;
  return `${s}s`;
}

export function verdictBadge(verdict, phase, id) {
  if (!verdict) return `<span class="badge running">${escapeHtml(phase ?? 'running')}…</span>`;
  if (id === 'e0000') return '<span class="badge baseline">baseline</span>';
  return `<span class="badge ${escapeHtml(verdict)}">${escapeHtml(verdict.replace('_', ' '))}</span>`;
}

export async function getJson(url) {
  const res = await fetch(url, { cache: 'no-store' });
  if (!res.ok) {
    const body = await res.json().catch(() => ({}));
    throw new Error(body.error ?? `${res.status} ${res.statusText}`);
  }
  return res.json();
}
