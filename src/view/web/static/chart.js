// The progress chart on the page: the server renders the SVG (the same renderer as
// `ratchet report`); this module adds hover details, drag and wheel zoom, and clicks.
import { escapeHtml, fmtGain, fmtMetric, verdictBadge } from './format.js';

const HOVER_RADIUS = 24;
const MIN_SPAN = 2;

export function createChart({ container, tooltip, selection, onOpen, onRangeChange }) {
  let runId = null;
  let range = null;
  let extent = [0, 1];
  let rows = new Map();
  let loads = 0;
  let drag = null;

  function svg() {
    return container.querySelector('svg');
  }

  /** Client x to experiment number, through the geometry the server wrote on the root element. */
  function geometry() {
    const el = svg();
    if (!el) return null;
    const rect = el.getBoundingClientRect();
    const k = rect.width / el.viewBox.baseVal.width;
    const from = Number(el.dataset.xFrom);
    const to = Number(el.dataset.xTo);
    const left = Number(el.dataset.plotLeft);
    const right = Number(el.dataset.plotRight);
    return {
      from,
      to,
      toN: (clientX) => from + (((clientX - rect.left) / k - left) / (right - left)) * (to - from),
      inPlot: (clientX) => {
        const x = (clientX - rect.left) / k;
        return x >= left && x <= right;
      },
    };
  }

  function nearest(clientX, clientY) {
    let best = null;
    let bestD = HOVER_RADIUS * HOVER_RADIUS;
    for (const c of container.querySelectorAll('circle.point')) {
      const r = c.getBoundingClientRect();
      const dx = r.left + r.width / 2 - clientX;
      const dy = r.top + r.height / 2 - clientY;
      const d = dx * dx + dy * dy;
      if (d < bestD) {
        best = c;
        bestD = d;
      }
    }
    return best;
  }

  function showTooltip(point, clientX, clientY) {
    const row = rows.get(point.dataset.exp);
    if (!row) return hideTooltip();
    tooltip.innerHTML = `
      <div class="tt-head"><b>${escapeHtml(row.id)}</b> ${verdictBadge(row.verdict, row.phase, row.id)}</div>
      <div class="tt-desc">${escapeHtml(row.description)}</div>
      <div class="tt-num">${row.metric === undefined ? 'no metric' : escapeHtml(fmtMetric(row.metric))}
        ${row.gain !== undefined && row.id !== 'e0000' ? `<span class="muted">(${escapeHtml(fmtGain(row.gain))})</span>` : ''}</div>
      ${row.reason ? `<div class="tt-reason muted">${escapeHtml(row.reason)}</div>` : ''}`;
    tooltip.hidden = false;
    const w = tooltip.offsetWidth;
    const h = tooltip.offsetHeight;
    const x = clientX + 16 + w > window.innerWidth ? clientX - 16 - w : clientX + 16;
    const y = clientY + 16 + h > window.innerHeight ? clientY - 16 - h : clientY + 16;
    tooltip.style.left = `${Math.max(4, x)}px`;
    tooltip.style.top = `${Math.max(4, y)}px`;
    container.querySelectorAll('circle.point.hover').forEach((c) => c.classList.remove('hover'));
    point.classList.add('hover');
  }

  function hideTooltip() {
    tooltip.hidden = true;
    container.querySelectorAll('circle.point.hover').forEach((c) => c.classList.remove('hover'));
  }

  function setRange(next, origin = 'chart') {
    if (next) {
      let { from, to } = next;
      if (to - from < MIN_SPAN) {
        const mid = (from + to) / 2;
        from = mid - MIN_SPAN / 2;
        to = mid + MIN_SPAN / 2;
      }
      from = Math.max(extent[0], from);
      to = Math.min(extent[1], to);
      next = from <= extent[0] && to >= extent[1] ? null : { from, to };
    }
    range = next;
    onRangeChange(range, origin);
    void render();
  }

  async function render() {
    if (!runId) return;
    const width = Math.max(320, Math.floor(container.clientWidth));
    const height = Math.round(Math.min(520, Math.max(320, width * 0.4)));
    const query = new URLSearchParams({ width: String(width), height: String(height) });
    if (range) {
      query.set('from', String(range.from));
      query.set('to', String(range.to));
    }
    const load = ++loads;
    const res = await fetch(`/api/runs/${encodeURIComponent(runId)}/chart.svg?${query}`, { cache: 'no-store' });
    const text = await res.text();
    if (load !== loads || !res.ok) return;
    const holder = document.createElement('div');
    holder.innerHTML = text;
    const next = holder.querySelector('svg');
    if (!next) return;
    // Our tooltip replaces the native one, which would show too, late and unstyled.
    next.querySelectorAll('circle.point > title').forEach((t) => t.remove());
    const old = svg();
    if (old) old.replaceWith(next);
    else container.prepend(next);
  }

  container.addEventListener('mousemove', (event) => {
    if (drag) return;
    const point = nearest(event.clientX, event.clientY);
    if (point) showTooltip(point, event.clientX, event.clientY);
    else hideTooltip();
    container.style.cursor = point ? 'pointer' : 'crosshair';
  });
  container.addEventListener('mouseleave', hideTooltip);

  container.addEventListener('mousedown', (event) => {
    const g = geometry();
    if (event.button !== 0 || !g || !g.inPlot(event.clientX)) return;
    event.preventDefault();
    drag = { x0: event.clientX, x1: event.clientX, box: container.getBoundingClientRect() };
  });
  window.addEventListener('mousemove', (event) => {
    if (!drag) return;
    drag.x1 = event.clientX;
    const lo = Math.min(drag.x0, drag.x1) - drag.box.left;
    const hi = Math.max(drag.x0, drag.x1) - drag.box.left;
    selection.hidden = hi - lo < 4;
    selection.style.left = `${lo}px`;
    selection.style.width = `${hi - lo}px`;
  });
  window.addEventListener('mouseup', (event) => {
    if (!drag) return;
    const { x0, x1 } = drag;
    drag = null;
    selection.hidden = true;
    const g = geometry();
    if (!g) return;
    if (Math.abs(x1 - x0) > 6) {
      setRange({ from: g.toN(Math.min(x0, x1)), to: g.toN(Math.max(x0, x1)) });
      return;
    }
    const point = nearest(event.clientX, event.clientY);
    if (point) onOpen(point.dataset.exp);
  });

  container.addEventListener(
    'wheel',
    (event) => {
      const g = geometry();
      if (!g || !g.inPlot(event.clientX)) return;
      event.preventDefault();
      const n = g.toN(event.clientX);
      const factor = event.deltaY > 0 ? 1.25 : 0.8;
      setRange({ from: n - (n - g.from) * factor, to: n + (g.to - n) * factor });
    },
    { passive: false },
  );
  container.addEventListener('dblclick', () => setRange(null));

  return {
    /** New data for the run shown; keeps the zoom unless the run changed. */
    update(nextRunId, experiments, progress) {
      if (nextRunId !== runId) {
        runId = nextRunId;
        range = null;
        onRangeChange(null);
      }
      rows = new Map(experiments.map((r) => [r.id, r]));
      const ns = progress.points.map((p) => p.n);
      extent = ns.length > 0 ? [Math.min(...ns) - 0.5, Math.max(...ns) + 0.5] : [0, 1];
      return render();
    },
    setRange,
    render,
  };
}
