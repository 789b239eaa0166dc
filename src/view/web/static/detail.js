// One experiment: what was tried and why, the verdict, the diff (highlighted by diff2html), the
// log tails, the measurements and their confidence, and the cost.
import { escapeHtml, fmtDuration, fmtGain, fmtMetric, fmtUsd, verdictBadge } from './format.js';

const LOGS = ['setup', 'checks', 'bench', 'holdout', 'agent'];

function fmtStat(key, value) {
  if (typeof value !== 'number') return escapeHtml(String(value));
  // Interval bounds are fractions of the best, as in results.tsv.
  if (/^ci_/.test(key)) return escapeHtml(fmtGain(value));
  return escapeHtml(Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4))));
}

function median(values) {
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function samplesView(samples) {
  if (!Array.isArray(samples) || samples.length === 0) return '<p class="muted">No measurements.</p>';
  const values = samples.map((s) => s.metric);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const span = hi - lo || Math.abs(hi) * 0.01 || 1;
  const x = (v) => 90 + ((v - lo + span * 0.05) / (span * 1.1)) * 300;
  const sides = ['candidate', 'parent'].filter((side) => samples.some((s) => s.side === side));
  const marks = sides
    .map((side, i) => {
      const y = 18 + i * 26;
      const own = samples.filter((s) => s.side === side).map((s) => s.metric);
      const med = median(own);
      return `<text x="0" y="${y + 4}" class="strip-label">${side} (${own.length})</text>
        ${own.map((v) => `<circle class="sample ${side}" cx="${x(v).toFixed(1)}" cy="${y}" r="4"><title>${escapeHtml(fmtMetric(v))}</title></circle>`).join('')}
        <line class="median ${side}" x1="${x(med).toFixed(1)}" x2="${x(med).toFixed(1)}" y1="${y - 9}" y2="${y + 9}"></line>
        <text x="400" y="${y + 4}" class="strip-value">median ${escapeHtml(fmtMetric(med))}</text>`;
    })
    .join('');
  return `<svg class="strip" viewBox="0 0 520 ${14 + sides.length * 26}" width="520">${marks}</svg>`;
}

function diffView(diff) {
  if (!diff.text.trim()) return '<p class="muted">No diff (nothing was committed).</p>';
  const note = diff.note ? `<p class="muted diff-note">${escapeHtml(diff.note)}</p>` : '';
  if (window.Diff2Html) {
    return note + window.Diff2Html.html(diff.text, { drawFileList: false, matching: 'lines', outputFormat: 'line-by-line', diffStyle: 'word' });
  }
  // Without the library (not installed), still colour the lines.
  const lines = diff.text.split('\n').map((line) => {
    const cls = line.startsWith('+') ? 'add' : line.startsWith('-') ? 'del' : line.startsWith('@@') ? 'hunk' : '';
    return `<span class="${cls}">${escapeHtml(line)}</span>`;
  });
  return `${note}<pre class="plain-diff">${lines.join('\n')}</pre>`;
}

function defaultLog(row, logs) {
  const wanted = row.verdict === 'checks_failed' ? 'checks' : row.verdict === 'rejected' ? 'agent' : row.verdict === 'overfit' ? 'holdout' : 'bench';
  return logs[wanted]?.text ? wanted : LOGS.find((name) => logs[name]?.text) ?? wanted;
}

function costView(usage, row) {
  if (!usage) return row.costUsd === undefined ? '<p class="muted">No model usage recorded.</p>' : `<p>${fmtUsd(row.costUsd)}</p>`;
  const n = (v) => (v ?? 0).toLocaleString('en-US');
  return `<dl class="facts">
    <dt>cost</dt><dd>${escapeHtml(fmtUsd(usage.costUsd))}</dd>
    <dt>input tokens</dt><dd>${n(usage.inputTokens)}</dd>
    <dt>output tokens</dt><dd>${n(usage.outputTokens)}</dd>
    <dt>cache read / write</dt><dd>${n(usage.cacheReadTokens)} / ${n(usage.cacheWriteTokens)}</dd>
  </dl>`;
}

function stagesView(stages) {
  if (!Array.isArray(stages) || stages.length === 0) return '';
  return `<table class="mini"><thead><tr><th>stage</th><th>name</th><th>status</th><th class="num">time</th><th>reason</th></tr></thead><tbody>
    ${stages
      .map(
        (s) => `<tr><td>${escapeHtml(s.stage)}</td><td>${escapeHtml(s.name)}</td><td><span class="status ${escapeHtml(s.status)}">${escapeHtml(s.status)}</span></td>
        <td class="num">${escapeHtml(fmtDuration(s.durationS))}</td><td>${escapeHtml(s.reason)}</td></tr>`,
      )
      .join('')}</tbody></table>`;
}

// The holdout's figures (keeps and overfits of a run with a holdout): value, the parent's, change, rule.
function holdoutFacts(h) {
  if (!h || typeof h.metric !== 'number') return '';
  const parent = typeof h.parent === 'number' ? ` (parent ${escapeHtml(fmtMetric(h.parent))}, ${escapeHtml(fmtChange(h.change))})` : '';
  return `<dt>holdout</dt><dd class="holdout ${h.passed ? 'held' : 'failed'}">${escapeHtml(fmtMetric(h.metric))}${parent} · ${escapeHtml(h.rule)} ${h.passed ? 'held' : 'failed'}</dd>`;
}

function fmtChange(change) {
  return typeof change === 'number' && Number.isFinite(change) ? fmtGain(change) : 'n/a';
}

export function renderDetail(el, detail, onClose) {
  const { row, diff, logs } = detail;
  const result = detail.result ?? {};
  const stats = result.stats ?? {};
  const statKeys = Object.keys(stats);
  const first = defaultLog(row, logs);
  el.innerHTML = `
    <header class="detail-head">
      <span class="mono">${escapeHtml(row.id)}</span> ${verdictBadge(row.verdict, row.phase, row.id)}
      <span class="spacer"></span>
      <button type="button" class="close" aria-label="close">×</button>
    </header>
    <h3 class="detail-title">${escapeHtml(row.description || '(proposing)')}</h3>
    ${row.hypothesis ? `<p class="hypothesis"><b>Hypothesis.</b> ${escapeHtml(row.hypothesis)}</p>` : ''}
    ${row.reason ? `<p class="reason">${escapeHtml(row.reason)}</p>` : ''}
    <dl class="facts">
      <dt>metric</dt><dd>${row.metric === undefined ? '—' : escapeHtml(fmtMetric(row.metric))}</dd>
      <dt>gain</dt><dd>${row.id === 'e0000' ? '—' : escapeHtml(fmtGain(row.gain)) || '—'}</dd>
      ${holdoutFacts(result.holdout)}
      <dt>parent</dt><dd class="mono">${escapeHtml(row.parentExp)}</dd>
      <dt>commit</dt><dd class="mono">${escapeHtml(row.commit ? row.commit.slice(0, 10) : '—')}</dd>
      <dt>time</dt><dd>${escapeHtml(fmtDuration(row.durationS)) || '—'}</dd>
      <dt>files</dt><dd class="mono">${escapeHtml(row.files.join(', ') || '—')}</dd>
    </dl>
    <h4>Measurements</h4>
    ${samplesView(result.samples)}
    <h4>Confidence</h4>
    ${statKeys.length === 0 ? '<p class="muted">No statistics (a single measurement, or no measurement).</p>'
      : `<dl class="facts">${statKeys.map((k) => `<dt>${escapeHtml(k)}</dt><dd>${fmtStat(k, stats[k])}</dd>`).join('')}</dl>`}
    ${stagesView(result.stages)}
    <h4>Cost</h4>
    ${costView(result.usage, row)}
    <h4>Diff</h4>
    <div class="diff">${diffView(diff)}</div>
    <h4>Logs</h4>
    <div class="tabs" role="tablist">${LOGS.map((name) => `<button type="button" role="tab" data-log="${name}" class="${name === first ? 'active' : ''}">${name}${logs[name]?.text ? '' : ' <span class="muted">(empty)</span>'}</button>`).join('')}</div>
    ${LOGS.map((name) => `<div class="log" data-log="${name}"${name === first ? '' : ' hidden'}>
      ${logs[name]?.truncated ? '<p class="muted">Only the end of the file is shown.</p>' : ''}
      <pre>${escapeHtml(logs[name]?.text || '(empty)')}</pre></div>`).join('')}`;
  el.querySelector('.close').addEventListener('click', onClose);
  el.querySelector('.tabs').addEventListener('click', (event) => {
    const tab = event.target.closest('[data-log]');
    if (!tab) return;
    for (const b of el.querySelectorAll('.tabs [data-log]')) b.classList.toggle('active', b === tab);
    for (const pane of el.querySelectorAll('.log')) pane.hidden = pane.dataset.log !== tab.dataset.log;
  });
}
