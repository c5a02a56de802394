/**
 * The small statistics the learners share: a bounded sample that keeps the
 * most recent values, and percentiles of it computed once per change.
 */

/** Typical value and spread of something learnt, in ms. */
export interface Spread {
  /** The median. */
  typical: number;
  /** The 10th percentile. */
  low: number;
  /** The 90th percentile. */
  high: number;
}

/**
 * The last `size` values recorded (a ring), with their spread. The spread
 * is computed on first read after a change, so a learner asked about the
 * same key thousands of times per forecast sorts its sample once.
 */
export class RecentSample {
  private readonly values: number[] = [];
  private next = 0;
  private cached: Spread | undefined;
  private sorted: number[] | undefined;
  /** Values ever added, including those the ring has dropped since. */
  total = 0;

  constructor(private readonly size: number) {}

  get count(): number {
    return this.values.length;
  }

  add(v: number): void {
    this.total++;
    if (this.values.length < this.size) this.values.push(v);
    else this.values[this.next] = v;
    this.next = (this.next + 1) % this.size;
    this.cached = undefined;
    this.sorted = undefined;
  }

  spread(): Spread {
    if (!this.cached) {
      const sorted = this.sortedValues();
      this.cached = { typical: quantile(sorted, 0.5), low: quantile(sorted, 0.1), high: quantile(sorted, 0.9) };
    }
    return this.cached;
  }

  private sortedValues(): number[] {
    this.sorted ??= [...this.values].sort((a, b) => a - b);
    return this.sorted;
  }
}

/** The q-quantile of an ascending array by linear interpolation; 0 when empty. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const pos = (sorted.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.min(sorted.length - 1, lo + 1);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo);
}
