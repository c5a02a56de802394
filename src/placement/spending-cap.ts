/**
 * Money as a limit (settings `SpendingCap`): a cap in dollars per hour on
 * what the VMs alive now cost (the burn), for the whole cluster and
 * optionally per owner of the top-level container request.
 *
 * The rules, checked only where the scheduling pass would create a VM:
 * - a new VM is created only if the burn plus its price stays within the
 *   level in force: the soft level for any VM, the hard level for a
 *   preemptible VM for work at or above `DeferBelowPriority`;
 * - so at or above the soft level, only preemptible VMs are created, and
 *   lower-priority work is deferred; at the hard level nothing is created;
 * - once a container is held by the cluster's hard level, containers after
 *   it in scheduling order get no new VM either: the money that frees goes
 *   to the higher priority first (as the quota's line does). A container
 *   whose VM would cost more than the hard level even on an empty cluster
 *   can never run under the cap and holds nobody back. With
 *   `HighPriorityFirst` (the default) the containers after it do not start
 *   on ready VMs either, and empty VMs are shut down until its VM fits
 *   (`spending-cap-pass.ts`): otherwise a backlog of lower-priority work
 *   keeps every VM busy and the money never frees;
 * - placing a container on a VM that exists costs nothing more and the
 *   cap never refuses it (only the line above may make it wait its turn);
 *   running work is never stopped.
 *
 * The price used for a new VM is its configured `Price`, the most a spot
 * VM of that type may cost: the check stays on the safe side when spot
 * prices move. A live spot VM whose price history rises above its Price can
 * still take the burn over the cap; nothing is stopped for that.
 *
 * The burn is read once per pass from the cost ledger (observed afresh, so
 * VMs created by the previous pass count even before the pool's
 * notification reaches the tracker) and kept up to date within the pass by
 * adding each VM the pass creates: no per-container recomputation.
 */
import { requestPriority } from '../arvados/priority.js';
import type { Clock } from '../clock/index.js';
import type { Settings } from '../config/settings.js';
import type { InstanceType } from '../config/types.js';
import type { CostLedger } from '../cost/ledger.js';
import { type DaySpend, SpendForecast } from './spend-forecast.js';

export type SpendingCapSettings = Settings['SpendingCap'];

/** Where the burn comes from: the cost tracker (`src/cost/tracker.ts`). */
export interface SpendSource {
  /** Observes the pool now and returns the ledger. */
  fresh(): Pick<CostLedger, 'costPerHour' | 'totalDollars' | 'eachLive'>;
}

/** Who each container belongs to for a per-owner cap (`OwnerResolver`); undefined while not known. */
export interface OwnerOf {
  ownerOf(uuid: string): string | undefined;
  update(live: Iterable<string>): void;
}

/** Why a container gets no new VM, for its blocker. */
export interface CapHold {
  level: 'soft' | 'hard';
  /** Whose burn: the cluster's, or the container's owner's. */
  scope: 'cluster' | 'owner';
  /** The owner's key, for scope owner. */
  owner?: string;
  /** $/h in use when the pass decided (the owner's for scope owner), VMs this pass created included. */
  burn: number;
  /** $/h: the level that held it. */
  cap: number;
  /** True when a higher-priority container held by the cluster's hard level waits for the money first. */
  behindHigher?: boolean;
}

/** What the pass may create for a container: a type, or nothing and why. */
export type CapDecision = { type: InstanceType; hold?: undefined } | { type?: undefined; hold: CapHold };

/** The levels and the forecast, for metrics, the management API and the status page. */
export interface SpendingCapView {
  soft: number;
  hard: number;
  burn: number;
  spentToday: number;
  forecastToday: number;
  /** Containers held by the cap in the last pass. */
  held: number;
}

/** Owners whose key is not known yet share this key (as fair share's). */
export const UNKNOWN_OWNER = 'unknown';

/** A level of 0 is not set. */
function level(x: number): number {
  return x > 0 ? x : Infinity;
}

export class SpendingCap {
  private readonly hard: number;
  private readonly soft: number;
  private readonly ownerHard: number;
  private readonly ownerSoft: number;
  private burnNow = 0;
  private readonly ownerBurn = new Map<string, number>();
  /** VMs created for an owner that run nothing yet: their price is the owner's (by VM id; pending ids renamed). */
  private readonly createdFor = new Map<string, string>();
  private reserved = false;
  /** $/h the container that set `reserved` needs freed before its VM fits under the hard level. */
  private wanted = 0;
  private heldNow = new Set<string>();
  private heldBefore = new Set<string>();
  private readonly preemptibleOf = new WeakMap<readonly InstanceType[], InstanceType[]>();
  private readonly forecaster: SpendForecast;

  constructor(
    private readonly settings: SpendingCapSettings,
    private readonly source: SpendSource,
    private readonly clock: Clock,
    private readonly owners?: OwnerOf,
  ) {
    this.hard = level(settings.Hard);
    this.soft = Math.min(level(settings.Soft), this.hard);
    this.ownerHard = level(settings.PerOwnerHard);
    this.ownerSoft = Math.min(level(settings.PerOwnerSoft), this.ownerHard);
    this.forecaster = new SpendForecast(clock.now());
  }

  /** True when a level per owner is set (the pass must then know owners; a set hard level makes the soft one finite too). */
  get perOwner(): boolean {
    return this.ownerSoft !== Infinity;
  }

  /** $/h in use as the pass sees it. */
  get burn(): number {
    return this.burnNow;
  }

  /**
   * Reads the burn (and each owner's) for a new pass.
   * @param live the queue's containers, for the owner lookups
   */
  beginPass(live?: () => Iterable<string>): void {
    const ledger = this.source.fresh();
    this.burnNow = ledger.costPerHour();
    this.forecaster.observe(this.clock.now(), ledger.totalDollars());
    this.reserved = false;
    this.wanted = 0;
    this.heldBefore = this.heldNow;
    this.heldNow = new Set();
    if (!this.perOwner || !this.owners) return;
    if (live) this.owners.update(live());
    this.ownerBurn.clear();
    const alive = new Set<string>();
    ledger.eachLive((id, price, uuids, shares) => {
      alive.add(id);
      if (uuids.length === 0) {
        const owner = this.createdFor.get(id);
        if (owner !== undefined) this.addOwner(owner, price);
        return;
      }
      this.createdFor.delete(id);
      for (let i = 0; i < uuids.length; i++) this.addOwner(this.ownerKey(uuids[i]!), price * shares[i]!);
    });
    for (const id of this.createdFor.keys()) if (!alive.has(id)) this.createdFor.delete(id);
  }

  /**
   * What the pass may create for a container that needs a new VM; a type
   * allowed is claimed (see `claim`).
   * @param types its eligible types
   * @param pick the cheapest of `types` that can be created now (not at capacity), or undefined
   * @returns undefined when `pick` finds no type at all (the caller says why as before)
   */
  decide(uuid: string, priority: number, types: InstanceType[], pick: (types: InstanceType[]) => InstanceType | undefined): CapDecision | undefined {
    const any = pick(types);
    if (!any) return undefined;
    const owner = this.perOwner ? this.ownerKey(uuid) : undefined;
    const ownerBurn = owner === undefined ? 0 : (this.ownerBurn.get(owner) ?? 0);
    if (this.reserved) return this.held(uuid, { level: 'hard', scope: 'cluster', burn: this.burnNow, cap: this.hard, behindHigher: true });
    if (this.burnNow + any.Price <= this.soft && ownerBurn + any.Price <= this.ownerSoft) return this.allowed(uuid, any);
    // Over a soft level: a preemptible VM within the hard levels, for work not deferred.
    // DeferBelowPriority is on the 1-1000 scale of requests, whatever the controller's version.
    const spot = requestPriority(priority) < this.settings.DeferBelowPriority ? undefined : any.Preemptible ? any : pick(this.preemptible(types));
    if (spot) {
      if (this.burnNow + spot.Price > this.hard) return this.holdHard(uuid, spot);
      if (ownerBurn + spot.Price > this.ownerHard) return this.held(uuid, { level: 'hard', scope: 'owner', owner: owner!, burn: ownerBurn, cap: this.ownerHard });
      return this.allowed(uuid, spot);
    }
    // On demand only, or deferred: the soft level holds it (the hard one, when only Hard is set).
    if (this.burnNow + any.Price > this.soft) {
      if (this.soft === this.hard) return this.holdHard(uuid, any);
      return this.held(uuid, { level: 'soft', scope: 'cluster', burn: this.burnNow, cap: this.soft });
    }
    return this.held(uuid, { level: this.ownerSoft < this.ownerHard ? 'soft' : 'hard', scope: 'owner', owner: owner!, burn: ownerBurn, cap: this.ownerSoft });
  }

  /** Held by the cluster's hard level for a VM of `type`: the containers after it wait behind it, unless it could never run under the cap. */
  private holdHard(uuid: string, type: InstanceType): CapDecision {
    if (type.Price <= this.hard && !this.reserved) {
      this.reserved = true;
      this.wanted = this.burnNow + type.Price - this.hard;
    }
    return this.held(uuid, { level: 'hard', scope: 'cluster', burn: this.burnNow, cap: this.hard });
  }

  /**
   * A container the pass let have a VM of `type` will need it, whether it is
   * created in this pass or not (a lock in flight, a create the pool
   * declined): its price counts for the rest of the pass, so that the
   * containers after it see the money as spent. `decide` claims for the
   * containers it lets through; the pass claims for the Locked containers
   * it passes over as it did the one before them.
   */
  claim(uuid: string, price: number): void {
    this.burnNow += price;
    if (this.perOwner) this.addOwner(this.ownerKey(uuid), price);
  }

  /** The pass created the VM (placeholder id `instance`) it claimed for container `uuid`: with a cap per owner, it is the owner's until it runs something. */
  created(uuid: string, instance: string): void {
    if (this.perOwner && instance !== '') this.createdFor.set(instance, this.ownerKey(uuid));
  }

  /** The cloud answered a create: the VM made for an owner keeps its owner under its real id. */
  renamed(pendingId: string, instanceId: string): void {
    const owner = this.createdFor.get(pendingId);
    if (owner === undefined) return;
    this.createdFor.delete(pendingId);
    this.createdFor.set(instanceId, owner);
  }

  /**
   * True once, in this pass, a container waits for money under the cluster's
   * hard level and `HighPriorityFirst` is on: containers after it start on
   * no ready VM, and the pass frees `moneyWanted` by shutting empty ones down.
   */
  get holdsLine(): boolean {
    return this.reserved && this.settings.HighPriorityFirst;
  }

  /** $/h to free for the container that waits first (0 when none does). */
  get moneyWanted(): number {
    return this.wanted;
  }

  /** True the first pass a container is held (it was not held in the pass before): for its timeline. */
  firstHeld(uuid: string): boolean {
    return !this.heldBefore.has(uuid);
  }

  /** The levels, the burn and the day's forecast now. */
  view(): SpendingCapView {
    const ledger = this.source.fresh();
    const now = this.clock.now();
    const burn = ledger.costPerHour();
    const day: DaySpend = this.forecaster.forecast(now, ledger.totalDollars(), burn);
    return {
      soft: finite(this.soft),
      hard: finite(this.hard),
      burn,
      spentToday: day.spentToday,
      forecastToday: day.forecastToday,
      held: this.heldNow.size,
    };
  }

  private allowed(uuid: string, type: InstanceType): CapDecision {
    this.claim(uuid, type.Price);
    return { type };
  }

  private held(uuid: string, hold: CapHold): CapDecision {
    this.heldNow.add(uuid);
    return { hold };
  }

  private ownerKey(uuid: string): string {
    return this.owners?.ownerOf(uuid) ?? UNKNOWN_OWNER;
  }

  private addOwner(owner: string, dollars: number): void {
    this.ownerBurn.set(owner, (this.ownerBurn.get(owner) ?? 0) + dollars);
  }

  private preemptible(types: InstanceType[]): InstanceType[] {
    let out = this.preemptibleOf.get(types);
    if (!out) this.preemptibleOf.set(types, (out = types.filter((t) => t.Preemptible)));
    return out;
  }
}

/** A level for display: 0 when not set. */
function finite(x: number): number {
  return Number.isFinite(x) ? x : 0;
}

/** "$40.00/h". */
export function perHour(dollars: number): string {
  return `$${dollars.toFixed(2)}/h`;
}

/** A hold for the container's timeline (`spending_cap` event). */
export function capDetail(hold: CapHold): Record<string, string | number> {
  return {
    level: hold.level,
    scope: hold.scope,
    ...(hold.owner === undefined ? {} : { owner: hold.owner }),
    burn_per_hour: Math.round(hold.burn * 100) / 100,
    cap_per_hour: hold.cap,
    ...(hold.behindHigher ? { behind_higher_priority: 1 } : {}),
  };
}
