/**
 * The live view on a terminal: redrawn in place after events and every second (for the
 * clocks). On anything that is not a terminal (a pipe, a file, CI logs) it prints one line per
 * event instead, so the output stays readable there. Used by `ratchet watch` and `ratchet run`.
 */
import type { RunEvent } from '../../domain/events.js';
import type { RunInfo } from '../../store/run-dir.js';
import type { RunState } from '../../domain/run-state.js';
import { formatEventLine } from '../plain.js';
import { renderWatch } from './render.js';
import { emptyTimeline, trackEvent, type Timeline } from './timeline.js';

/** What the view writes to: `process.stdout` (or stderr), or a fake in tests. */
export interface TerminalOut {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

export interface LiveViewOptions {
  out: TerminalOut;
  /** The run's run.json; may come later through `setInfo` (the budget line waits for it). */
  info?: RunInfo;
  /** Redraw in place (default: when `out` is a terminal); false prints one line per event. */
  redraw?: boolean;
  /** Redraw this often for the clocks (default 1000 ms; 0: only on events and `tick()`). */
  tickMs?: number;
  /** Events from before the view started (a resumed run's earlier sessions), for the clocks. */
  timeline?: Timeline;
  now?: () => number;
}

export interface LiveView {
  onEvent(event: RunEvent, state: RunState): void;
  setInfo(info: RunInfo): void;
  /** Redraw now (the clocks moved). */
  tick(): void;
  /** Last frame, then the cursor back; idempotent. */
  close(): void;
}

export const ESC = {
  hideCursor: '\x1b[?25l',
  showCursor: '\x1b[?25h',
  home: '\x1b[H',
  clearLine: '\x1b[K',
  clearDown: '\x1b[J',
};

export function createLiveView(options: LiveViewOptions): LiveView {
  const { out } = options;
  const now = options.now ?? Date.now;
  const redraw = options.redraw ?? out.isTTY === true;
  const timeline = options.timeline ?? emptyTimeline();
  let info = options.info;
  let state: RunState | undefined;
  let started = false;
  let closed = false;

  const draw = (): void => {
    if (closed || state === undefined) return;
    const width = out.columns ?? 100;
    let lines = renderWatch(state, info, now(), width, timeline);
    // Moving home cannot reach lines that scrolled off: never draw more than the screen holds.
    const rows = out.rows;
    if (rows !== undefined && rows > 1 && lines.length > rows - 1) lines = [...lines.slice(0, rows - 2), `… ${lines.length - rows + 2} more lines (a taller terminal shows them)`];
    const frame = lines.map((line) => `${line}${ESC.clearLine}\n`).join('');
    out.write(`${started ? '' : ESC.hideCursor}${ESC.home}${frame}${ESC.clearDown}`);
    started = true;
  };

  const timer = redraw && (options.tickMs ?? 1000) > 0 ? setInterval(draw, options.tickMs ?? 1000) : undefined;
  timer?.unref();
  // A burst of events (a watch catching up on thousands) makes one frame, not one each.
  let pending: NodeJS.Immediate | undefined;
  const drawSoon = (): void => {
    pending ??= setImmediate(() => {
      pending = undefined;
      draw();
    });
  };

  return {
    onEvent(event, next) {
      trackEvent(timeline, event);
      state = next;
      if (redraw) return drawSoon();
      const line = formatEventLine(event, next);
      if (line !== undefined) out.write(`${line}\n`);
    },
    setInfo(next) {
      info = next;
      if (redraw) draw();
    },
    tick() {
      if (redraw) draw();
    },
    close() {
      if (closed) return;
      if (timer) clearInterval(timer);
      if (pending) clearImmediate(pending);
      if (redraw) {
        draw();
        if (started) out.write(ESC.showCursor);
      }
      closed = true;
    },
  };
}
