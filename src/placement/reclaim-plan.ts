/**
 * What the scheduler does with reclaims (`Reclaims` settings; each rule off
 * by default):
 * - AvoidReclaimedTypes: eligible spot types are ranked by their price
 *   divided by the share of their recent VMs that survived
 *   (`price / (1 - rate)`, the rate capped at 0.9): what an hour of work
 *   that is not lost costs on them, if a reclaim loses about an hour. A cheap
 *   type reclaimed often goes after a dearer one that is not, among the
 *   types MaximumPriceFactor already allows.
 * - OnDemandAfter N: once the work of a container request was lost to
 *   reclaims N times, its next container (the controller's retry, a new
 *   container of the same request) runs on the on-demand types the same
 *   constraints would get. Containers are linked to their request with
 *   `GET container_requests` filtered by `container_uuid`, in batches, in
 *   the background (`parents.ts`), as soon as a preemptible container is
 *   seen: once the controller has retried, the old container no longer
 *   names its request.
 * - OnDemandAboveRuntime: a preemptible container whose expected runtime
 *   (learnt, `src/estimate/`) exceeds it runs on demand from the start: a
 *   long container loses the most to a reclaim.
 * Each container sent on demand says so in its timeline (`on_demand`).
 */
import type { Container } from '../arvados/types.js';
import type { Cluster, InstanceType } from '../config/types.js';
import type { Settings } from '../config/settings.js';
import { runtimeKey } from '../estimate/estimator.js';
import type { RuntimeKey, Spread } from '../estimate/history.js';
import type { Logger } from '../log.js';
import { OnDemandTypes } from './on-demand.js';
import type { QueueEntry } from '../scheduler/interfaces.js';
import type { SchedulerTimeline } from '../timeline/sink.js';
import type { Parents } from './parents.js';
import type { LostWork } from './reclaims.js';

/** The highest reclaim rate the ranking believes: a type never costs more than ten times its price. */
const MAX_RATE = 0.9;
/** Requests whose losses are remembered at most; the oldest are forgotten first. */
const MAX_REQUESTS = 100_000;

/** What the plan needs of the reclaim counts. */
export interface ReclaimRates {
  rate(typeName: string): number;
  onLost(fn: (lost: LostWork) => void): void;
}

export interface ReclaimPlanDeps {
  settings: Settings['Reclaims'];
  cluster: Cluster;
  logger: Logger;
  rates: ReclaimRates;
  /** Container -> its request's uuid (a `ParentLookup` asked for `uuid`); needed when OnDemandAfter > 0. */
  requests?: Parents;
  /** Expected runtimes; needed when OnDemandAboveRuntime > 0. */
  runtimes?: { estimate(key: RuntimeKey, uuid?: string): Spread };
}

/** Why a container went on demand. */
export type OnDemandReason = 'reclaims' | 'long runtime';

export class ReclaimPlan {
  /** Containers sent on demand, by reason, since start. */
  readonly counts: Record<OnDemandReason, number> = { reclaims: 0, 'long runtime': 0 };
  /** Request uuid -> attempts lost to reclaims. */
  private readonly losses = new Map<string, number>();
  /** Lost containers whose request was not known yet when they were lost. */
  private readonly lostUnlinked = new Set<string>();
  /** Containers whose work was lost: on their way to Cancelled, never to be placed again. */
  private readonly lostUuids = new Set<string>();
  /** Container uuid -> the reason it goes on demand, or null: decided not to (the long-runtime rule decides once). */
  private readonly decided = new Map<string, OnDemandReason | null>();
  private readonly onDemand: OnDemandTypes;
  private lastIn: ReadonlyMap<string, QueueEntry> | undefined;
  private lastOut: ReadonlyMap<string, QueueEntry> | undefined;
  private lastVersion = -1;
  private version = 0;

  constructor(private readonly deps: ReclaimPlanDeps) {
    this.onDemand = new OnDemandTypes(deps.cluster);
    if (this.escalates) deps.rates.onLost((lost) => this.lost(lost));
  }

  /** True when some rule may rewrite the entries (`adjust` has work to do). */
  get adjusts(): boolean {
    return this.escalates || this.deps.settings.OnDemandAboveRuntime > 0;
  }

  private get escalates(): boolean {
    return this.deps.settings.OnDemandAfter > 0 && this.deps.requests !== undefined;
  }

  /**
   * `byPrice` (one pass's price order), re-ranked by reclaim rate when
   * AvoidReclaimedTypes is on: each list ordered once per pass.
   */
  orderTypes(byPrice: (types: InstanceType[]) => readonly InstanceType[], quote: (t: InstanceType) => number | undefined): (types: InstanceType[]) => readonly InstanceType[] {
    if (!this.deps.settings.AvoidReclaimedTypes) return byPrice;
    const rates = new Map<string, number>();
    const rate = (t: InstanceType): number => {
      let r = rates.get(t.Name);
      if (r === undefined) rates.set(t.Name, (r = t.Preemptible ? Math.min(MAX_RATE, this.deps.rates.rate(t.Name)) : 0));
      return r;
    };
    const ordered = new Map<InstanceType[], readonly InstanceType[]>();
    return (types) => {
      let out = ordered.get(types);
      if (!out) {
        out = rankByReclaims(byPrice(types), rate, quote);
        ordered.set(types, out);
      }
      return out;
    };
  }

  /**
   * The pass's entries with the containers that go on demand given on-demand
   * types instead: `entries` itself when none does. Recomputed only when
   * the queue, a loss or a request lookup changed something.
   */
  adjust(entries: ReadonlyMap<string, QueueEntry>, timeline?: SchedulerTimeline): ReadonlyMap<string, QueueEntry> {
    if (this.lostUnlinked.size > 0) this.relink();
    const version = this.version + (this.deps.requests?.version ?? 0);
    if (entries === this.lastIn && version === this.lastVersion) return this.lastOut!;
    let out: Map<string, QueueEntry> | undefined;
    for (const [uuid, entry] of entries) {
      const reason = this.decide(uuid, entry, timeline);
      if (!reason) continue;
      const types = this.onDemand.of(entry);
      if (types.length === 0) continue;
      out ??= new Map(entries);
      out.set(uuid, { ...entry, instanceTypes: types });
    }
    this.lastIn = entries;
    this.lastOut = out ?? entries;
    this.lastVersion = version;
    // Decisions about containers gone from the queue are dropped now and then, not on every change.
    if (this.decided.size > 2 * entries.size + 1000) for (const uuid of this.decided.keys()) if (!entries.has(uuid)) this.decided.delete(uuid);
    return this.lastOut;
  }

  private decide(uuid: string, entry: QueueEntry, timeline?: SchedulerTimeline): OnDemandReason | undefined {
    const prior = this.decided.get(uuid);
    if (prior !== undefined) return prior ?? undefined;
    // Only a container still to be placed can change types; a lost one is about to be cancelled.
    const st = entry.container.state;
    if ((st !== 'Queued' && st !== 'Locked') || !entry.instanceTypes[0]?.Preemptible || this.lostUuids.has(uuid)) return undefined;
    // No on-demand type fits it: it stays on its spot types, and nothing may say it went on demand.
    if (this.onDemand.of(entry).length === 0) return undefined;
    const { settings, requests, runtimes } = this.deps;
    if (this.escalates) {
      const req = requests!.parentOf(uuid);
      // Not known yet: asked for, and decided on a later pass.
      if (req === undefined) return undefined;
      const n = req === null ? 0 : (this.losses.get(req) ?? 0);
      if (n >= settings.OnDemandAfter) return this.send(uuid, 'reclaims', { losses: n, request: req! }, timeline);
    }
    if (settings.OnDemandAboveRuntime > 0 && runtimes) {
      const expected = runtimes.estimate(runtimeKey(entry.container as Container)!, uuid).typical;
      if (expected > settings.OnDemandAboveRuntime) return this.send(uuid, 'long runtime', { expected_runtime_ms: Math.round(expected) }, timeline);
    }
    // Undone by a later loss of its request (`addLoss`).
    this.decided.set(uuid, null);
    return undefined;
  }

  private send(uuid: string, reason: OnDemandReason, detail: Record<string, string | number>, timeline?: SchedulerTimeline): OnDemandReason {
    this.decided.set(uuid, reason);
    this.counts[reason]++;
    timeline?.onDemand?.(uuid, { reason: reason === 'reclaims' ? 'earlier attempts of its request were lost to spot reclaims' : 'expected to run longer than Reclaims.OnDemandAboveRuntime', ...detail });
    this.deps.logger.info('running preemptible container on demand', { ContainerUUID: uuid, Reason: reason, ...detail });
    return reason;
  }

  private lost(lost: LostWork): void {
    for (const uuid of lost.containers) {
      if (this.lostUuids.size >= MAX_REQUESTS) this.lostUuids.delete(this.lostUuids.values().next().value!);
      this.lostUuids.add(uuid);
      const req = this.deps.requests!.parentOf(uuid);
      if (typeof req === 'string') this.addLoss(req);
      else if (req === undefined) this.lostUnlinked.add(uuid);
    }
    this.relink();
  }

  /** Counts the losses whose request lookups have come back since. */
  private relink(): void {
    for (const uuid of this.lostUnlinked) {
      const req = this.deps.requests!.parentOf(uuid);
      if (req === undefined) continue;
      this.lostUnlinked.delete(uuid);
      if (req !== null) this.addLoss(req);
    }
  }

  private addLoss(req: string): void {
    if (this.losses.size >= MAX_REQUESTS && !this.losses.has(req)) this.losses.delete(this.losses.keys().next().value!);
    this.losses.set(req, (this.losses.get(req) ?? 0) + 1);
    // A request whose retry is waiting is decided again with the new count.
    this.version++;
    // Containers decided "not on demand" are looked at again: one of them may be this request's retry.
    for (const [uuid, r] of this.decided) if (r === null) this.decided.delete(uuid);
  }
}

/**
 * `types` (already in price order) ordered by `price / (1 - rate)`, the
 * price being the spot quote where there is one within the configured Price.
 * Ties keep the given order; `types` itself comes back when no type has a rate.
 */
export function rankByReclaims(types: readonly InstanceType[], rate: (t: InstanceType) => number, quote: (t: InstanceType) => number | undefined): readonly InstanceType[] {
  if (!types.some((t) => rate(t) > 0)) return types;
  return types
    .map((type, i) => {
      const q = type.Preemptible ? quote(type) : undefined;
      const price = q !== undefined && q <= type.Price ? q : type.Price;
      return { type, i, cost: price / (1 - rate(type)) };
    })
    .sort((a, b) => a.cost - b.cost || a.i - b.i)
    .map((k) => k.type);
}
