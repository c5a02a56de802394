/**
 * Runtimes learnt while many runs of a kind are still going.
 *
 * Two biases spoil a plain "median of the last N finished runs" after a
 * burst of submissions, and both make the work look shorter (or, corrected
 * crudely, far longer) than it is:
 * - the runs that have finished so far are the short ones: the long ones of
 *   the same cohort are still running. Kaplan-Meier handles it: each running
 *   container is an observation censored at its elapsed time (it is known to
 *   take at least that long), so a young run says little and an old one
 *   much;
 * - the last N runs to finish from one cohort are its longest so far. So the
 *   sample is not the last N but a random N, drawn with a preference for
 *   recent ones that fades over hours (weighted reservoir sampling with
 *   weights growing as e^(t / DECAY_MS)): within a burst it is uniform,
 *   across a day it follows the work as it changes.
 */
import type { Spread } from './stats.js';

/** The time scale over which older runs count for less, in the sample and in its weight. */
export const DECAY_MS = 60 * 60_000;

/**
 * A bounded random sample of runtimes, favouring recent ones. Deterministic:
 * the same values at the same times give the same sample.
 */
export class DecayedSample {
  private readonly values: number[] = [];
  /** Per kept value, its rank: the `size` smallest are kept (see `add`). */
  private readonly ranks: number[] = [];
  private sorted: number[] | undefined;
  private seed = 0x9e3779b9;
  private lastAt = -Infinity;
  private decayed = 0;
  /** Values ever added. */
  total = 0;

  constructor(private readonly size: number) {}

  get count(): number {
    return this.values.length;
  }

  /**
   * How many finished runs the sample stands for: a count that decays by e
   * every DECAY_MS, so it compares with the runs going on now.
   */
  represents(): number {
    return this.decayed;
  }

  /** A run of `v` ms finished at `at` (epoch ms). */
  add(v: number, at: number): void {
    this.total++;
    if (at > this.lastAt) {
      this.decayed = this.lastAt === -Infinity ? 0 : this.decayed * Math.exp(-(at - this.lastAt) / DECAY_MS);
      this.lastAt = at;
    }
    this.decayed++;
    // Efraimidis-Spirakis with weight w = e^(at / DECAY_MS): keep the largest
    // u^(1/w), i.e. the smallest log(-log u) - at / DECAY_MS.
    const rank = Math.log(-Math.log(this.uniform())) - at / DECAY_MS;
    if (this.values.length < this.size) {
      this.values.push(v);
      this.ranks.push(rank);
    } else {
      let worst = 0;
      for (let i = 1; i < this.ranks.length; i++) if (this.ranks[i] > this.ranks[worst]) worst = i;
      if (rank >= this.ranks[worst]) return;
      this.values[worst] = v;
      this.ranks[worst] = rank;
    }
    this.sorted = undefined;
  }

  sortedValues(): readonly number[] {
    this.sorted ??= [...this.values].sort((a, b) => a - b);
    return this.sorted;
  }

  /** In (0, 1): xorshift32, so runs are repeatable. */
  private uniform(): number {
    let x = this.seed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.seed = x >>> 0;
    return (this.seed + 0.5) / 2 ** 32;
  }
}

/**
 * The runtime spread (p10, median, p90) from finished runs and runs still
 * going, by Kaplan-Meier. `finished` (ascending) are runtimes, each standing
 * for `weight` runs (a sample of many); `running` (ascending) are the elapsed
 * times of the runs going on, each standing for itself.
 *
 * While more than half of the runs are still going past every finished one
 * the median cannot be read off; if at least a fifth have finished (and
 * enough of them to trust), the curve so far is extended by the log-normal
 * through its p10 and its last point (runtimes of batch work are roughly
 * log-normal). Otherwise undefined. A p90 beyond what has been seen is
 * extended the same way, and at least the longest time seen (finished or
 * elapsed).
 */
export function survivalSpread(finished: readonly number[], weight: number, running: readonly number[]): Spread | undefined {
  if (finished.length === 0) return undefined;
  let atRisk = finished.length * weight + running.length;
  let survival = 1;
  const q = [0.1, 0.5, 0.9];
  const found: number[] = [];
  let i = 0;
  let j = 0;
  let lastT = 0;
  while (i < finished.length && found.length < q.length) {
    const t = finished[i];
    // Runs still going that have not reached t left the risk set before it.
    while (j < running.length && running[j] < t) {
      atRisk -= 1;
      j++;
    }
    let d = 0;
    while (i < finished.length && finished[i] === t) {
      d += weight;
      i++;
    }
    survival *= 1 - d / atRisk;
    atRisk -= d;
    lastT = t;
    while (found.length < q.length && 1 - survival >= q[found.length] - 1e-12) found.push(t);
  }
  const longest = Math.max(finished[finished.length - 1], running.length > 0 ? running[running.length - 1] : 0);
  if (found.length === 3) return { low: found[0], typical: found[1], high: found[2] };
  const done = 1 - survival;
  const fit = found.length >= 1 && done >= MIN_FIT_FRACTION && finished.length >= MIN_FIT_RUNS && lastT > found[0] ? logNormalThrough(found[0], 0.1, lastT, done) : undefined;
  if (found.length === 2) return { low: found[0], typical: found[1], high: Math.max(longest, fit ? fit(0.9) : 0) };
  if (!fit) return undefined;
  return { low: found[0], typical: Math.max(lastT, fit(0.5)), high: Math.max(longest, fit(0.9)) };
}

/** The share of runs that must have finished before the curve is extended past them. */
const MIN_FIT_FRACTION = 0.2;
/** And how many of them the sample must hold. */
const MIN_FIT_RUNS = 10;

/** The q-quantile function of the log-normal whose p-quantiles at pa and pb are ta and tb. */
function logNormalThrough(ta: number, pa: number, tb: number, pb: number): ((q: number) => number) | undefined {
  const za = normalQuantile(pa);
  const zb = normalQuantile(pb);
  if (!(ta > 0) || !(zb > za)) return undefined;
  const sigma = (Math.log(tb) - Math.log(ta)) / (zb - za);
  const mu = Math.log(ta) - za * sigma;
  return (q) => Math.exp(mu + sigma * normalQuantile(q));
}

/** The standard normal's quantile (Acklam's rational approximation, relative error below 1.2e-9). */
export function normalQuantile(p: number): number {
  if (p <= 0) return -Infinity;
  if (p >= 1) return Infinity;
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  if (p > 1 - low) return -normalQuantile(1 - p);
  const q = p - 0.5;
  const r = q * q;
  return ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

/** P(Z > z) for the standard normal. */
export function normalSurvival(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/**
 * The complementary error function, by the Chebyshev fit of Numerical
 * Recipes (fractional error below 1.2e-7 everywhere): plenty for the odds
 * a warm hold compares with its confidence, and for a forecast.
 */
export function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}
