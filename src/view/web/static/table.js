// The results table: sortable by any column, filtered by verdict and by text; a row opens the
// experiment.
import { escapeHtml, fmtDuration, fmtGain, fmtMetric, fmtUsd, verdictBadge } from './format.js';

const ORDER = ['baseline', 'keep', 'discard', 'checks_failed', 'crash', 'timeout', 'rejected', 'conflict', 'overfit', 'running'];

export function createTable({ table, filters, search, onOpen }) {
  const body = table.querySelector('tbody');
  let rows = [];
  let sort = { key: 'n', dir: -1 };
  const hidden = new Set();
  let selected = null;

  const group = (row) => (row.id === 'e0000' && row.verdict ? 'baseline' : row.verdict ?? 'running');

  function compare(a, b) {
    const va = sort.key === 'verdict' ? group(a) : a[sort.key];
    const vb = sort.key === 'verdict' ? group(b) : b[sort.key];
    // Missing values sort last whichever the direction.
    if (va === undefined || va === null) return vb === undefined || vb === null ? a.n - b.n : 1;
    if (vb === undefined || vb === null) return -1;
    const c = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb));
    return (c || a.n - b.n) * sort.dir;
  }

  function renderFilters() {
    const counts = new Map();
    for (const row of rows) counts.set(group(row), (counts.get(group(row)) ?? 0) + 1);
    filters.innerHTML = ORDER.filter((v) => counts.has(v))
      .map(
        (v) => `<button type="button" class="chip ${escapeHtml(v)}${hidden.has(v) ? ' off' : ''}" data-verdict="${escapeHtml(v)}"
          aria-pressed="${hidden.has(v) ? 'false' : 'true'}">${escapeHtml(v.replace('_', ' '))} <b>${counts.get(v)}</b></button>`,
      )
      .join('');
  }

  function render() {
    const text = search.value.trim().toLowerCase();
    const shown = rows
      .filter((row) => !hidden.has(group(row)))
      .filter((row) => text === '' || `${row.id} ${row.description} ${row.reason ?? ''}`.toLowerCase().includes(text))
      .sort(compare);
    body.innerHTML =
      shown
        .map(
          (row) => `<tr data-exp="${escapeHtml(row.id)}" class="${row.verdict === 'keep' ? 'kept' : ''}${row.id === selected ? ' selected' : ''}" tabindex="0">
        <td class="mono">${escapeHtml(row.id)}</td>
        <td>${verdictBadge(row.verdict, row.phase, row.id)}</td>
        <td class="num">${escapeHtml(fmtMetric(row.metric))}</td>
        <td class="num ${row.gain > 0 ? 'up' : row.gain < 0 ? 'down' : ''}">${row.id === 'e0000' ? '' : escapeHtml(fmtGain(row.gain))}</td>
        <td class="num">${row.holdout === undefined || row.holdout === null ? '' : escapeHtml(fmtMetric(row.holdout))}</td>
        <td class="desc" title="${escapeHtml(row.reason ?? '')}">${escapeHtml(row.description || '(proposing)')}${row.reappliedOnto ? ` <span class="muted">(re-applied on ${escapeHtml(row.reappliedOnto)})</span>` : ''}</td>
        <td class="num">${escapeHtml(fmtDuration(row.durationS))}</td>
        <td class="num">${escapeHtml(fmtUsd(row.costUsd))}</td>
      </tr>`,
        )
        .join('') || `<tr><td colspan="8" class="muted">No experiment matches.</td></tr>`;
    for (const th of table.querySelectorAll('th[data-key]')) {
      th.classList.toggle('sorted', th.dataset.key === sort.key);
      th.dataset.dir = th.dataset.key === sort.key ? (sort.dir > 0 ? '▲' : '▼') : '';
    }
  }

  table.querySelector('thead').addEventListener('click', (event) => {
    const th = event.target.closest('th[data-key]');
    if (!th) return;
    const key = th.dataset.key;
    sort = { key, dir: sort.key === key ? -sort.dir : key === 'description' || key === 'verdict' ? 1 : -1 };
    render();
  });
  filters.addEventListener('click', (event) => {
    const chip = event.target.closest('[data-verdict]');
    if (!chip) return;
    const v = chip.dataset.verdict;
    if (hidden.has(v)) hidden.delete(v);
    else hidden.add(v);
    renderFilters();
    render();
  });
  search.addEventListener('input', render);
  body.addEventListener('click', (event) => {
    const tr = event.target.closest('tr[data-exp]');
    if (tr) onOpen(tr.dataset.exp);
  });
  body.addEventListener('keydown', (event) => {
    const tr = event.target.closest('tr[data-exp]');
    if (tr && event.key === 'Enter') onOpen(tr.dataset.exp);
  });

  return {
    update(next) {
      rows = next;
      renderFilters();
      render();
    },
    select(exp) {
      selected = exp;
      render();
    },
  };
}
