/**
 * VCPU-seconds used by each owner over a sliding window, for fair share:
 * every pass reports what runs (owner and VCPUs of each container with a
 * crunch-run) and the time since the last report is credited to those
 * owners. The window is kept as a ring of buckets, so use older than the
 * window drops out a bucket at a time (at most 1/BUCKETS of the window
 * late) and the cost per pass is one map update per running owner.
 */

/** Buckets per window. */
const BUCKETS = 12;

export class ShareUsage {
  private readonly bucketMs: number;
  /** The bucket index (time / bucketMs) of each slot's contents. */
  private readonly slotIndex: number[] = new Array<number>(BUCKETS).fill(-Infinity);
  private readonly slots: Array<Map<string, number>> = Array.from({ length: BUCKETS }, () => new Map());
  private readonly totals = new Map<string, number>();
  private runningNow = new Map<string, number>();
  private last: number | undefined;

  constructor(windowMs: number) {
    if (!(windowMs > 0)) throw new Error(`fair share window must be longer than 0 ms, not ${windowMs}`);
    this.bucketMs = windowMs / BUCKETS;
  }

  /**
   * Credits the time since the last call to what the last call said was
   * running (passes are seconds apart, so a container's start or end is
   * placed within one interval), and remembers `running` as what runs now.
   */
  observe(now: number, running: Iterable<readonly [owner: string, vcpus: number]>): void {
    const current = new Map<string, number>();
    for (const [owner, vcpus] of running) current.set(owner, (current.get(owner) ?? 0) + vcpus);
    const index = Math.floor(now / this.bucketMs);
    this.expire(index);
    if (this.last !== undefined && now > this.last) {
      const seconds = (now - this.last) / 1000;
      const slot = index % BUCKETS;
      if (this.slotIndex[slot] !== index) {
        this.slotIndex[slot] = index;
        this.slots[slot].clear();
      }
      const bucket = this.slots[slot];
      for (const [owner, vcpus] of this.runningNow) {
        const add = vcpus * seconds;
        bucket.set(owner, (bucket.get(owner) ?? 0) + add);
        this.totals.set(owner, (this.totals.get(owner) ?? 0) + add);
      }
    }
    this.last = this.last === undefined ? now : Math.max(this.last, now);
    this.runningNow = current;
  }

  /** VCPU-seconds the owner used over the window. */
  used(owner: string): number {
    return this.totals.get(owner) ?? 0;
  }

  /** VCPUs the owner ran at the last `observe`. */
  running(owner: string): number {
    return this.runningNow.get(owner) ?? 0;
  }

  /** Owners with any use in the window or anything running. */
  owners(): Set<string> {
    return new Set([...this.totals.keys(), ...this.runningNow.keys()]);
  }

  /** Drops the buckets older than the window that ends in bucket `index`. */
  private expire(index: number): void {
    for (let s = 0; s < BUCKETS; s++) {
      if (this.slotIndex[s] > index - BUCKETS) continue;
      if (this.slots[s].size === 0) continue;
      for (const [owner, v] of this.slots[s]) {
        const left = (this.totals.get(owner) ?? 0) - v;
        if (left <= 1e-9) this.totals.delete(owner);
        else this.totals.set(owner, left);
      }
      this.slots[s].clear();
    }
  }
}
