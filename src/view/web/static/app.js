// The dashboard page: picks a run, shows its summary, chart and table, opens experiments, and
// re-renders from the server's state whenever the run's event stream says something happened.
import { createChart } from './chart.js';
import { renderDetail } from './detail.js';
import { escapeHtml, fmtDuration, fmtGain, fmtMetric, fmtUsd, getJson } from './format.js';
import { createTable } from './table.js';

const $ = (id) => document.getElementById(id);

let runId = null;
let openExp = null;
let openRow = null;
let source = null;
let refreshing = null;
let refreshAgain = false;
let refreshTimer = null;
let runIds = [];

const chart = createChart({
  container: $('chart'),
  tooltip: $('tooltip'),
  selection: $('selection'),
  onOpen: (exp) => void open(exp),
  onRangeChange: (range, origin) => {
    // A range typed in the fields stays as typed; one from the chart is shown there.
    if (origin === 'inputs') return;
    $('zoom-from').value = range ? String(Math.ceil(range.from)) : '';
    $('zoom-to').value = range ? String(Math.floor(range.to)) : '';
  },
});
const table = createTable({ table: $('results'), filters: $('filters'), search: $('search'), onOpen: (exp) => void open(exp) });

function showError(message) {
  $('error').hidden = !message;
  $('error').textContent = message ?? '';
}

function parseHash() {
  const m = /^#\/run\/([^/]+)(?:\/(e\d+))?$/.exec(location.hash);
  return m ? { run: decodeURIComponent(m[1]), exp: m[2] ?? null } : { run: null, exp: null };
}

function writeHash() {
  const hash = runId ? `#/run/${encodeURIComponent(runId)}${openExp ? `/${openExp}` : ''}` : '';
  if (location.hash !== hash) history.replaceState(null, '', hash || location.pathname);
}

function setLive(on, text) {
  $('live').classList.toggle('off', !on);
  if (text !== undefined) $('live-text').textContent = text;
}

function describe(event) {
  const at = new Date(event.t).toLocaleTimeString();
  switch (event.type) {
    case 'experiment_finished':
      return `${at} · ${event.exp} ${event.verdict}${event.metric === undefined ? '' : ` (${fmtMetric(event.metric)})`}`;
    case 'stage_started':
      return `${at} · ${event.exp} ${event.stage}`;
    case 'best_advanced':
      return `${at} · best is now ${event.exp}`;
    case 'run_stopped':
      return `${at} · run stopped (${event.reason})`;
    default:
      return `${at} · ${event.exp ?? ''} ${event.type.replace('_', ' ')}`;
  }
}

function card(label, value, sub = '') {
  return `<div class="card"><div class="card-label">${escapeHtml(label)}</div><div class="card-value">${value}</div><div class="card-sub">${sub}</div></div>`;
}

/** How candidates are measured, from the baseline's calibration; the whole line on hover. */
function measuredCard(info) {
  const m = info.measured;
  if (!m) return card('measured', escapeHtml(`repeat ${info.repeat}`), 'as the spec says');
  const title = `${m.runs} baseline runs, ${m.finding} → ${m.mode}${m.warning ? `\n${m.warning}` : ''}`;
  const sub = `<span title="${escapeHtml(title)}">${escapeHtml(m.finding)}</span>${m.warning ? ' <span class="warn">⚠ repeat 1</span>' : ''}`;
  return card('measured', `<span id="measured" title="${escapeHtml(title)}">${escapeHtml(m.short)}</span>`, sub);
}

function renderSummary({ summary: s, info }) {
  const direction = s.goal === 'minimize' ? 'lower is better' : 'higher is better';
  const started = s.startedAt ? Date.parse(s.startedAt) : undefined;
  const last = s.lastEventAt ? Date.parse(s.lastEventAt) : undefined;
  const status = s.status === 'running' ? `running${s.inFlight ? ` · ${s.inFlight} in flight` : ''}` : `stopped · ${s.stopped?.reason ?? ''}`;
  $('summary').innerHTML = [
    card('status', escapeHtml(status), escapeHtml(s.stopped?.detail ?? info.agent)),
    card(`baseline ${s.metric}`, escapeHtml(fmtMetric(s.baseline) || '—'), escapeHtml(direction)),
    card('best', escapeHtml(fmtMetric(s.best?.metric) || '—'), escapeHtml(s.best?.exp ?? '')),
    card('gain', `<span class="${s.gain > 0 ? 'up' : ''}">${escapeHtml(fmtGain(s.gain) || '—')}</span>`, 'over the baseline'),
    card('experiments', String(s.experiments), `${s.kept} kept`),
    card('cost', escapeHtml(fmtUsd(s.costUsd)), ''),
    measuredCard(info),
    card('duration', escapeHtml(started !== undefined && last !== undefined ? fmtDuration((last - started) / 1000) : '—'), ''),
  ].join('');
  const objective = info.objective.trim().split('\n')[0] ?? '';
  $('run-target').textContent = `${s.target} · ${objective.length > 120 ? `${objective.slice(0, 119)}…` : objective}`;
  $('run-target').title = info.objective;
}

async function loadRuns() {
  const { runs } = await getJson('/api/runs');
  const ids = runs.map((r) => r.runId);
  if (ids.join('\n') !== runIds.join('\n')) {
    runIds = ids;
    $('run-select').innerHTML = runs
      .map((r) => `<option value="${escapeHtml(r.runId)}">${escapeHtml(r.runId)} (${r.experiments} exp, ${r.kept} kept)</option>`)
      .join('');
  }
  $('empty').hidden = runs.length > 0;
  if (runId) $('run-select').value = runId;
  return runs;
}

async function refreshNow() {
  if (!runId) return;
  const shown = runId;
  const detail = await getJson(`/api/runs/${encodeURIComponent(shown)}`);
  if (shown !== runId) return;
  showError(null);
  renderSummary(detail);
  table.update(detail.experiments);
  await chart.update(shown, detail.experiments, detail.progress);
  if (openExp) {
    const row = detail.experiments.find((r) => r.id === openExp);
    if (row && JSON.stringify(row) !== openRow) await open(openExp, { keepScroll: true });
  }
}

/** One refresh at a time; a request during one runs once more after it. */
function refresh() {
  if (refreshing) {
    refreshAgain = true;
    return refreshing;
  }
  refreshing = refreshNow()
    .catch((error) => showError(`Could not load the run: ${error.message}`))
    .finally(() => {
      refreshing = null;
      if (refreshAgain) {
        refreshAgain = false;
        void refresh();
      }
    });
  return refreshing;
}

function scheduleRefresh() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => void refresh(), 100);
}

function connect() {
  source?.close();
  setLive(false, 'connecting…');
  source = new EventSource(`/api/runs/${encodeURIComponent(runId)}/events`);
  source.addEventListener('hello', () => {
    setLive(true, 'live');
    scheduleRefresh();
  });
  source.addEventListener('run-event', (message) => {
    setLive(true, describe(JSON.parse(message.data)));
    scheduleRefresh();
  });
  source.addEventListener('reset', scheduleRefresh);
  source.onerror = () => setLive(false, 'reconnecting…');
}

async function open(exp, { keepScroll = false } = {}) {
  openExp = exp;
  writeHash();
  table.select(exp);
  const panel = $('detail');
  const scroll = panel.scrollTop;
  try {
    const detail = await getJson(`/api/runs/${encodeURIComponent(runId)}/experiments/${encodeURIComponent(exp)}`);
    if (openExp !== exp) return;
    openRow = JSON.stringify(detail.row);
    renderDetail(panel, detail, close);
    panel.hidden = false;
    panel.scrollTop = keepScroll ? scroll : 0;
  } catch (error) {
    showError(`Could not open ${exp}: ${error.message}`);
  }
}

function close() {
  openExp = null;
  openRow = null;
  $('detail').hidden = true;
  table.select(null);
  writeHash();
}

async function selectRun(id, exp = null) {
  runId = id;
  openExp = null;
  $('detail').hidden = true;
  $('run-select').value = id;
  writeHash();
  connect();
  await refresh();
  if (exp) await open(exp);
}

$('run-select').addEventListener('change', (event) => void selectRun(event.target.value));
$('zoom-reset').addEventListener('click', () => chart.setRange(null));
function applyZoomInputs() {
  const from = $('zoom-from').value === '' ? -Infinity : Number($('zoom-from').value) - 0.5;
  const to = $('zoom-to').value === '' ? Infinity : Number($('zoom-to').value) + 0.5;
  chart.setRange(from < to ? { from, to } : null, 'inputs');
}
for (const id of ['zoom-from', 'zoom-to']) {
  $(id).addEventListener('change', applyZoomInputs);
  // Number inputs do not always fire change on Enter.
  $(id).addEventListener('keydown', (event) => {
    if (event.key === 'Enter') applyZoomInputs();
  });
}
document.addEventListener('keydown', (event) => {
  if (event.key === 'Escape' && openExp) close();
});
let resizeTimer = null;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = setTimeout(() => void chart.render(), 150);
});

async function start() {
  try {
    const runs = await loadRuns();
    const wanted = parseHash();
    const id = runs.some((r) => r.runId === wanted.run) ? wanted.run : runs[0]?.runId;
    if (id) await selectRun(id, id === wanted.run ? wanted.exp : null);
  } catch (error) {
    showError(`Could not reach the ratchet server: ${error.message}`);
  }
  // New runs appear in the list without a reload.
  setInterval(() => {
    loadRuns()
      .then((runs) => {
        if (!runId && runs[0]) void selectRun(runs[0].runId);
      })
      .catch(() => undefined);
  }, 10_000);
}

void start();
