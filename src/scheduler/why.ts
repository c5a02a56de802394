/**
 * Why a queued or locked container is not running: builds the structured
 * blocker (`blocker.ts` has its shape and the table of reasons) from what the
 * last scheduling pass decided (its Status and Cause for the container,
 * `pass-view.ts`) and the limits it met (the pass's facts, the pool's create
 * limits, the controller's state), never reconstructed by guessing.
 */
import type { Container } from '../arvados/types.js';
import type { Cluster, InstanceType } from '../config/types.js';
import { rejectReason } from '../queue/instance-types.js';
import type { CreateLimitsReport, InstanceView, QueueEntry, WorkerPool } from './interfaces.js';
import type { ControllerState } from './limits.js';
import { Cause, type PassView, State, Status } from './pass-view.js';
import type { Ahead, Blocker, PriceCap, TypeShortage } from './blocker.js';

/** At most this many types in `price_cap`. */
const PRICE_CAP_TYPES = 3;

export interface WhyInputs {
  view: PassView;
  cluster: Cluster;
  pool: Pick<WorkerPool, 'instances' | 'atCapacity'> & Partial<Pick<WorkerPool, 'createLimits'>>;
  controller: { state: ControllerState; last503: number };
}

/**
 * Builds blockers for one view, computing what several need (instances by
 * id and by container, the create limits, the sums ahead) once, on first
 * use. Make one per API request: the pool's state moves on between them.
 */
export class WhyBuilder {
  private readonly view: PassView;
  private instancesById?: Map<string, InstanceView>;
  private instanceOfContainer?: Map<string, string>;
  private limits?: CreateLimitsReport;
  private aheadSums?: Float64Array;
  private readonly fitting = new Map<InstanceType[], Map<object, InstanceType[]>>();

  constructor(private readonly inputs: WhyInputs) {
    this.view = inputs.view;
  }

  /** The blocker of the container at list position `k`, or undefined for one that is not waiting (not Queued or Locked). */
  blockerAt(k: number): Blocker | undefined {
    const v = this.view;
    if (v.state[k] === State.Other) return undefined;
    const entry = v.list[k];
    const ctr = entry.container;
    const pos = v.position[k];
    switch (v.status[k] as Status) {
      case Status.PriorityZero:
        return { reason: 'priority_zero', state: ctr.state };
      case Status.SupervisorLimit:
        return { reason: 'supervisor_cap', position: pos, cap: v.facts?.maxSupervisors ?? 0, running: this.supervisorsRunning() };
      case Status.Preparing:
        return { reason: 'preparing', ...this.instanceField(v.instanceOf(k) ?? this.runningOn(ctr.uuid)) };
      case Status.WaitingPreviousAttempt:
        return { reason: 'previous_attempt', ...this.instanceField(v.instanceOf(k) ?? this.runningOn(ctr.uuid)) };
      case Status.WaitingNewInstance: {
        const id = v.instanceOf(k);
        const inst = id === undefined ? undefined : this.instances().get(id);
        const since = inst && inst.workerState === 'booting' ? isoTime(inst.lastBusy) : undefined;
        return {
          reason: 'booting',
          instance_type: v.typeNameOf(k) ?? '',
          ...this.instanceField(id),
          ...(since ? { booting_since: since } : {}),
        };
      }
      default:
        break;
    }
    return { ...this.waiting(k, entry, pos), ...this.extras(k, entry) };
  }

  /** The blocker of a container by uuid, or undefined when the last pass did not see it waiting. */
  blockerOf(uuid: string): Blocker | undefined {
    const v = this.view;
    for (let k = 0; k < v.list.length; k++) if (v.list[k].container.uuid === uuid) return this.blockerAt(k);
    return undefined;
  }

  private waiting(k: number, entry: QueueEntry, pos: number): Blocker {
    const v = this.view;
    const facts = v.facts;
    switch (v.cause[k] as Cause) {
      case Cause.ConcurrencyLimit: {
        // At quota the limit is clamped to the instance count: the quota is what binds.
        const atQuota = facts?.atQuota ? this.quota(pos) : undefined;
        if (atQuota) return atQuota;
        const last = this.inputs.controller.last503;
        return {
          reason: 'concurrency_limit',
          position: pos,
          limit: facts?.maxContainers ?? 0,
          running: facts?.running ?? 0,
          controller: this.inputs.controller.state,
          ...(last > 0 ? { last_503: isoTime(last) } : {}),
        };
      }
      case Cause.Locking:
        return { reason: 'locking', ...this.instanceField(v.instanceOf(k)) };
      case Cause.PreviousAttempt:
        return { reason: 'previous_attempt', ...this.instanceField(this.runningOn(entry.container.uuid)) };
      case Cause.TypesAtCapacity:
        return { reason: 'types_at_capacity', position: pos, types: this.shortages(entry.instanceTypes) };
      case Cause.WaitingWarmInstance: {
        const h = v.warmHolds?.get(k);
        if (!h) return this.quotaOrCapacity(pos);
        return {
          reason: 'waiting_warm_instance',
          position: pos,
          instance: h.instance,
          has: h.level === 1 ? 'image' : 'inputs',
          frees_in_ms: Math.round(h.freeInMs),
          wait_until: new Date(h.until).toISOString(),
          timeout_ms: h.timeoutMs,
          ...(h.pool !== undefined && h.pool > 1 ? { pool: h.pool } : {}),
        };
      }
      case Cause.SpotFallbackWait: {
        const w = v.spotWaits?.get(k);
        if (!w) return { reason: 'types_at_capacity', position: pos, types: this.shortages(entry.instanceTypes) };
        return {
          reason: 'spot_capacity_out',
          position: pos,
          types: w.types.map((t) => t.Name),
          since: new Date(w.since).toISOString(),
          ...(Number.isFinite(w.fallbackAt) ? { fallback_at: new Date(w.fallbackAt).toISOString() } : {}),
        };
      }
      case Cause.StartsHeld: {
        const h = v.gateHold?.breaker;
        if (!h) return this.quotaOrCapacity(pos);
        return { reason: 'starts_held', position: pos, since: new Date(h.since).toISOString(), next_trial: new Date(h.nextTrialAt).toISOString() };
      }
      case Cause.LastAttemptHeld: {
        const until = v.gateHold?.lastAttemptUntil;
        const count = entry.container.lock_count;
        if (until === undefined || count === undefined) return this.quotaOrCapacity(pos);
        return { reason: 'last_attempt_held', position: pos, lock_count: count, max_dispatch_attempts: this.inputs.cluster.Containers.MaxDispatchAttempts, until: new Date(until).toISOString() };
      }
      case Cause.OverQuota:
        return this.quotaOrCapacity(pos);
      case Cause.CreateDeclined: {
        const hold = this.createLimits().hold;
        if (hold) return { reason: 'create_declined', position: pos, why: hold.reason, until: isoTime(hold.until) };
        return this.quota(pos) ?? { reason: 'create_declined', position: pos, why: 'the pool declined to create an instance (MaxConcurrentInstanceCreateOps, or the pool is loading)' };
      }
      case Cause.FairShare: {
        const note = v.fairShare?.note(k);
        if (!note) return this.quotaOrCapacity(pos);
        return {
          reason: 'fair_share',
          position: pos,
          owner: note.owner,
          used_share: note.usedShare,
          target_share: note.targetShare,
          moved_back: note.movedBack,
          window_ms: note.windowMs,
        };
      }
      case Cause.SpendingCap: {
        const h = v.capHolds?.get(k);
        if (!h) return this.quotaOrCapacity(pos);
        return {
          reason: 'spending_cap',
          position: pos,
          level: h.level,
          scope: h.scope,
          ...(h.owner === undefined ? {} : { owner: h.owner }),
          burn_per_hour: Math.round(h.burn * 100) / 100,
          cap_per_hour: h.cap,
          ...(h.behindHigher ? { behind_higher_priority: true } : {}),
        };
      }
      default:
        return this.quotaOrCapacity(pos);
    }
  }

  /** `ahead` and `price_cap`, for the reasons that wait for room. */
  private extras(k: number, entry: QueueEntry): { ahead?: Ahead; price_cap?: PriceCap } {
    const cause = this.view.cause[k] as Cause;
    if (cause === Cause.Locking || cause === Cause.PreviousAttempt || cause === Cause.WaitingWarmInstance || cause === Cause.StartsHeld || cause === Cause.LastAttemptHeld) return {};
    const out: { ahead?: Ahead; price_cap?: PriceCap } = { ahead: this.ahead(k) };
    const cap = this.priceCap(entry, cause);
    if (cap) out.price_cap = cap;
    return out;
  }

  /** Waiting for room: the quota that stops new instances if there is one, else the cluster's capacity. */
  private quotaOrCapacity(pos: number): Blocker {
    return this.quota(pos) ?? { reason: 'cluster_capacity', position: pos };
  }

  private quota(pos: number): Blocker | undefined {
    const q = this.createLimits().quota;
    if (!q) return undefined;
    if (q.bucket === 'MaxInstances') return { reason: 'quota', position: pos, bucket: q.bucket, in_use: q.inUse, limit: q.limit };
    return {
      reason: 'quota',
      position: pos,
      bucket: q.bucket,
      in_use: q.inUse,
      ...(q.liftsBelow > 0 ? { limit: q.liftsBelow } : {}),
      since: isoTime(q.since),
      until: isoTime(q.until),
      error: q.error,
    };
  }

  private shortages(types: InstanceType[]): TypeShortage[] {
    const cap = this.createLimits().capacity;
    return types.map((t) => {
      const d = cap[t.Name];
      if (!d) return { name: t.Name, scope: 'type', error: '' };
      return { name: t.Name, scope: d.scope, since: isoTime(d.since), until: isoTime(d.until), error: d.error };
    });
  }

  private createLimits(): CreateLimitsReport {
    this.limits ??= this.inputs.pool.createLimits?.(Object.values(this.inputs.cluster.InstanceTypes)) ?? { instances: 0, capacity: {} };
    return this.limits;
  }

  private instances(): Map<string, InstanceView> {
    if (!this.instancesById) {
      this.instancesById = new Map();
      this.instanceOfContainer = new Map();
      for (const inst of this.inputs.pool.instances()) {
        this.instancesById.set(inst.instance, inst);
        for (const uuid of inst.runningContainerUUIDs) this.instanceOfContainer.set(uuid, inst.instance);
      }
    }
    return this.instancesById;
  }

  private runningOn(uuid: string): string | undefined {
    this.instances();
    return this.instanceOfContainer!.get(uuid);
  }

  private instanceField(id: string | undefined): { instance?: string } {
    return id === undefined || id === '' ? {} : { instance: id };
  }

  private supervisorsRunning(): number {
    const v = this.view;
    let n = 0;
    for (let k = 0; k < v.list.length; k++) if (v.supervisor[k] && v.hasRecord[k]) n++;
    return n;
  }

  /**
   * Sums, for every waiting container, over those before it in scheduling
   * order that wait too and share one of its eligible types: kept per shape
   * (eligible types and size), so one walk of the order serves them all.
   */
  private ahead(k: number): Ahead {
    const v = this.view;
    if (!this.aheadSums) {
      const n = v.list.length;
      const sums = new Float64Array(n * 3);
      const shapes = v.shapeCount;
      const perShape = new Float64Array(shapes * 3);
      const typesOfShape: Array<Set<string> | undefined> = new Array(shapes);
      for (let k2 = 0; k2 < n; k2++) {
        const s = v.shape[k2];
        typesOfShape[s] ??= new Set(v.list[k2].instanceTypes.map((t) => t.Name));
      }
      // Shapes that share a type with each shape.
      const related: number[][] = [];
      for (let a = 0; a < shapes; a++) {
        related.push([]);
        for (let b = 0; b < shapes; b++) {
          const ta = typesOfShape[a];
          const tb = typesOfShape[b];
          if (ta && tb && [...ta].some((t) => tb.has(t))) related[a].push(b);
        }
      }
      for (let i = 0; i < v.order.length; i++) {
        const k2 = v.order[i];
        if (!this.waits(k2)) continue;
        const s = v.shape[k2];
        for (const b of related[s]) {
          sums[k2 * 3] += perShape[b * 3];
          sums[k2 * 3 + 1] += perShape[b * 3 + 1];
          sums[k2 * 3 + 2] += perShape[b * 3 + 2];
        }
        const r = v.list[k2].instanceResources;
        perShape[s * 3] += 1;
        perShape[s * 3 + 1] += r.vcpus;
        perShape[s * 3 + 2] += r.ram;
      }
      this.aheadSums = sums;
    }
    const s = this.aheadSums;
    return { containers: s[k * 3], vcpus: s[k * 3 + 1], ram_bytes: s[k * 3 + 2] };
  }

  /** Queued or Locked, wanted, and not handed to crunch-run. */
  private waits(k: number): boolean {
    const v = this.view;
    return v.state[k] !== State.Other && v.priority[k] > 0 && !v.hasRecord[k] && v.status[k] !== Status.Preparing;
  }

  /** Types MaximumPriceFactor left out that would fit the container, and whether each could run it now. */
  private priceCap(entry: QueueEntry, cause: Cause): PriceCap | undefined {
    const { cluster } = this.inputs;
    let bySize = this.fitting.get(entry.instanceTypes);
    if (!bySize) this.fitting.set(entry.instanceTypes, (bySize = new Map()));
    let left = bySize.get(entry.instanceResources);
    if (!left) {
      const eligible = new Set(entry.instanceTypes.map((t) => t.Name));
      left = Object.values(cluster.InstanceTypes)
        .filter((t) => !eligible.has(t.Name) && rejectReason(t, entry.instanceResources, entry.container as Container) === undefined)
        .sort((a, b) => a.Price - b.Price);
      bySize.set(entry.instanceResources, left);
    }
    if (left.length === 0) return undefined;
    const idle = new Set<string>();
    for (const inst of this.instances().values()) {
      if (inst.workerState === 'idle' && inst.idleBehavior === 'run' && inst.runningContainerUUIDs.length === 0) idle.add(inst.arvadosInstanceType);
    }
    // Only types that would help now: an idle instance of it is there, or
    // every eligible type is at capacity while this one could be created.
    const creatable = cause === Cause.TypesAtCapacity && this.createLimits().quota === undefined;
    const helpful: PriceCap['types'] = [];
    for (const t of left) {
      if (idle.has(t.Name)) helpful.push({ name: t.Name, price: t.Price, now: 'idle instance' });
      else if (creatable && !this.inputs.pool.atCapacity(t)) helpful.push({ name: t.Name, price: t.Price, now: 'can be created' });
      if (helpful.length >= PRICE_CAP_TYPES) break;
    }
    return helpful.length === 0 ? undefined : { maximum_price_factor: cluster.Containers.MaximumPriceFactor, types: helpful };
  }
}

/** Epoch ms as RFC 3339 (UTC), or undefined for 0 (never). */
function isoTime(ms: number): string | undefined {
  return ms > 0 ? new Date(ms).toISOString() : undefined;
}
