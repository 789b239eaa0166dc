/** One line per event, for `ratchet run` when its output is not a terminal, and `watch --plain`. */
import { calibrationWarning, describeCalibration } from '../plan/calibration.js';
import { formatGain, formatMetric } from '../plan/decide.js';
import type { RunEvent } from '../domain/events.js';
import type { RunState } from '../domain/run-state.js';

/** One line of at most `width` characters, with an ellipsis when cut. */
export function clip(text: string, width = 72): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > width ? `${one.slice(0, width - 1)}…` : one;
}

function time(t: string): string {
  return t.slice(11, 19);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * A verdict's reason with the measurement, the metric named once: a decision's reason already
 * names it (`score 10 → 8 (+20.0%)`, `score +3.2% [+1.9%, +4.4%] … over 12 pairs`), and only
 * what it leaves out is added. Failures have no metric to show.
 */
function verdictText(event: Extract<RunEvent, { type: 'experiment_finished' }>, name: string): string {
  const reason = clip(event.reason, 100);
  if (event.metric === undefined || event.reason.includes('→')) return reason;
  const gain = event.gain !== undefined && !event.reason.includes('%') ? ` (${formatGain(event.gain)})` : '';
  const named = new RegExp(`(^|[^\\w.-])${escapeRegExp(name)}($|[^\\w.-])`).test(event.reason);
  return named ? `${reason}; measured ${formatMetric(event.metric)}${gain}` : `${name}=${formatMetric(event.metric)}${gain} ${reason}`;
}

/** The line for an event, or undefined for events too fine-grained for the plain view. */
export function formatEventLine(event: RunEvent, state: RunState): string | undefined {
  const at = time(event.t);
  switch (event.type) {
    case 'run_started':
      return `${at} run ${event.run} ${event.resumed ? 'resumed' : 'started'} on ${event.target} at ${event.base.slice(0, 7)} (${event.goal} ${event.metric}, agent ${event.agent})`;
    case 'experiment_started':
      return `${at} ${event.exp} started from ${event.parentExp === event.exp ? 'the base commit' : `${event.parentExp} (${event.parent.slice(0, 7)})`}`;
    case 'proposed':
      return event.exp === 'e0000' ? undefined : `${at} ${event.exp} proposed: ${clip(event.description)}`;
    case 'committed':
      return `${at} ${event.exp} committed ${event.commit.slice(0, 7)}: ${event.files.length} file${event.files.length === 1 ? '' : 's'}, +${event.insertions} -${event.deletions}`;
    case 'stage_started':
      // The finished line says all of it; a start line per stage would double the log.
      return undefined;
    case 'stage_finished':
      if (event.status === 'skipped') return undefined;
      return `${at} ${event.exp} ${event.stage} ${event.status} in ${event.durationS.toFixed(1)}s${event.reason ? `: ${clip(event.reason)}` : ''}`;
    case 'experiment_finished': {
      const name = state.started?.metric ?? 'metric';
      if (event.exp === 'e0000') {
        return `${at} e0000 baseline ${event.metric === undefined ? `FAILED (${event.verdict}): ${clip(event.reason)}` : `${name}=${formatMetric(event.metric)}`}`;
      }
      return `${at} ${event.exp} ${event.verdict.toUpperCase()} ${verdictText(event, name)}`;
    }
    case 'calibrated': {
      const warning = calibrationWarning(event, event.stage);
      return `${at} ${describeCalibration(event, event.stage)}${warning === undefined ? '' : `\n${at} warning: ${warning}`}`;
    }
    case 'reapplied': {
      const first = event.metric === undefined ? '' : ` (it measured ${formatMetric(event.metric)} on its first parent)`;
      return `${at} ${event.exp} re-applied on ${event.ontoExp} (${event.onto.slice(0, 7)}) as ${event.commit.slice(0, 7)}, to be measured again there${first}`;
    }
    case 'best_advanced':
      return `${at} best is now ${event.exp} (${event.commit.slice(0, 7)}) at ${formatMetric(event.metric)}`;
    case 'experiment_cancelled':
      return `${at} ${event.exp} cancelled: ${event.reason}`;
    case 'run_stopped':
      return `${at} run stopped (${event.reason}): ${event.detail}`;
  }
}
