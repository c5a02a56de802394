/**
 * The body of GET /arvados/v1/dispatch/container/timeline: a container's
 * timeline events, times as the rest of the API writes them (`goTime`),
 * each event's detail spread beside its `at` and `kind`, and the phases
 * with their durations. No reference counterpart: this route is ours.
 */
import { phases } from '../timeline/phases.js';
import type { ContainerTimeline } from '../timeline/timeline.js';
import { goTime } from './format.js';

export interface TimelineJSON {
  container_uuid: string;
  events: Array<{ at: string; kind: string } & Record<string, string | number>>;
  /** The open phase (the container is not finished) has `to: null`, its duration counted to now. */
  phases: Array<{ phase: string; from: string; to: string | null; duration_ms: number }>;
  /** Events dropped to keep within the per-container bound (the first event is always kept). */
  dropped_events: number;
}

export function timelineJSON(uuid: string, tl: ContainerTimeline): TimelineJSON {
  return {
    container_uuid: uuid,
    events: tl.events.map((e) => ({ ...e.detail, at: goTime(e.at), kind: e.kind })),
    phases: phases(tl.events, tl.asOf).map((p) => ({
      phase: p.phase,
      from: goTime(p.from),
      to: p.to === undefined ? null : goTime(p.to),
      duration_ms: p.durationMs,
    })),
    dropped_events: tl.dropped,
  };
}
