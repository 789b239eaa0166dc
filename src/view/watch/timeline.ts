/**
 * What the live view needs beyond `RunState`: when each in-flight stage started, how long
 * earlier stages took (for progress estimates), and the sessions of the run (for the time it
 * actually ran, a resume's gap excluded). A pure fold of the events, like the state.
 */
import type { ExperimentId } from '../../domain/words.js';
import type { StageKind } from '../../domain/evaluation.js';
import type { RunEvent } from '../../domain/events.js';

export interface Timeline {
  /** Start and end (ms since the epoch) of each session; the last has no end while it runs. */
  sessions: { start: number; end: number | undefined }[];
  /** The stage each experiment is in, and since when. */
  stages: Map<ExperimentId, { stage: StageKind; since: number }>;
  /** Seconds taken by earlier stages that passed, in order. */
  durations: Record<StageKind, number[]>;
}

export function emptyTimeline(): Timeline {
  return { sessions: [], stages: new Map(), durations: { setup: [], checks: [], bench: [], holdout: [] } };
}

export function trackEvent(timeline: Timeline, event: RunEvent): Timeline {
  const at = Date.parse(event.t);
  switch (event.type) {
    case 'run_started': {
      const open = timeline.sessions.at(-1);
      // A session that crashed without run_stopped ended, at the latest, when the next began.
      if (open !== undefined && open.end === undefined) open.end = at;
      timeline.sessions.push({ start: at, end: undefined });
      break;
    }
    case 'run_stopped': {
      const open = timeline.sessions.at(-1);
      if (open !== undefined && open.end === undefined) open.end = at;
      break;
    }
    case 'stage_started':
      timeline.stages.set(event.exp, { stage: event.stage, since: at });
      break;
    case 'stage_finished':
      timeline.stages.delete(event.exp);
      if (event.status === 'ok') timeline.durations[event.stage].push(event.durationS);
      break;
    case 'experiment_finished':
    case 'experiment_cancelled':
      timeline.stages.delete(event.exp);
      break;
    default:
      break;
  }
  return timeline;
}

export function buildTimeline(events: readonly RunEvent[]): Timeline {
  return events.reduce(trackEvent, emptyTimeline());
}

/** Milliseconds the run has been running across its sessions, up to `now`. */
export function activeMs(timeline: Timeline, now: number): number {
  return timeline.sessions.reduce((sum, s) => sum + Math.max(0, (s.end ?? now) - s.start), 0);
}

/** Milliseconds of the current (last) session: the budget's duration counts per session. */
export function sessionMs(timeline: Timeline, now: number): number {
  const last = timeline.sessions.at(-1);
  return last === undefined ? 0 : Math.max(0, (last.end ?? now) - last.start);
}

export function median(values: readonly number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}
