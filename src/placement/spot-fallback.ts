/**
 * Spot fallback (settings `SpotFallback`): a container that asked for
 * preemptible VMs (`scheduling_parameters.preemptible`, which the controller
 * also sets for `AlwaysUsePreemptibleInstances`) may only run on preemptible
 * types, so when the cloud has no spot capacity for any of them it waits,
 * however long the shortage lasts. With fallback on, once every one of its
 * eligible spot types has been at capacity for longer than `After`, it runs
 * on the on-demand types that fit it, chosen as for a container that did not
 * ask for preemptible (so within MaximumPriceFactor of the cheapest of them).
 *
 * How long a type has been out: the pool remembers a capacity error for a
 * minute (`CAPACITY_ERROR_TTL_MS`), then lets one create try again; when it
 * fails, the pool starts a new shortage. Here a shortage lasts until a VM of
 * the type is created (`instanceCreated`: the cloud had capacity again), so
 * `since` is when the type first ran out, not when its latest error came,
 * and a container that arrives while the outage goes on does not wait
 * After again. A shortage not seen for `SHORTAGE_MEMORY_MS` is forgotten
 * all the same: nothing has asked for the type since, so nothing says the
 * outage then and one seen now are the same.
 *
 * A container that has fallen back stays on demand until it starts, so the
 * on-demand VM created for it is not left idle when a spot type is tried
 * again a minute later. Every other container goes back to spot as soon as
 * one of its spot types has room.
 *
 * The pass consults this only for preemptible containers (off: nothing is
 * built and the pass makes one check); answers are cached per pass.
 */
import type { Clock } from '../clock/index.js';
import type { Settings } from '../config/settings.js';
import type { Cluster, InstanceType } from '../config/types.js';
import { OnDemandTypes } from './on-demand.js';
import type { QueueEntry } from '../scheduler/interfaces.js';

/** A shortage seen again within this long of the last sighting, with no VM of the type created between, is the same shortage. */
export const SHORTAGE_MEMORY_MS = 3_600_000;

/** At most this many fallback records kept (the oldest go first): enough for a report, bounded for a daemon. */
const MAX_RECORDS = 10_000;

/** A preemptible container waiting because every eligible spot type is out. */
export interface SpotWait {
  /** Its eligible spot types, every one at capacity. */
  types: readonly InstanceType[];
  /** Epoch ms since every one of them has been at capacity. */
  since: number;
  /** Epoch ms it runs on demand if spot is still out then; Infinity when no on-demand type fits it. */
  fallbackAt: number;
}

/**
 * The pass's answer for one container: run on `onDemand` when set, else wait
 * for spot (`wait` says since when and until when; absent for a container
 * that fell back earlier and stays on demand).
 */
export interface FallbackDecision {
  onDemand?: readonly InstanceType[];
  wait?: SpotWait;
}

/** One container that ran on demand instead of spot. */
export interface SpotFallbackRecord {
  uuid: string;
  /** Epoch ms it was first placed on an on-demand VM. */
  at: number;
  /** The spot type it would have had (its cheapest eligible one) and that type's price. */
  spotType: string;
  spotPrice: number;
  /** The on-demand type it was placed on, and its price. */
  onDemandType: string;
  onDemandPrice: number;
}

export interface SpotFallbackStats {
  /** Containers placed on demand by the fallback, since start. */
  containers: number;
  /** The same, by the on-demand type they were placed on. */
  byType: Record<string, number>;
}

export interface SpotFallbackOptions {
  settings: Settings['SpotFallback'];
  cluster: Cluster;
  clock: Clock;
  /** When the pool first saw `type` at capacity in its current shortage, if it says. */
  capacitySince?: (type: InstanceType) => number | undefined;
}

export class SpotFallback {
  /** Per spot type name: when its shortage began and when it was last seen. */
  private readonly outSince = new Map<string, { since: number; seen: number }>();
  /** The on-demand types for a container shape; empty when none fits. */
  private readonly onDemand: OnDemandTypes;
  /** The pass's waits, by type list; cleared when the clock moves. */
  private waits = new Map<readonly InstanceType[], SpotWait>();
  private waitsAt = Number.NaN;
  /** Containers that fell back (by uuid): they stay on demand until they leave the queue. */
  private readonly committed = new Map<string, SpotFallbackRecord>();
  private readonly records: SpotFallbackRecord[] = [];
  private total = 0;
  private readonly byType: Record<string, number> = {};

  constructor(private readonly opts: SpotFallbackOptions) {
    this.onDemand = new OnDemandTypes(opts.cluster);
  }

  /**
   * For a preemptible container: undefined when it should go on as usual
   * (`spotAvailable` says a spot type has room and it has not fallen back),
   * else whether it waits for spot or runs on demand now.
   */
  decide(entry: QueueEntry, spotAvailable: () => boolean): FallbackDecision | undefined {
    const types = entry.instanceTypes;
    if (this.committed.has(entry.container.uuid)) {
      const onDemand = this.onDemand.of(entry);
      if (onDemand.length > 0) return { onDemand };
    }
    if (spotAvailable()) return undefined;
    const wait = this.waitFor(types, entry);
    if (this.opts.clock.now() < wait.fallbackAt) return { wait };
    return { onDemand: this.onDemand.of(entry), wait };
  }

  /**
   * The container was placed on an on-demand VM of `type` by the fallback.
   * Returns the record the first time (the caller says it in the timeline),
   * undefined after.
   */
  fellBack(entry: QueueEntry, type: InstanceType | undefined, wait: SpotWait | undefined): SpotFallbackRecord | undefined {
    const uuid = entry.container.uuid;
    if (this.committed.has(uuid) || type === undefined) return undefined;
    const spot = wait?.types[0] ?? entry.instanceTypes[0];
    const record: SpotFallbackRecord = {
      uuid,
      at: this.opts.clock.now(),
      spotType: spot?.Name ?? '',
      spotPrice: spot?.Price ?? 0,
      onDemandType: type.Name,
      onDemandPrice: type.Price,
    };
    this.committed.set(uuid, record);
    this.total++;
    this.byType[type.Name] = (this.byType[type.Name] ?? 0) + 1;
    this.records.push(record);
    if (this.records.length > MAX_RECORDS) this.records.shift();
    return record;
  }

  /** A VM of the type named `typeName` was created: the cloud has capacity for it again, so its shortage is over. */
  instanceCreated(typeName: string): void {
    this.outSince.delete(typeName);
  }

  /** Forgets the containers no longer in the queue. Call once per pass. */
  prune(inQueue: (uuid: string) => boolean): void {
    for (const uuid of this.committed.keys()) if (!inQueue(uuid)) this.committed.delete(uuid);
  }

  /** Containers placed on demand by the fallback since start. */
  stats(): SpotFallbackStats {
    return { containers: this.total, byType: { ...this.byType } };
  }

  /** The containers that fell back, oldest first (at most the last 10,000). */
  fallbacks(): readonly SpotFallbackRecord[] {
    return this.records;
  }

  /** When every type of `types` has been out since, and when the fallback comes; cached for the pass. */
  private waitFor(types: readonly InstanceType[], entry: QueueEntry): SpotWait {
    const now = this.opts.clock.now();
    if (now !== this.waitsAt) {
      this.waits = new Map();
      this.waitsAt = now;
    }
    let wait = this.waits.get(types);
    if (wait) return wait;
    let since = -Infinity;
    for (const t of types) since = Math.max(since, this.observeOut(t, now));
    const fallbackAt = this.onDemand.of(entry).length > 0 ? since + this.opts.settings.After : Infinity;
    wait = { types, since, fallbackAt };
    this.waits.set(types, wait);
    return wait;
  }

  /** Notes that `type` is at capacity now; returns since when. */
  private observeOut(type: InstanceType, now: number): number {
    const rec = this.outSince.get(type.Name);
    if (rec && now - rec.seen <= SHORTAGE_MEMORY_MS) {
      rec.seen = now;
      return rec.since;
    }
    const since = Math.min(now, this.opts.capacitySince?.(type) ?? now);
    this.outSince.set(type.Name, { since, seen: now });
    return since;
  }
}
