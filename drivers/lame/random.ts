/**
 * A small seeded PRNG (mulberry32) for the lame cloud. Every random choice
 * the cloud makes (create failures, boot times, run times, crashes, broken
 * VMs) comes from one of these, so a `Seed` parameter makes a whole run
 * repeatable. Not for anything secret: host keys and instance ids do not
 * come from here.
 */
import { randomInt } from 'node:crypto';

export class Random {
  private state: number;

  /** @param seed any integer; without one, a random seed (the run is then not repeatable). */
  constructor(seed?: number) {
    this.state = (seed ?? randomInt(0, 2 ** 32)) >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** True with probability `p` (always false for p <= 0; always draws, so the sequence does not depend on p). */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** A number in [min, max] (min when max <= min). Draws once whatever the range. */
  between(min: number, max: number): number {
    const r = this.next();
    return max <= min ? min : min + r * (max - min);
  }
}
