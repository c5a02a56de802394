/**
 * Spot price history, fetched as the reference fetches it: only while spot
 * instances are running. Each listing that shows spot instances asks for
 * the history of their types when some type and zone among them has no
 * fetch newer than SpotPriceUpdateInterval, so an idle cluster, or one
 * without preemptible types, makes no DescribeSpotPriceHistory calls. The
 * cost a worker reports (crunch-run reads `priceHistory()`) follows it.
 */
import './sdk-env.js';
import { type EC2Client, paginateDescribeSpotPriceHistory } from '@aws-sdk/client-ec2';
import type { PricePoint } from '../../src/cloud/types.js';
import type { Clock } from '../../src/clock/index.js';
import type { Logger } from '../../src/log.js';
import { priceAt } from '../../src/cost/price.js';
import { PageTokens } from './pages.js';

const keyOf = (providerType: string, zone: string): string => `${providerType}\u0000${zone}`;

/**
 * A SpotPrice string as a number ("0.031200"), or undefined for one that is
 * not a plain decimal number: Number() would read "" and " " as 0, a free
 * spot VM, where the reference skips the entry as bogus.
 */
function parsePrice(s: string | undefined): number | undefined {
  if (s === undefined || !/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) return undefined;
  const price = Number(s);
  return Number.isFinite(price) ? price : undefined;
}

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
  /** SpotPriceUpdateInterval in ms; 0: never fetch. */
  intervalMs: number;
}

/** A running spot instance, as a listing shows it. */
export interface SpotInstanceRef {
  providerType: string;
  zone: string;
}

/** After a failed fetch, the next listing may try again this much later at the earliest (at most the interval). */
export const SPOT_RETRY_AFTER_FAILURE_MS = 5 * 60_000;

export class SpotPrices {
  private readonly prices = new Map<string, PricePoint[]>();
  /** Per type and zone, when a fetch last covered it (whether or not EC2 had points for it). */
  private readonly updatedAt = new Map<string, number>();
  private inFlight: Promise<void> | undefined;
  private retryAt = 0;

  constructor(private readonly opts: SpotPricesOptions) {}

  /** False when SpotPriceUpdateInterval is 0: prices are never fetched. */
  get enabled(): boolean {
    return this.opts.intervalMs > 0;
  }

  /** The known history of `providerType` in `zone`, oldest first (empty when unknown). */
  history(providerType: string, zone: string): PricePoint[] {
    return [...(this.prices.get(keyOf(providerType, zone)) ?? [])];
  }

  /**
   * The lowest price in effect at `now` for `providerType` among the zones
   * with a known history (those where spot instances ran recently);
   * undefined when none is known.
   */
  lowest(providerType: string, now: number): number | undefined {
    let best: number | undefined;
    const prefix = keyOf(providerType, '');
    for (const [key, points] of this.prices) {
      if (!key.startsWith(prefix)) continue;
      const p = priceAt(points, now);
      if (p !== undefined && (best === undefined || p < best)) best = p;
    }
    return best;
  }

  /**
   * Called with the spot instances of each listing: fetches the history of
   * their types unless every type and zone among them was fetched less than
   * an interval ago. A call while a fetch runs waits for it. Failures are
   * logged, not thrown: stale prices are better than none, and a later
   * listing retries (not sooner than a few minutes, so a missing permission
   * does not turn every listing into a failed call and a warning).
   */
  async update(running: readonly SpotInstanceRef[]): Promise<void> {
    if (this.inFlight) await this.inFlight;
    if (!this.enabled || running.length === 0) return;
    const now = this.opts.clock.now();
    const stale = now - this.opts.intervalMs;
    if (now < this.retryAt || running.every((r) => (this.updatedAt.get(keyOf(r.providerType, r.zone)) ?? -Infinity) >= stale)) return;
    this.inFlight ??= this.fetch(running).finally(() => {
      this.inFlight = undefined;
    });
    await this.inFlight;
  }

  private async fetch(running: readonly SpotInstanceRef[]): Promise<void> {
    const { clock, intervalMs, client, logger } = this.opts;
    const now = clock.now();
    // EC2 cannot say "these are all the changes up to T", so ask for three
    // intervals' worth each time: a missed refresh or two loses nothing.
    const input = {
      StartTime: new Date(now - 3 * intervalMs),
      Filters: [
        { Name: 'instance-type', Values: [...new Set(running.map((r) => r.providerType))].sort() },
        { Name: 'product-description', Values: ['Linux/UNIX'] },
      ],
    };
    const fetched = new Map<string, PricePoint[]>();
    const tokens = new PageTokens('DescribeSpotPriceHistory');
    let failed = false;
    try {
      for await (const page of paginateDescribeSpotPriceHistory({ client }, input)) {
        tokens.check(page.NextToken);
        for (const ent of page.SpotPriceHistory ?? []) {
          const price = parsePrice(ent.SpotPrice);
          if (!ent.InstanceType || price === undefined || !ent.Timestamp) continue;
          const key = keyOf(ent.InstanceType, ent.AvailabilityZone ?? '');
          const list = fetched.get(key) ?? [];
          list.push({ startTime: ent.Timestamp.getTime(), price });
          fetched.set(key, list);
        }
      }
    } catch (err) {
      failed = true;
      this.retryAt = now + Math.min(intervalMs, SPOT_RETRY_AFTER_FAILURE_MS);
      logger.warn('error retrieving spot instance prices', { error: err });
    }
    // The pages that came before a failure are kept, as the reference keeps them.
    for (const [key, points] of fetched) {
      this.prices.set(key, normalizePriceHistory([...(this.prices.get(key) ?? []), ...points]));
      this.updatedAt.set(key, now);
    }
    // A zone EC2 had nothing for counts as fetched too, or every listing would
    // ask again; after a failure it may be on a page never read.
    if (!failed) for (const r of running) this.updatedAt.set(keyOf(r.providerType, r.zone), now);
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
