/**
 * The simulator's check of a spending cap (settings `SpendingCap`): the
 * burn as the cloud bills it (every VM at its price from its create call
 * until its destroy succeeded, or the end of the run), sampled at every
 * simulated minute, and its exact maximum over the whole run; beside it,
 * queue waits by priority, to see that high-priority work is served first.
 *
 * Present whenever the settings give a level, even with `Enable: false`:
 * the run without the cap then shows how far its natural burn goes over
 * the same levels.
 */
import type { Settings } from '../config/settings.js';
import { waitSummary } from './accuracy.js';
import type { VMLife } from './cloud.js';
import type { ContainerOutcome } from './result.js';

const MINUTE = 60_000;

export interface SpendCapFigures {
  enabled: boolean;
  /** $/h: the hard level (0: not set) and the soft one. */
  cap: number;
  soft: number;
  /** $/h: the highest burn at any instant of the run, and when (ms from the start). */
  maxBurn: number;
  maxBurnAtMs: number;
  /** Simulated minutes sampled (0, 1, 2, ... up to the end), and those whose burn was over each level. */
  minutes: number;
  minutesOver: number;
  minutesOverSoft: number;
  /** $/h: the mean of the minute samples. */
  meanBurn: number;
  /** Queue wait (submitted to Running) by band of the workload's priority ("500-999"), highest first. */
  waitsByPriority: Array<{ priority: string; containers: number; ran: number; p50Ms: number; p95Ms: number; maxMs: number }>;
}

/** A tolerance for sums of prices: a burn equal to the cap is within it. */
const EPS = 1e-9;

/** The figures for a run, or undefined when the settings set no level. */
export function spendCapFigures(settings: Settings, vms: Iterable<VMLife>, startedAt: number, endedAt: number, containers: readonly ContainerOutcome[]): SpendCapFigures | undefined {
  const s = settings.SpendingCap;
  if (!(s.Hard > 0 || s.Soft > 0)) return undefined;
  const cap = s.Hard;
  const soft = s.Soft > 0 ? Math.min(s.Soft, cap > 0 ? cap : Infinity) : 0;
  // The burn steps at each create and destroy: a sweep over those steps.
  const steps: Array<[number, number]> = [];
  for (const vm of vms) {
    steps.push([vm.createdAt, vm.price]);
    steps.push([vm.destroyedAt ?? endedAt, -vm.price]);
  }
  // At equal times, ends before starts: a VM gone at t and one created at t do not overlap.
  steps.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let burn = 0;
  let maxBurn = 0;
  let maxBurnAt = startedAt;
  let minutes = 0;
  let over = 0;
  let overSoft = 0;
  let sum = 0;
  let i = 0;
  const sample = (): void => {
    minutes++;
    sum += burn;
    if (cap > 0 && burn > cap + EPS) over++;
    if (soft > 0 && burn > soft + EPS) overSoft++;
  };
  const take = (k: number): void => {
    burn += steps[k]![1];
    if (burn > maxBurn + EPS) {
      maxBurn = burn;
      maxBurnAt = steps[k]![0];
    }
  };
  for (let t = startedAt; t <= endedAt; t += MINUTE) {
    for (; i < steps.length && steps[i]![0] <= t; i++) take(i);
    sample();
  }
  // The exact maximum, also between the last sample and the end.
  for (; i < steps.length; i++) take(i);
  return {
    enabled: s.Enable,
    cap,
    soft,
    maxBurn: round(maxBurn),
    maxBurnAtMs: maxBurnAt - startedAt,
    minutes,
    minutesOver: over,
    minutesOverSoft: overSoft,
    meanBurn: round(minutes > 0 ? sum / minutes : 0),
    waitsByPriority: waitsByPriority(containers, s.DeferBelowPriority),
  };
}

/** Band lower bounds: work the workloads give priorities from 1 to 1000 and more; DeferBelowPriority is added as a bound of its own. */
const BANDS = [1, 10, 100, 500, 1000, 10_000];

/** "500-999", "1000+": the band of `p` among `bounds` (ascending). */
function bandOf(p: number, bounds: readonly number[]): { low: number; label: string } {
  let i = bounds.length - 1;
  while (i > 0 && p < bounds[i]!) i--;
  const low = p < bounds[0]! ? 0 : bounds[i]!;
  const next = p < bounds[0]! ? bounds[0] : bounds[i + 1];
  return { low, label: next === undefined ? `${low}+` : `${low}-${next - 1}` };
}

function waitsByPriority(containers: readonly ContainerOutcome[], deferBelow: number): SpendCapFigures['waitsByPriority'] {
  const bounds = [...new Set([...BANDS, ...(deferBelow > 0 ? [deferBelow] : [])])].sort((a, b) => a - b);
  const by = new Map<string, { low: number; containers: number; waits: number[] }>();
  for (const c of containers) {
    if (c.priority === undefined || c.submittedAt === undefined) continue;
    const band = bandOf(c.priority, bounds);
    let g = by.get(band.label);
    if (!g) by.set(band.label, (g = { low: band.low, containers: 0, waits: [] }));
    g.containers++;
    if (c.runningAt !== undefined) g.waits.push(c.runningAt - c.submittedAt);
  }
  return [...by.entries()]
    .sort((a, b) => b[1].low - a[1].low)
    .map(([priority, g]) => {
      const { count: ran, p50Ms, p95Ms, maxMs } = waitSummary(g.waits.sort((a, b) => a - b));
      return { priority, containers: g.containers, ran, p50Ms, p95Ms, maxMs };
    });
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
