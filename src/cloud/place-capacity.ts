/**
 * What a driver remembers of capacity errors per place: an instance type,
 * in one zone or subnet, in one market (spot or on-demand), was out of
 * stock, so the next creates skip that place until the memory expires.
 * Without it, a driver that fails over between zones or subnets asks the
 * full ones again on every create, each costing an API call (and, on EC2,
 * a count against the rate limit) before reaching a place that has room.
 *
 * The pool keeps the same kind of memory per type (`src/worker/throttle.ts`),
 * once every place of a type is full; this one is below it, per place.
 */
import type { Clock } from '../clock/index.js';
import type { InstanceType } from '../config/types.js';

/**
 * How long a place stays skipped after a capacity error: as long as the
 * pool holds a type back (CAPACITY_ERROR_TTL_MS), so that when the pool
 * asks again, the driver asks every place again too.
 */
export const PLACE_CAPACITY_TTL_MS = 60_000;

const keyOf = (type: Pick<InstanceType, 'ProviderType' | 'Preemptible'>, place: string): string =>
  `${type.ProviderType}\u0000${place}\u0000${type.Preemptible ? 'spot' : 'on-demand'}`;

export class PlaceCapacityMemory {
  /** Key -> epoch ms the place is tried again. */
  private readonly until = new Map<string, number>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs = PLACE_CAPACITY_TTL_MS,
  ) {}

  /** A create of `type` in `place` failed for want of capacity: skip that place (for this type and market) until the TTL passes. */
  mark(type: Pick<InstanceType, 'ProviderType' | 'Preemptible'>, place: string): void {
    const now = this.clock.now();
    this.until.set(keyOf(type, place), now + this.ttlMs);
    // Bounded by the types and places configured; expired entries go when the map grows.
    if (this.until.size > 1024) for (const [k, until] of this.until) if (until <= now) this.until.delete(k);
  }

  /** A create of `type` in `place` worked: the place has room again. */
  clear(type: Pick<InstanceType, 'ProviderType' | 'Preemptible'>, place: string): void {
    this.until.delete(keyOf(type, place));
  }

  /** True while `type` in `place` is remembered as out of capacity. */
  isOut(type: Pick<InstanceType, 'ProviderType' | 'Preemptible'>, place: string): boolean {
    const key = keyOf(type, place);
    const until = this.until.get(key);
    if (until === undefined) return false;
    if (this.clock.now() < until) return true;
    this.until.delete(key);
    return false;
  }
}
