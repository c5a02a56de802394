/**
 * One instance as the start-time forecast (`forecast.ts`) plays it: what
 * runs on it and until when, when it could take a container, and when the
 * scheduler would shut it down to make way for another. Pure functions of
 * the instance's record.
 */
import type { IdleBehavior } from '../worker/states.js';
import type { Need } from './forecast-input.js';

/**
 * A container running or placed on an instance. `end` is when it is
 * expected to end; `waitEnd`, when it ends as one of many that a queue at
 * the limit waits for (a running one's at its own quantile of a spread,
 * see `spreadQuantile`; the same as `end` otherwise).
 */
export interface Reservation {
  end: number;
  waitEnd: number;
  need: Need;
}

export interface Inst {
  id: number;
  type: string;
  cap: Need;
  readyAt: number;
  cursor: number;
  res: Reservation[];
  idleBehavior: IdleBehavior;
  /** Set for an instance already shut down: when. */
  leftAt?: number;
  version: number;
  gone: boolean;
}

const BY_END = (a: Reservation, b: Reservation): number => a.end - b.end;
const BY_WAIT_END = (a: Reservation, b: Reservation): number => a.waitEnd - b.waitEnd;

/**
 * When `inst` could start something needing `need`: its cursor (and
 * readiness), once enough reservations end. `waiting`: no instance may be
 * added, so the container waits for running ones to end, in the order
 * `waitEnd` spreads them over; otherwise it takes a running one's end only
 * against the boot of a new instance, and each alone is likeliest to end
 * at `end`.
 */
export function fitTime(inst: Inst, need: Need, waiting: boolean): number {
  if (need.vcpus > inst.cap.vcpus || need.ram > inst.cap.ram || need.gpus > inst.cap.gpus) return Infinity;
  const t0 = Math.max(inst.readyAt, inst.cursor);
  let v = inst.cap.vcpus;
  let m = inst.cap.ram;
  let g = inst.cap.gpus;
  for (const r of inst.res) {
    v -= r.need.vcpus;
    m -= r.need.ram;
    g -= r.need.gpus;
  }
  if (need.vcpus <= v && need.ram <= m && need.gpus <= g) return t0;
  const byEnd = [...inst.res].sort(waiting ? BY_WAIT_END : BY_END);
  for (const r of byEnd) {
    v += r.need.vcpus;
    m += r.need.ram;
    g += r.need.gpus;
    if (need.vcpus <= v && need.ram <= m && need.gpus <= g) return Math.max(t0, waiting ? r.waitEnd : r.end);
  }
  return Infinity;
}

/** No container can start on `inst` before this: its readiness, its cursor, and, when it has no VCPU free, its first end (as `fitTime` counts ends). */
export function lowerBound(inst: Inst, waiting: boolean): number {
  const t0 = Math.max(inst.readyAt, inst.cursor);
  let used = 0;
  let firstEnd = Infinity;
  for (const r of inst.res) {
    used += r.need.vcpus;
    firstEnd = Math.min(firstEnd, waiting ? r.waitEnd : r.end);
  }
  return used < inst.cap.vcpus ? t0 : Math.max(t0, firstEnd);
}

/**
 * When `inst` is shut down for a container waiting at the limit: when it was
 * if it was; never on hold; otherwise once its last container ends, even
 * while it boots (the scheduler shuts down a booting or idle instance with
 * nothing placed on it, and the pool a drained one, without TimeoutIdle).
 */
export function shutdownAt(inst: Inst): number | undefined {
  if (inst.leftAt !== undefined) return inst.leftAt;
  return inst.idleBehavior === 'hold' ? undefined : lastEnd(inst, inst.cursor);
}

/** When the last of `inst`'s reservations ends, `from` at the earliest. */
function lastEnd(inst: Inst, from: number): number {
  let t = from;
  for (const r of inst.res) t = Math.max(t, r.waitEnd);
  return t;
}

/**
 * The i-th of a sequence of quantiles spread evenly over (0, 1) however
 * many are taken (the golden ratio's), starting at the median: one running
 * container alone is played at its median, many at quantiles that cover
 * the distribution of when they end.
 */
export function spreadQuantile(i: number): number {
  return (0.5 + i * 0.6180339887498949) % 1;
}
