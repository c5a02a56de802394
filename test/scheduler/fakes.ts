/**
 * Small stand-ins for the queue, the pool and the controller client, built
 * on the scheduler's interfaces, with knobs (quota, capacity, create
 * budget, held-up controller calls) and a record of every call.
 */
import type { Container, ContainerState } from '../../src/arvados/types.js';
import type { ManualClock } from '../../src/clock/index.js';
import { loadConfigText } from '../../src/config/index.js';
import { Interner } from '../../src/queue/interner.js';
import type { Cluster, InstanceType } from '../../src/config/types.js';
import type {
  CapacityDetail,
  ContainerQueue,
  ControllerHealth,
  CreateLimitsReport,
  QuotaDetail,
  IdleBehavior,
  InstanceView,
  QueueEntry,
  WorkerPool,
  WorkerState,
} from '../../src/scheduler/interfaces.js';
import { PENDING_ID_PREFIX } from '../../src/worker/pool-core.js';
import { WORKER_STATES } from '../../src/worker/states.js';

export const GiB = 2 ** 30;

/** `zzzzz-dz642-000000000000004` for 4, as the reference's tests number them. */
export function uuid(i: number): string {
  return `zzzzz-dz642-${String(i).padStart(15, '0')}`;
}

/**
 * A cluster with types `type1`..`type16`: type i has i VCPUs, i GiB of RAM
 * and of scratch, and costs i x 0.123. `cloudVMs` and `containers` are
 * extra YAML lines (indented by the helper) for those sections.
 */
export function testCluster(opts: { cloudVMs?: Record<string, unknown>; containers?: Record<string, unknown>; types?: number[] } = {}): Cluster {
  const cloud = { MaxInstances: 10, SupervisorFraction: 0.2, ...opts.cloudVMs };
  const containers = { MaximumPriceFactor: 1, StaleLockTimeout: '1m', ...opts.containers };
  const lines = ['Clusters:', '  zzzzz:', '    Containers:'];
  for (const [k, v] of Object.entries(containers)) lines.push(`      ${k}: ${JSON.stringify(v)}`);
  lines.push('      CloudVMs:');
  for (const [k, v] of Object.entries(cloud)) lines.push(`        ${k}: ${JSON.stringify(v)}`);
  lines.push('    InstanceTypes:');
  for (const i of opts.types ?? Array.from({ length: 16 }, (_, n) => n + 1)) {
    lines.push(`      type${i}: {VCPUs: ${i}, RAM: ${i}GiB, IncludedScratch: ${i}GiB, Price: ${(i * 0.123).toFixed(3)}}`);
  }
  return loadConfigText(lines.join('\n') + '\n').cluster;
}

export interface ContainerSpec {
  uuid: string;
  priority?: number;
  state?: ContainerState;
  vcpus?: number;
  /** GiB. */
  ram?: number;
  /** GiB of keep_cache_disk: the fakes' stand-in for scratch. */
  scratch?: number;
  supervisor?: boolean;
  createdAt?: string;
  /** scheduling_parameters.preemptible; set: only types of that market are eligible, as in the real queue. */
  preemptible?: boolean;
  /** The listed lock_count; absent when not given. */
  lockCount?: number;
}

/** Eligible types as the queue would choose them: fitting, cheapest first, within MaximumPriceFactor. */
export function eligibleTypes(cluster: Cluster, need: { vcpus: number; ram: number; scratch: number; preemptible?: boolean }): InstanceType[] {
  const fit = Object.values(cluster.InstanceTypes)
    .filter((t) => t.VCPUs >= need.vcpus && t.RAM >= need.ram && t.Scratch >= need.scratch && (need.preemptible === undefined || t.Preemptible === need.preemptible))
    .sort((a, b) => a.Price - b.Price || b.VCPUs - a.VCPUs);
  if (fit.length === 0) return [];
  const ceiling = fit[0].Price * Math.max(cluster.Containers.MaximumPriceFactor, 1);
  return fit.filter((t) => t.Price <= ceiling + 1e-9);
}

type Change = { uuid: string; from: ContainerState; to: ContainerState };

/** Change listeners, as the real queue and pool have (without their coalescing: tests count calls). */
class Listeners {
  private readonly listeners = new Set<() => void>();

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  listenerCount(): number {
    return this.listeners.size;
  }

  notify(): void {
    const ls = [...this.listeners];
    queueMicrotask(() => ls.forEach((l) => l()));
  }

  /** Calls the listeners right away, as if a change landed in the middle of a pass. */
  notifyNow(): void {
    for (const l of [...this.listeners]) l();
  }
}

/** A container queue held in memory. Lock/unlock/cancel apply the controller's rules. */
export class FakeQueue extends Listeners implements ContainerQueue {
  readonly map = new Map<string, QueueEntry>();
  private snapshot: Map<string, QueueEntry> | undefined;
  /** Equal sizes share their type list and size objects, as in the real queue. */
  private readonly interned = new Interner();
  updated = 0;
  readonly changes: Change[] = [];
  readonly cancelReasons = new Map<string, string | undefined>();
  readonly forgotten: string[] = [];
  readonly calls: string[] = [];
  /** While set, lock/unlock/cancel wait for `release()`. */
  hold = false;
  /** update() rejects this many times first. */
  failUpdates = 0;
  private held: Array<() => void> = [];
  private seq = 0;

  constructor(
    private readonly clock: ManualClock,
    private readonly cluster: Cluster,
  ) {
    super();
  }

  add(...specs: ContainerSpec[]): this {
    for (const s of specs) {
      const need = { vcpus: s.vcpus ?? 1, ram: (s.ram ?? 1) * GiB, scratch: (s.scratch ?? 0) * GiB };
      const container: Container = {
        uuid: s.uuid,
        state: s.state ?? 'Queued',
        priority: s.priority ?? 1,
        runtime_constraints: { vcpus: need.vcpus, ram: need.ram, keep_cache_disk: need.scratch },
        scheduling_parameters: { supervisor: s.supervisor ?? false, ...(s.preemptible !== undefined ? { preemptible: s.preemptible } : {}) },
        container_image: 'd41d8cd98f00b204e9800998ecf8427e+0',
        created_at: s.createdAt ?? new Date(this.clock.now()).toISOString(),
        ...(s.lockCount !== undefined ? { lock_count: s.lockCount } : {}),
      };
      this.changed().set(s.uuid, {
        container,
        instanceTypes: this.interned.types(eligibleTypes(this.cluster, { ...need, preemptible: s.preemptible })),
        instanceResources: this.interned.resources({ ...need, gpus: 0, gpuVRAM: 0 }),
        firstSeenAt: this.clock.now() + this.seq++,
      });
    }
    this.updated = this.clock.now();
    return this;
  }

  /** Changes a container as a poll would show it. */
  set(uuid: string, patch: Partial<Container>): void {
    const ent = this.map.get(uuid)!;
    // Replaced, never changed in place, as the real queue does: snapshots keep what they saw.
    this.changed().set(uuid, { ...ent, container: { ...ent.container, ...patch } });
    this.updated = this.clock.now();
    this.notify();
  }

  state(uuid: string): ContainerState | undefined {
    return this.map.get(uuid)?.container.state;
  }

  entries(): { entries: ReadonlyMap<string, QueueEntry>; updated: number } {
    // Like the real queue: the same snapshot until something changes.
    this.snapshot ??= new Map(this.map);
    return { entries: this.snapshot, updated: this.updated };
  }

  /** The map, about to change: later `entries()` calls get a new snapshot. */
  private changed(): Map<string, QueueEntry> {
    this.snapshot = undefined;
    return this.map;
  }

  get(uuid: string): Container | undefined {
    return this.map.get(uuid)?.container;
  }

  /** Containers listed by the controller whose records are still being read. */
  readonly reading = new Set<string>();

  readingDetails(uuid: string): boolean {
    return this.reading.has(uuid);
  }

  async lock(uuid: string): Promise<void> {
    this.calls.push(`lock ${uuid}`);
    await this.gate();
    const c = this.need(uuid, 'Queued');
    if (c.priority < 1) throw new Error(`422: ${uuid} has priority 0`);
    this.transition(uuid, 'Locked');
  }

  async unlock(uuid: string): Promise<void> {
    this.calls.push(`unlock ${uuid}`);
    await this.gate();
    this.need(uuid, 'Locked');
    this.transition(uuid, 'Queued');
  }

  async cancel(uuid: string, reason?: string): Promise<void> {
    this.calls.push(`cancel ${uuid}`);
    await this.gate();
    this.cancelReasons.set(uuid, reason);
    this.transition(uuid, 'Cancelled');
  }

  forget(uuid: string): void {
    this.forgotten.push(uuid);
    // As the real queue: gone from the snapshot handed out too, not copied.
    this.map.delete(uuid);
    this.snapshot?.delete(uuid);
  }

  async update(): Promise<void> {
    this.calls.push('update');
    if (this.failUpdates > 0) {
      this.failUpdates--;
      throw new Error('503 Service Unavailable');
    }
    this.updated = this.clock.now();
  }

  /** Lets held-up calls proceed. */
  release(): void {
    this.hold = false;
    for (const go of this.held.splice(0)) go();
  }

  private gate(): Promise<void> {
    if (!this.hold) return Promise.resolve();
    return new Promise((resolve) => this.held.push(resolve));
  }

  private need(uuid: string, state: ContainerState): Container {
    const c = this.map.get(uuid)?.container;
    if (!c) throw new Error(`404: ${uuid}`);
    if (c.state !== state) throw new Error(`422: ${uuid} is ${c.state}, not ${state}`);
    return c;
  }

  private transition(uuid: string, to: ContainerState): void {
    const ent = this.map.get(uuid)!;
    this.changes.push({ uuid, from: ent.container.state, to });
    this.changed().set(uuid, { ...ent, container: { ...ent.container, state: to } });
    this.updated = this.clock.now();
    this.notify();
  }
}

/** A worker pool held in memory, after the reference's stub pool. */
export class FakePool extends Listeners implements WorkerPool {
  readonly workers = new Map<string, InstanceView>();
  readonly runningMap = new Map<string, number>();
  readonly exitedMap = new Map<string, number>();
  /** atQuota() once this many workers exist. */
  quota = Infinity;
  /** ProviderType -> how many instances of it the cloud can supply. */
  readonly capacity = new Map<string, number>();
  canCreate = Infinity;
  /** What `loaded()` says: false until the cloud has been listed. */
  isLoaded = true;
  /** Containers whose kill reports a crunch-run still there (a previous attempt lingering). */
  readonly lingering = new Set<string>();
  readonly creates: string[] = [];
  /** What each accepted create returned, in order. */
  readonly createdViews: InstanceView[] = [];
  readonly starts: string[] = [];
  readonly shutdowns: string[] = [];
  readonly kills: Array<{ uuid: string; reason: string }> = [];
  readonly forgotten: string[] = [];
  private n = 0;

  constructor(private readonly clock: ManualClock) {
    super();
  }

  /** Adds an instance directly (not counted in `creates`); returns its id. */
  addWorker(it: InstanceType, state: WorkerState = 'idle', idleBehavior: IdleBehavior = 'run'): string {
    const id = `i-${String(++this.n).padStart(7, '0')}`;
    this.workers.set(id, {
      instance: id,
      address: '10.0.0.' + this.n,
      price: it.Price,
      arvadosInstanceType: it.Name,
      providerInstanceType: it.ProviderType,
      lastContainerUUID: '',
      lastBusy: this.clock.now(),
      runningContainerUUIDs: [],
      workerState: state,
      idleBehavior,
    });
    return id;
  }

  /** Puts a crunch-run for `uuid` on a worker, whatever its state. */
  runOn(id: string, uuid: string): void {
    const w = this.workers.get(id)!;
    w.runningContainerUUIDs.push(uuid);
    w.workerState = 'running';
    this.runningMap.set(uuid, this.clock.now());
  }

  /** Marks a crunch-run as exited now. */
  exit(uuid: string): void {
    this.runningMap.delete(uuid);
    this.exitedMap.set(uuid, this.clock.now());
    for (const w of this.workers.values()) w.runningContainerUUIDs = w.runningContainerUUIDs.filter((u) => u !== uuid);
  }

  bootAll(): void {
    for (const w of this.workers.values()) if (w.workerState === 'booting') w.workerState = 'idle';
  }

  loaded(): boolean {
    return this.isLoaded;
  }

  /** What `createLimits` adds to the quota and capacity the fake derives: a cloud quota error, a create hold. */
  limitsExtra: { quotaError?: { since: number; until: number; error: string }; hold?: { until: number; reason: string } } = {};

  createLimits(types: readonly InstanceType[]): CreateLimitsReport {
    const count = this.workers.size;
    const capacity: Record<string, CapacityDetail> = {};
    for (const t of types) if (this.atCapacity(t)) capacity[t.Name] = { scope: 'type', since: 1000, until: 61_000, error: `no ${t.ProviderType} capacity (fake)` };
    const q = this.limitsExtra.quotaError;
    const quota: QuotaDetail | undefined = q
      ? { bucket: 'cloud quota', inUse: count, since: q.since, until: q.until, liftsBelow: count, error: q.error }
      : count >= this.quota
        ? { bucket: 'MaxInstances', inUse: count, limit: this.quota }
        : undefined;
    return { instances: count, capacity, ...(quota ? { quota } : {}), ...(this.limitsExtra.hold ? { hold: this.limitsExtra.hold } : {}) };
  }

  atQuota(): boolean {
    return this.workers.size >= this.quota;
  }

  atCapacity(it: InstanceType): boolean {
    const supply = this.capacity.get(it.ProviderType);
    if (supply === undefined) return false;
    const used = [...this.workers.values()].filter((w) => w.providerInstanceType === it.ProviderType).length;
    return supply - used < 1;
  }

  running(): Map<string, number> {
    return new Map(this.runningMap);
  }

  exited(): Map<string, number> {
    return new Map(this.exitedMap);
  }

  /** As the real pool's: not the instances shut down (they still count against quota until the cloud stops listing them). */
  instances(): InstanceView[] {
    return [...this.workers.values()].filter((w) => w.workerState !== 'shutdown').map((w) => ({ ...w, runningContainerUUIDs: [...w.runningContainerUUIDs] }));
  }

  countWorkers(): Record<WorkerState, number> {
    const out = Object.fromEntries(WORKER_STATES.map((s) => [s, 0])) as Record<WorkerState, number>;
    for (const w of this.workers.values()) out[w.workerState]++;
    return out;
  }

  create(it: InstanceType): InstanceView | undefined {
    this.creates.push(it.Name);
    if (this.canCreate < 1) return undefined;
    this.canCreate--;
    const id = this.addWorker(it, 'booting');
    // Like a real pool's: the cloud has not named the instance yet, so the view has a placeholder id.
    const view = { ...this.workers.get(id)!, instance: `${PENDING_ID_PREFIX}${this.creates.length}`, runningContainerUUIDs: [] };
    this.createdViews.push(view);
    return { ...view, runningContainerUUIDs: [] };
  }

  shutdown(instanceId: string): boolean {
    this.shutdowns.push(instanceId);
    const w = this.workers.get(instanceId);
    if (!w || w.idleBehavior !== 'run' || w.runningContainerUUIDs.length > 0) return false;
    this.workers.delete(instanceId);
    return true;
  }

  startContainer(instanceId: string, container: Container): boolean {
    this.starts.push(container.uuid);
    const w = this.workers.get(instanceId);
    if (!w || w.idleBehavior !== 'run' || (w.workerState !== 'idle' && w.workerState !== 'running')) return false;
    this.runOn(instanceId, container.uuid);
    w.lastContainerUUID = container.uuid;
    return true;
  }

  killContainer(uuid: string, reason: string): boolean {
    this.kills.push({ uuid, reason });
    if (this.lingering.has(uuid)) return true;
    const there = this.runningMap.has(uuid);
    if (there) this.exit(uuid);
    return there;
  }

  forgetContainer(uuid: string): void {
    this.forgotten.push(uuid);
    this.exitedMap.delete(uuid);
  }

  /** Instances by type name, for assertions. */
  byType(name: string): InstanceView[] {
    return [...this.workers.values()].filter((w) => w.arvadosInstanceType === name);
  }
}

export class FakeClient implements ControllerHealth {
  at = 0;
  last503(): number {
    return this.at;
  }
}
