/**
 * Spot price history for the configured preemptible types, refreshed every
 * SpotPriceUpdateInterval on the injected clock, so the cost a worker
 * reports (crunch-run reads `priceHistory()`) follows real prices.
 */
import './sdk-env.js';
import { type EC2Client, paginateDescribeSpotPriceHistory } from '@aws-sdk/client-ec2';
import type { PricePoint } from '../../src/cloud/types.js';
import type { Clock, Timer } from '../../src/clock/index.js';
import type { Logger } from '../../src/log.js';

const keyOf = (providerType: string, zone: string): string => `${providerType}\u0000${zone}`;

/**
 * Sorts oldest first and keeps only the points where the price changed (the
 * first point of each run of equal prices, and one point per start time).
 * The reference keeps the same points, newest first; our contract is oldest first.
 */
export function normalizePriceHistory(points: PricePoint[]): PricePoint[] {
  const sorted = [...points].sort((a, b) => a.startTime - b.startTime);
  const out: PricePoint[] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last && (last.startTime === p.startTime || last.price === p.price)) continue;
    out.push(p);
  }
  return out;
}

export interface SpotPricesOptions {
  client: EC2Client;
  clock: Clock;
  logger: Logger;
  /** Ms between refreshes; 0: never. */
  intervalMs: number;
  /** Provider types to track (the preemptible ones in the config). */
  providerTypes: string[];
}

export class SpotPrices {
  private readonly prices = new Map<string, PricePoint[]>();
  private readonly updatedAt = new Map<string, number>();
  private timer: Timer | undefined;
  private inFlight: Promise<void> | undefined;

  constructor(private readonly opts: SpotPricesOptions) {}

  /** True when there is something to track. */
  get enabled(): boolean {
    return this.opts.intervalMs > 0 && this.opts.providerTypes.length > 0;
  }

  /** Fetches now and then every interval. */
  start(): void {
    if (!this.enabled || this.timer) return;
    void this.refresh();
    this.timer = this.opts.clock.setRepeatingTimer(this.opts.intervalMs, () => void this.refresh());
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** The known history of `providerType` in `zone`, oldest first (empty when unknown). */
  history(providerType: string, zone: string): PricePoint[] {
    return [...(this.prices.get(keyOf(providerType, zone)) ?? [])];
  }

  /**
   * One refresh (a call while another runs joins it). Failures are logged,
   * not thrown: stale prices are better than none, and the next tick retries.
   */
  refresh(): Promise<void> {
    this.inFlight ??= this.fetch().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async fetch(): Promise<void> {
    const { clock, intervalMs, providerTypes, client, logger } = this.opts;
    const now = clock.now();
    // EC2 cannot say "these are all the changes up to T", so ask for three
    // intervals' worth each time: a missed refresh or two loses nothing.
    const input = {
      StartTime: new Date(now - 3 * intervalMs),
      Filters: [
        { Name: 'instance-type', Values: [...new Set(providerTypes)] },
        { Name: 'product-description', Values: ['Linux/UNIX'] },
      ],
    };
    const fetched = new Map<string, PricePoint[]>();
    try {
      for await (const page of paginateDescribeSpotPriceHistory({ client }, input)) {
        for (const ent of page.SpotPriceHistory ?? []) {
          const price = Number(ent.SpotPrice);
          if (!ent.InstanceType || ent.SpotPrice === undefined || !Number.isFinite(price) || !ent.Timestamp) continue;
          const key = keyOf(ent.InstanceType, ent.AvailabilityZone ?? '');
          const list = fetched.get(key) ?? [];
          list.push({ startTime: ent.Timestamp.getTime(), price });
          fetched.set(key, list);
        }
      }
    } catch (err) {
      logger.warn('error retrieving spot instance prices', { error: err });
      return;
    }
    for (const [key, points] of fetched) {
      this.prices.set(key, normalizePriceHistory([...(this.prices.get(key) ?? []), ...points]));
      this.updatedAt.set(key, now);
    }
    // A type/zone nobody has quoted for a long time is dropped, so the map
    // does not grow with every zone a type was ever seen in.
    for (const [key, at] of this.updatedAt) {
      if (at < now - 64 * intervalMs) {
        this.updatedAt.delete(key);
        this.prices.delete(key);
      }
    }
    logger.debug('updated spot prices', { Series: fetched.size });
  }
}
