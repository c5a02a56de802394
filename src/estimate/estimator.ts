/**
 * The Estimator: after a scheduling pass (at most once a second), forecasts
 * when each waiting container will start (`forecast.ts`) from the pass's
 * view, the pool's instances and what the learners know, and keeps the
 * latest answer for the management API (`estimate(uuid)`).
 *
 * Its cost per update: one walk of the waiting containers (types, sizes
 * and runtimes are looked up once per distinct shape beyond the exact
 * part), one of the instances and their containers, and the forecast (an
 * exact play of the first 2,000 containers, a fluid beyond). It never runs
 * inside the timed pass (`runQueue(); sync()`): the scheduler loop calls it
 * after, and it returns at once when the last update is under
 * `minIntervalMs` old.
 */
import type { Container } from '../arvados/types.js';
import type { Clock } from '../clock/index.js';
import type { Cluster, InstanceType } from '../config/types.js';
import type { InstanceResources, WorkerPool, ContainerQueue } from '../scheduler/interfaces.js';
import { State, type PassView } from '../scheduler/pass-view.js';
import { CAPACITY_ERROR_TTL_MS, poolDuration } from '../worker/pool-config.js';
import { BootTimes } from './boot.js';
import { LeavingTimes } from './leaving.js';
import { DEFAULT_EXACT_LIMIT, forecast, type ForecastContainer, type ForecastInstance, type Need } from './forecast.js';
import { RuntimeHistory, type RuntimeKey } from './history.js';
import { RuntimeTracker } from './tracker.js';

/** One container's forecast start (epoch ms), and the naive one beside it. */
export interface StartEstimate {
  startLow: number;
  startTypical: number;
  startHigh: number;
  /** Position x typical runtime / slots: what the forecast must beat. */
  naive: number;
  /** When the estimate was made. */
  at: number;
}

export interface EstimatorDeps {
  queue: Pick<ContainerQueue, 'get'>;
  pool: Pick<WorkerPool, 'running' | 'instances' | 'atCapacity' | 'atQuota' | 'createLimits'> & {
    /** When the instance appeared (its create call): a booting instance is counted from it. */
    detail?(instanceId: string): { appearedAt: number } | undefined;
    /**
     * The workers shut down (with when: 0 if not known), which `instances()`
     * leaves out, yet the pool counts against MaxInstances until a listing
     * drops them.
     */
    shutDown?(): ReadonlyArray<{ arvadosInstanceType: string; destroyedAt: number }>;
  };
  cluster: Cluster;
  clock: Clock;
  runtimes?: RuntimeHistory;
  boots?: BootTimes;
  leaving?: LeavingTimes;
  /** Updates at most this often, ms; default 1,000. Infinity: never. */
  minIntervalMs?: number;
  /** Containers forecast exactly; default the forecast's. */
  exactLimit?: number;
}

/** The latest forecast, by index among the waiting containers in scheduling order. */
export interface EstimateSnapshot {
  at: number;
  /** How many containers. */
  size: number;
  /** The uuid of the container at `i` (looked up when asked: the update itself does not read the containers' records). */
  uuid(i: number): string;
  low: Float64Array;
  typical: Float64Array;
  high: Float64Array;
  naive: Float64Array;
}

const NO_ROOM: Need = { vcpus: 0, ram: 0, gpus: 0 };

export class Estimator {
  readonly runtimes: RuntimeHistory;
  readonly boots: BootTimes;
  /** How long an instance shut down still counts against MaxInstances (fed the pool's events by the dispatcher). */
  readonly leaving: LeavingTimes;
  private readonly tracker: RuntimeTracker;
  private readonly minIntervalMs: number;
  private lastAt = -Infinity;
  private latest: EstimateSnapshot | undefined;
  private index: Map<string, number> | undefined;
  private readonly listeners = new Set<(s: EstimateSnapshot) => void>();
  private readonly typeNames = new WeakMap<InstanceType[], string[]>();
  private readonly needs = new WeakMap<InstanceResources, Need>();

  constructor(private readonly deps: EstimatorDeps) {
    this.runtimes = deps.runtimes ?? new RuntimeHistory();
    this.boots = deps.boots ?? new BootTimes();
    this.leaving = deps.leaving ?? new LeavingTimes(poolDuration(deps.cluster.Containers.CloudVMs, 'SyncInterval'));
    this.tracker = new RuntimeTracker(this.runtimes);
    this.minIntervalMs = deps.minIntervalMs ?? 1000;
  }

  /** The scheduler's hook: updates unless the last update is recent. */
  afterPass(view: PassView | undefined, maxContainers: number, maxContainersGrows = false): void {
    if (!view || this.minIntervalMs === Infinity || this.deps.clock.now() - this.lastAt < this.minIntervalMs) return;
    this.update(view, maxContainers, maxContainersGrows);
  }

  /** The latest estimate for a waiting container, or undefined (not waiting, or not forecast yet). */
  estimate(uuid: string): StartEstimate | undefined {
    const s = this.latest;
    if (!s) return undefined;
    if (!this.index) {
      this.index = new Map();
      for (let j = 0; j < s.size; j++) this.index.set(s.uuid(j), j);
    }
    const i = this.index.get(uuid);
    if (i === undefined || !Number.isFinite(s.typical[i])) return undefined;
    return { startLow: s.low[i], startTypical: s.typical[i], startHigh: s.high[i], naive: s.naive[i], at: s.at };
  }

  /** The latest forecast as a whole (the simulator's accuracy record reads it). */
  snapshot(): EstimateSnapshot | undefined {
    return this.latest;
  }

  /** Calls `listener` after every update; returns the unsubscribe function. */
  subscribe(listener: (s: EstimateSnapshot) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Forecasts now from `view` (the last pass's). */
  update(view: PassView, maxContainers: number, maxContainersGrows = false): void {
    const { pool, queue, cluster, clock } = this.deps;
    const now = clock.now();
    this.lastAt = now;
    const running = pool.running();
    this.tracker.observe(now, running, (u) => queue.get(u), (u) => runtimeKey(queue.get(u)));

    const positions = new Uint32Array(view.order.length);
    const containers: ForecastContainer[] = [];
    const exactLimit = this.deps.exactLimit ?? DEFAULT_EXACT_LIMIT;
    // Deep in the backlog, one estimate per shape (eligible types and size) is close enough, and one object serves them all.
    const byShape: Array<ForecastContainer | undefined> = new Array(view.shapeCount);
    for (let i = 0; i < view.order.length; i++) {
      const k = view.order[i];
      if (view.state[k] === State.Other || view.priority[k] <= 0 || view.hasRecord[k] === 1) continue;
      if (containers.length < exactLimit) {
        const e = view.list[k];
        // Started by the pass itself (its record came after the view was read). Deeper in the
        // backlog that is rare, and looking would cost a lookup per container.
        if (running.has(e.container.uuid)) continue;
        positions[containers.length] = k;
        const runtime = this.runtimes.estimate(runtimeKey(e.container)!, e.container.uuid);
        containers.push({ types: this.namesOf(e.instanceTypes), need: this.needOf(e.instanceResources), runtime });
        continue;
      }
      positions[containers.length] = k;
      let shared = byShape[view.shape[k]];
      if (!shared) {
        const e = view.list[k];
        const r = e.instanceResources;
        const runtime = this.runtimes.estimate({ image: '', vcpus: r.vcpus, ram: r.ram });
        byShape[view.shape[k]] = shared = { types: this.namesOf(e.instanceTypes), need: this.needOf(r), runtime };
      }
      containers.push(shared);
    }

    const instances: ForecastInstance[] = [];
    let slots = 0;
    for (const d of pool.shutDown?.() ?? []) {
      // Still counted against MaxInstances until a listing drops it.
      instances.push({ type: d.arvadosInstanceType, capacity: NO_ROOM, state: 'leaving', shutdownAt: d.destroyedAt > 0 ? d.destroyedAt : now, running: [] });
    }
    for (const v of pool.instances()) {
      const type = cluster.InstanceTypes[v.arvadosInstanceType];
      const runs = v.runningContainerUUIDs.map((u) => {
        const c = queue.get(u);
        const key = runtimeKey(c);
        const size = view.source.get(u)?.instanceResources;
        return {
          startedAt: running.get(u) ?? now,
          runtime: key ? this.runtimes.estimate(key, u) : this.runtimes.estimate({ image: '', vcpus: 0, ram: 0 }),
          // A container the queue has is in the pass's snapshot too (the estimator runs right after the pass, which adds no entry): one not there is unknown, and takes its instance's whole type.
          need: size ? this.needOf(size) : type ? needOfType(type) : NO_ROOM,
        };
      });
      const takesWork = v.idleBehavior === 'run' && type !== undefined;
      const booting = v.workerState === 'booting' || v.workerState === 'unknown';
      if (takesWork) slots += Math.max(1, runs.length);
      instances.push({
        type: v.arvadosInstanceType,
        capacity: takesWork ? needOfType(type) : NO_ROOM,
        state: booting ? 'booting' : runs.length > 0 ? 'running' : 'idle',
        bootStartedAt: booting ? (pool.detail?.(v.instance)?.appearedAt ?? now) : now,
        running: runs,
        // Whether the pool would shut it down to make room (never on hold), and when.
        idleBehavior: v.idleBehavior,
      });
    }

    const vms = cluster.Containers.CloudVMs;
    const capacities = new Map<string, Need>();
    const atCapacity = new Set<string>();
    for (const t of Object.values(cluster.InstanceTypes)) {
      capacities.set(t.Name, needOfType(t));
      if (pool.atCapacity(t)) atCapacity.add(t.Name);
    }
    const result = forecast({
      now,
      containers,
      instances,
      limits: {
        maxContainers,
        maxContainersGrows,
        maxInstances: vms.MaxInstances,
        atQuota: pool.atQuota(),
        atCapacity,
        capacityRetryMs: CAPACITY_ERROR_TTL_MS,
        // What the pool waits, which for a TimeoutIdle of 0 or less is its default.
        idleTimeoutMs: poolDuration(vms, 'TimeoutIdle'),
        quotaError: pool.createLimits?.([]).quota?.bucket === 'cloud quota',
        leavingMs: this.leaving.estimate(),
      },
      capacities,
      bootMs: (t) => this.boots.estimate(t),
      exactLimit,
    });
    const n = containers.length;
    const naive = new Float64Array(n);
    const perSlot = this.runtimes.typicalOverall() / Math.max(1, slots);
    for (let i = 0; i < naive.length; i++) naive[i] = now + i * perSlot;
    const list = view.list;
    this.latest = { at: now, size: n, uuid: (i) => list[positions[i]].container.uuid, low: result.low, typical: result.typical, high: result.high, naive };
    this.index = undefined;
    for (const l of this.listeners) l(this.latest);
  }

  private namesOf(types: InstanceType[]): string[] {
    let names = this.typeNames.get(types);
    if (!names) this.typeNames.set(types, (names = types.map((t) => t.Name)));
    return names;
  }

  private needOf(r: InstanceResources): Need {
    let n = this.needs.get(r);
    if (!n) this.needs.set(r, (n = { vcpus: r.vcpus, ram: r.ram, gpus: r.gpus }));
    return n;
  }
}

/** What a container's runtime is learnt by: its image and its requested size. */
export function runtimeKey(c: Container | undefined): RuntimeKey | undefined {
  return c ? { image: c.container_image, vcpus: c.runtime_constraints.vcpus, ram: c.runtime_constraints.ram } : undefined;
}

function needOfType(t: InstanceType): Need {
  return { vcpus: t.VCPUs, ram: t.RAM, gpus: t.GPU.DeviceCount };
}
