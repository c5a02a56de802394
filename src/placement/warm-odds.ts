/**
 * The odds that a busy warm VM has room for a waiting container within a
 * given time, and that at least one of several does. Locality (issue 15)
 * holds a container for a warm VM only while one is expected to free within
 * `CacheTimeout`: with one estimate per VM taken at its 90th percentile,
 * five warm VMs each with even odds of freeing within a minute count for
 * nothing, although the first of them frees within the minute 97 % of the
 * time. Pooling the VMs asks the right question: how soon will the first of
 * them have room, with the confidence a hold needs (`HOLD_CONFIDENCE`).
 *
 * Pure functions of plain values, so that tests pin them with literals.
 */
import type { Spread } from '../estimate/stats.js';
import { normalQuantile, normalSurvival } from '../estimate/survival.js';

/**
 * The confidence a hold needs that a warm VM has room in time (within the
 * pull it saves, `locality.ts`). A hold that succeeds saves the pull less
 * the wait, about half a pull; one that fails has waited up to a pull and
 * pulls all the same. It pays when p/2 > (1 - p), i.e. p > 2/3. Measured
 * (bench/README.md, "Locality"): 0.9 held too rarely (pulls -36..-40 %),
 * 0.5 cost p95 wait.
 */
export const HOLD_CONFIDENCE = 2 / 3;

/** P(a run ends within `t` ms from now), for `t` >= 0. */
export type EndOdds = (t: number) => number;

/** A running container on a busy VM: its odds of ending, and the room it frees. */
export interface RunEnd<R> {
  odds: EndOdds;
  charge: R;
}

/** A busy VM and what it would take for it to have room for the container. */
export interface BusyVm<R> {
  free: R;
  runs: ReadonlyArray<RunEnd<R>>;
}

/**
 * The odds that a run whose total runtime has this spread (p10, median,
 * p90, taken as a log-normal), and that has lasted `elapsedMs`, ends within
 * `t` ms from now: P(T <= e + t | T > e). A run far past every estimate
 * (its survival below 1e-9) gives 0: nothing is known of when it ends.
 */
export function runEndOdds(total: Spread, elapsedMs: number): EndOdds {
  const mu = Math.log(Math.max(1, total.typical));
  const z90 = normalQuantile(0.9);
  const sigma = Math.max(0.01, (Math.log(Math.max(1, total.high)) - Math.log(Math.max(1, total.low))) / (2 * z90));
  const survival = (x: number): number => (x <= 0 ? 1 : normalSurvival((Math.log(x) - mu) / sigma));
  const lived = survival(elapsedMs);
  if (lived < 1e-9) return () => 0;
  return (t) => (t <= 0 ? 0 : Math.min(1, Math.max(0, 1 - survival(elapsedMs + t) / lived)));
}

/**
 * The odds that the VM has room within `t` ms. With room now, 1. When any
 * one of its runs ending would make room, the odds that at least one of
 * those ends; otherwise the odds that the likeliest runs enough to make
 * room all end (taken as independent). 0 when even an empty VM would not do.
 */
export function vmFreeOdds<R>(vm: BusyVm<R>, t: number, plus: (a: R, b: R) => R, fits: (room: R, need: R) => boolean, need: R): number {
  if (fits(vm.free, need)) return 1;
  let none = 1;
  let anyAlone = false;
  for (const r of vm.runs) {
    if (!fits(plus(vm.free, r.charge), need)) continue;
    anyAlone = true;
    none *= 1 - r.odds(t);
  }
  if (anyAlone) return 1 - none;
  const byOdds = vm.runs.map((r) => ({ p: r.odds(t), charge: r.charge })).sort((a, b) => b.p - a.p);
  let room = vm.free;
  let all = 1;
  for (const r of byOdds) {
    room = plus(room, r.charge);
    all *= r.p;
    if (fits(room, need)) return all;
  }
  return 0;
}

/**
 * The odds that at least `m` of VMs whose own odds are `ps` (independent)
 * have room: for m = 1, 1 - prod(1 - p). Containers that wait for the same
 * VMs and come first take the first ones to free, so the m-th container
 * needs m of them.
 */
export function atLeastOdds(ps: readonly number[], m: number): number {
  if (m <= 0) return 1;
  if (m > ps.length) return 0;
  // exactly[k]: the odds that exactly k of those seen so far have room, for k < m.
  const exactly = new Array<number>(m).fill(0);
  exactly[0] = 1;
  for (const p of ps) for (let k = m - 1; k >= 0; k--) exactly[k] = exactly[k] * (1 - p) + (k > 0 ? exactly[k - 1] * p : 0);
  return Math.max(0, 1 - exactly.reduce((a, b) => a + b, 0));
}

/**
 * The shortest time (ms, to `stepMs`) within which at least `m` of `count`
 * VMs have room with at least `confidence` (per VM odds `oddsOf(i, t)`,
 * growing with t), or Infinity when not within `horizonMs`. `m` may fall
 * with t (those ahead that stop waiting). Bisection: the pooled odds only
 * grow with time.
 */
export function pooledFreeInMs(count: number, m: number | ((t: number) => number), oddsOf: (i: number, t: number) => number, confidence: number, horizonMs: number, stepMs = 1_000): number {
  const pooled = (t: number): number => {
    const ps: number[] = [];
    for (let i = 0; i < count; i++) ps.push(oddsOf(i, t));
    return atLeastOdds(ps, typeof m === 'function' ? m(t) : m);
  };
  if (count === 0 || !(horizonMs >= 0) || pooled(horizonMs) < confidence) return Infinity;
  if (pooled(0) >= confidence) return 0;
  let lo = 0;
  let hi = horizonMs;
  while (hi - lo > stepMs) {
    const mid = (lo + hi) / 2;
    if (pooled(mid) >= confidence) hi = mid;
    else lo = mid;
  }
  return Math.ceil(hi / stepMs) * stepMs;
}

/**
 * The containers of one image that will take a busy warm VM when one frees,
 * ahead of the next: those held for one (throughout), and those sent to a VM
 * that is not ready yet, only until that VM is expected ready (they take it
 * then, and no longer want a warm one). Only the latest `keep` of the second
 * kind are kept: a hold needs more warm VMs than that when more wait.
 */
export class WarmWaiters {
  private held = 0;
  /** Expected ready times (epoch ms) of the VMs the others wait for, latest first. */
  private readonly until: number[] = [];

  constructor(private readonly keep: number) {}

  /** One more: held (`Infinity`), or waiting for a VM expected ready at `readyAt`. */
  add(readyAt: number): void {
    if (readyAt === Infinity) {
      this.held++;
      return;
    }
    let i = this.until.length;
    while (i > 0 && this.until[i - 1] < readyAt) i--;
    this.until.splice(i, 0, readyAt);
    if (this.until.length > this.keep) this.until.pop();
  }

  /** How many still want a warm VM at `at` (epoch ms). */
  at(at: number): number {
    let n = this.held;
    for (const d of this.until) {
      if (d <= at) break;
      n++;
    }
    return n;
  }
}
