/**
 * LeavingTimes: how long an instance the pool shut down still counts
 * against MaxInstances, from the destroy request to the first cloud listing
 * without it, learnt from the pool's `shutdownToGone` events. At
 * MaxInstances a container that needs a new instance waits for that as
 * well as for a boot. Before any is seen, a listing comes anywhere in one
 * SyncInterval after the destroy: none, half of it, all of it.
 */
import type { PoolEvent } from '../worker/pool.js';
import { RecentSample, type Spread } from './stats.js';

export class LeavingTimes {
  private readonly sample: RecentSample;
  private readonly prior: Spread;

  constructor(syncIntervalMs: number, sampleSize = 20) {
    this.sample = new RecentSample(sampleSize);
    this.prior = { low: 0, typical: syncIntervalMs / 2, high: syncIntervalMs };
  }

  /** Feeds a pool event; only `shutdownToGone` counts. */
  observe(event: PoolEvent): void {
    if (event.type === 'shutdownToGone' && event.sinceShutdownMs >= 0) this.sample.add(event.sinceShutdownMs);
  }

  /** From a destroy request to the instance no longer counted, ms: the median (typical) and p10/p90 of the recent ones. */
  estimate(): Spread {
    return this.sample.count > 0 ? this.sample.spread() : this.prior;
  }
}
