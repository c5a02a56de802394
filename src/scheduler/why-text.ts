/**
 * A blocker (`why.ts`) in words, for the management API's `blocker.summary`
 * (which the status page shows) and the `containers why` command.
 */
import { perHour } from '../placement/spending-cap.js';
import type { Blocker } from './blocker.js';

/** HH:MM:SS of an RFC 3339 time, UTC. */
export function clockTime(t: string | undefined): string {
  if (!t) return '?';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toISOString().slice(11, 19);
}

/** A span in words: "40 s", "6 min", "2.5 h". */
export function span(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 90) return `${Math.round(s)} s`;
  const m = s / 60;
  if (m < 90) return `${Math.round(m)} min`;
  return `${(m / 60).toFixed(1)} h`;
}

/** A share as a whole percentage ("9%"), or "<1%" for a small one that is not 0. */
function percent(x: number): string {
  const p = Math.round(x * 100);
  return p === 0 && x > 0 ? '<1%' : `${p}%`;
}

/** The blocker in one sentence. */
export function describeBlocker(b: Blocker): string {
  switch (b.reason) {
    case 'priority_zero':
      return `priority is 0 (state ${b.state}): it will not be scheduled until someone wants it`;
    case 'supervisor_cap':
      return `workflow runner cap reached: ${b.running} of ${b.cap} running (SupervisorFraction of MaxInstances); position ${b.position} among waiting runners`;
    case 'concurrency_limit':
      return (
        `concurrency limit reached: ${b.running} of ${b.limit} containers running or starting` +
        (b.controller !== 'normal' ? ` (controller ${b.controller})` : '') +
        (b.last_503 ? `; last 503 from the controller at ${clockTime(b.last_503)}` : '')
      );
    case 'locking':
      return `being locked${b.instance ? `; it will start on ${b.instance}` : ''}`;
    case 'previous_attempt':
      return `waiting for the crunch-run of a previous attempt to exit${b.instance ? ` on ${b.instance}` : ''}`;
    case 'booting':
      return `waiting for a ${b.instance_type} instance to boot${b.instance ? ` (${b.instance}${b.booting_since ? `, booting since ${clockTime(b.booting_since)}` : ''})` : ' (being created)'}`;
    case 'preparing':
      return `handed to crunch-run${b.instance ? ` on ${b.instance}` : ''}: preparing to run`;
    case 'types_at_capacity':
      return `every eligible instance type is at capacity: ${b.types
        .map((t) => `${t.name}${t.since ? ` since ${clockTime(t.since)}` : ''}${t.until ? ` (retry at ${clockTime(t.until)})` : ''}${t.error ? `: ${t.error}` : ''}`)
        .join('; ')}`;
    case 'quota':
      return b.bucket === 'MaxInstances'
        ? `at MaxInstances: ${b.in_use} of ${b.limit ?? '?'} instances`
        : `at the cloud's quota with ${b.in_use} instances${b.since ? ` since ${clockTime(b.since)}` : ''}${b.until ? ` (retry at ${clockTime(b.until)})` : ''}${b.error ? `: ${b.error}` : ''}`;
    case 'create_declined':
      return `no instance can be created now: ${b.why}${b.until ? ` (until ${clockTime(b.until)})` : ''}`;
    case 'cluster_capacity':
      return 'waiting for room on the cluster';
    case 'fair_share':
      return (
        `fair share: owner ${b.owner} has used ${percent(b.used_share)} of the last ${span(b.window_ms)}'s VCPU-seconds against a share of ${percent(b.target_share)}; ` +
        `${b.moved_back} container${b.moved_back === 1 ? '' : 's'} of owners further below their share go first`
      );
    case 'waiting_warm_instance': {
      const has = b.has === 'image' ? 'its image' : 'some of its inputs';
      const what =
        b.pool !== undefined && b.pool > 1
          ? `one of ${b.pool} busy instances that have ${has} (likeliest ${b.instance}); one frees in ~${span(b.frees_in_ms)}`
          : `instance ${b.instance}, which has ${has} and frees in ~${span(b.frees_in_ms)}`;
      return `waiting up to ${span(b.timeout_ms)} for ${what} (until ${clockTime(b.wait_until)} at most; then any instance)`;
    }
    case 'spot_capacity_out':
      return (
        `spot capacity out for ${b.types[0] ?? '?'}${b.types.length > 1 ? `(+${b.types.length - 1} more)` : ''} since ${clockTime(b.since)}; ` +
        (b.fallback_at ? `falling back to on-demand at ${clockTime(b.fallback_at)}` : 'no on-demand type fits it')
      );
    case 'starts_held':
      return (
        `not locked: since ${clockTime(b.since)} containers keep going back to the queue without running (crunch-run refuses them or exits first), ` +
        `so new locks are held and one container is tried at a time (next at ${clockTime(b.next_trial)}); see the dispatcher's log`
      );
    case 'last_attempt_held':
      return (
        `not locked: locked ${b.lock_count} times of MaxDispatchAttempts ${b.max_dispatch_attempts}, its next lock is its last attempt, ` +
        `so it waits until a container has run since the dispatcher started (until ${clockTime(b.until)} at most)`
      );
    case 'spending_cap':
      return (
        `spending cap: ${perHour(b.burn_per_hour)} of ${perHour(b.cap_per_hour)} in use` +
        (b.scope === 'owner' ? ` by owner ${b.owner ?? '?'}` : '') +
        (b.level === 'soft' ? ' (soft level: new VMs only preemptible, for higher-priority work)' : '') +
        (b.behind_higher_priority ? '; a higher-priority container waits for the money first' : '')
      );
  }
}

/**
 * The sentence the settings file's `SchedulingStatus.AppendEstimate` adds to
 * scheduling_status (two spaces before it, as the reference joins its
 * sentences): "Estimated start in 4-9 minutes." Rounded to what a user can
 * act on: minutes under two hours, then hours.
 */
export function estimateSentence(now: number, low: number, high: number): string {
  const lo = Math.max(0, low - now);
  const hi = Math.max(lo, high - now);
  if (hi < 60_000) return 'Estimated start in less than a minute.';
  if (hi < 2 * 3_600_000) {
    const a = Math.max(1, Math.round(lo / 60_000));
    const b = Math.max(a, Math.round(hi / 60_000));
    return a === b ? `Estimated start in about ${b} minute${b === 1 ? '' : 's'}.` : `Estimated start in ${a}-${b} minutes.`;
  }
  const a = Math.max(1, Math.round(lo / 3_600_000));
  const b = Math.max(a, Math.round(hi / 3_600_000));
  return a === b ? `Estimated start in about ${b} hour${b === 1 ? '' : 's'}.` : `Estimated start in ${a}-${b} hours.`;
}
