/**
 * `phases`: a container's timeline as consecutive phases with durations,
 * queued -> locked -> vm_requested -> vm_booted -> vm_ready ->
 * crunch_run_started -> running, the last ending at `finished`. A phase the
 * container skipped (placed on a VM that was already up, say) is simply
 * absent; a requeue starts `queued` again, so each attempt shows.
 */
import type { TimelineEvent, TimelineKind } from './sink.js';

export type PhaseName = 'queued' | 'locked' | 'vm_requested' | 'vm_booted' | 'vm_ready' | 'crunch_run_started' | 'running';

/** One phase: from its first moment to the next phase's (`to` undefined while it lasts, its duration then counted to `now`). */
export interface Phase {
  phase: PhaseName;
  from: number;
  to?: number;
  durationMs: number;
}

/** Events that begin a phase, and the phase they begin. */
const BEGINS: Partial<Record<TimelineKind, PhaseName>> = {
  requeued: 'queued',
  locked: 'locked',
  vm_requested: 'vm_requested',
  // Waiting for a VM that was already booting counts as waiting for a requested one.
  vm_assigned: 'vm_requested',
  vm_booted: 'vm_booted',
  vm_ready: 'vm_ready',
  crunch_run_started: 'crunch_run_started',
  running: 'running',
};

/** What the first sight of a container in this state begins: the state it was in, since the controller's time where known. */
function firstSeen(ev: TimelineEvent): { phase: PhaseName; from: number } | undefined {
  const state = ev.detail?.state;
  const since = (field: string): number => {
    const t = Date.parse(String(ev.detail?.[field] ?? ''));
    return Number.isFinite(t) && t < ev.at ? t : ev.at;
  };
  if (state === 'Queued') return { phase: 'queued', from: since('created') };
  if (state === 'Locked') return { phase: 'locked', from: ev.at };
  if (state === 'Running') return { phase: 'running', from: since('started') };
  return undefined;
}

/** The phases of `events` (in the order recorded); `now` ends the open phase, if any. */
export function phases(events: readonly TimelineEvent[], now: number): Phase[] {
  const out: Phase[] = [];
  let open: { phase: PhaseName; from: number } | undefined;
  const close = (at: number): void => {
    if (open) out.push({ phase: open.phase, from: open.from, to: at, durationMs: Math.max(0, at - open.from) });
    open = undefined;
  };
  for (const ev of events) {
    if (ev.kind === 'finished') {
      close(ev.at);
      continue;
    }
    const begins = ev.kind === 'first_seen' ? firstSeen(ev) : BEGINS[ev.kind] && { phase: BEGINS[ev.kind]!, from: ev.at };
    if (!begins) continue;
    close(ev.at);
    open = begins;
  }
  if (open) out.push({ phase: open.phase, from: open.from, durationMs: Math.max(0, now - open.from) });
  return out;
}
