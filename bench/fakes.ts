/**
 * Lean in-memory queue and pool for the scheduling-pass benchmark. They
 * implement the scheduler's interfaces with realistic state (a poll's worth
 * of containers, instances in every state with containers on them) and
 * answer lock/start/create in O(1) without recording every call, so the
 * measurement is the scheduler's, not the fakes'.
 *
 * Controller answers (lock, unlock, cancel) resolve at once and do not
 * change the entries: as with the real queue, their effect shows at the next
 * poll, and every measured pass sees the same picture. `reset()` puts back
 * what a pass changed (started containers, created instances, forgotten
 * entries); the benchmark calls it outside the timed region.
 */
import type { Container, ContainerState } from '../src/arvados/types.js';
import type { Clock } from '../src/clock/index.js';
import type { Cluster, InstanceType } from '../src/config/types.js';
import type { ContainerQueue, InstanceView, QueueEntry, WorkerPool, WorkerState } from '../src/scheduler/interfaces.js';
import { WORKER_STATES } from '../src/worker/states.js';
import { Interner } from '../src/queue/interner.js';
import { eligibleTypes } from '../test/scheduler/fakes.js';

export const GiB = 2 ** 30;

const internedByCluster = new WeakMap<Cluster, Interner>();

export function makeEntry(
  cluster: Cluster,
  uuid: string,
  state: ContainerState,
  priority: number,
  need: { vcpus: number; ram: number; scratch: number },
  firstSeenAt: number,
  supervisor = false,
): QueueEntry {
  const container: Container = {
    uuid,
    state,
    priority,
    runtime_constraints: { vcpus: need.vcpus, ram: need.ram, keep_cache_disk: need.scratch },
    scheduling_parameters: { supervisor },
    container_image: 'd41d8cd98f00b204e9800998ecf8427e+0',
    created_at: new Date(firstSeenAt).toISOString(),
  };
  // Equal shapes share their objects, as the real queue's do.
  let interned = internedByCluster.get(cluster);
  if (!interned) internedByCluster.set(cluster, (interned = new Interner()));
  return {
    container,
    instanceTypes: interned.types(eligibleTypes(cluster, need)),
    instanceResources: interned.resources({ ...need, gpus: 0, gpuVRAM: 0 }),
    firstSeenAt,
  };
}

export class BenchQueue implements ContainerQueue {
  private current = new Map<string, QueueEntry>();
  private readonly forgotten: QueueEntry[] = [];
  locks = 0;
  unlocks = 0;
  cancels = 0;
  forgets = 0;

  constructor(
    private readonly original: QueueEntry[],
    private readonly updatedAt: number,
  ) {
    for (const e of original) this.current.set(e.container.uuid, e);
  }

  size(): number {
    return this.current.size;
  }

  /** Puts back the entries a pass forgot and zeroes the counters. */
  reset(): void {
    if (this.forgotten.splice(0).length > 0) {
      // Rebuilt in the original order: putting entries back at the end would
      // leave the map out of first-seen order, which the real queue's never is.
      this.current = new Map(this.original.map((e) => [e.container.uuid, e]));
    }
    this.locks = this.unlocks = this.cancels = this.forgets = 0;
  }

  entries(): { entries: ReadonlyMap<string, QueueEntry>; updated: number } {
    // Like src/queue/queue.ts: the live map, replaced (not changed) by
    // `reset()` outside the timed region, as the real queue copies it when
    // a poll or a reply changes it; `forget` deletes in place in both.
    return { entries: this.current, updated: this.updatedAt };
  }

  get(uuid: string): Container | undefined {
    return this.current.get(uuid)?.container;
  }

  readingDetails(): boolean {
    return false;
  }

  lock(): Promise<void> {
    this.locks++;
    return Promise.resolve();
  }

  unlock(): Promise<void> {
    this.unlocks++;
    return Promise.resolve();
  }

  cancel(): Promise<void> {
    this.cancels++;
    return Promise.resolve();
  }

  forget(uuid: string): void {
    const e = this.current.get(uuid);
    if (!e) return;
    this.forgets++;
    this.forgotten.push(e);
    // In place, as the real queue's forget.
    this.current.delete(uuid);
  }

  subscribe(): () => void {
    return () => {};
  }

  update(): Promise<void> {
    return Promise.resolve();
  }
}

/** An instance as the benchmark lays it out. */
export interface WorkerSpec {
  type: InstanceType;
  state: WorkerState;
  containers: string[];
}

export class BenchPool implements WorkerPool {
  private workers = new Map<string, InstanceView>();
  private runningMap = new Map<string, number>();
  private readonly exitedMap = new Map<string, number>();
  private readonly specs: Array<WorkerSpec & { id: string }>;
  private createBudget = 0;
  private n = 0;
  creates = 0;
  declined = 0;
  starts = 0;
  shutdowns = 0;
  kills = 0;

  constructor(
    specs: WorkerSpec[],
    private readonly clock: Clock,
    /** Provider types the cloud reports at capacity. */
    private readonly full: ReadonlySet<string>,
    /** Creates accepted per pass; beyond that the pool declines (throttled cloud calls). */
    private readonly createsPerPass: number,
  ) {
    // Ids sort in creation order, as the real pool's instances() is sorted by id.
    this.specs = specs.map((s, i) => ({ ...s, id: `i-${String(i).padStart(8, '0')}` }));
    this.n = this.specs.length;
    this.reset();
  }

  /** Back to the laid-out instances and containers; zeroes the counters. */
  reset(): void {
    const now = this.clock.now();
    this.workers = new Map();
    this.runningMap = new Map();
    for (const s of this.specs) {
      this.workers.set(s.id, {
        instance: s.id,
        address: '10.0.0.1',
        price: s.type.Price,
        arvadosInstanceType: s.type.Name,
        providerInstanceType: s.type.ProviderType,
        lastContainerUUID: s.containers[s.containers.length - 1] ?? '',
        lastBusy: now,
        runningContainerUUIDs: [...s.containers],
        workerState: s.state,
        idleBehavior: 'run',
      });
      for (const u of s.containers) this.runningMap.set(u, now);
    }
    this.n = this.specs.length;
    this.createBudget = this.createsPerPass;
    this.creates = this.declined = this.starts = this.shutdowns = this.kills = 0;
  }

  loaded(): boolean {
    return true;
  }

  running(): Map<string, number> {
    return new Map(this.runningMap);
  }

  exited(): Map<string, number> {
    return new Map(this.exitedMap);
  }

  instances(): InstanceView[] {
    const out: InstanceView[] = [];
    for (const w of this.workers.values()) out.push({ ...w, runningContainerUUIDs: [...w.runningContainerUUIDs] });
    return out;
  }

  countWorkers(): Record<WorkerState, number> {
    const out = Object.fromEntries(WORKER_STATES.map((s) => [s, 0])) as Record<WorkerState, number>;
    for (const w of this.workers.values()) out[w.workerState]++;
    return out;
  }

  atCapacity(it: InstanceType): boolean {
    return this.full.has(it.ProviderType);
  }

  atQuota(): boolean {
    return false;
  }

  create(it: InstanceType): InstanceView | undefined {
    if (this.createBudget < 1) {
      this.declined++;
      return undefined;
    }
    this.createBudget--;
    this.creates++;
    const id = `i-${String(this.n++).padStart(8, '0')}`;
    const view: InstanceView = {
      instance: id,
      address: '',
      price: it.Price,
      arvadosInstanceType: it.Name,
      providerInstanceType: it.ProviderType,
      lastContainerUUID: '',
      lastBusy: this.clock.now(),
      runningContainerUUIDs: [],
      workerState: 'booting',
      idleBehavior: 'run',
    };
    this.workers.set(id, view);
    return { ...view, instance: '', runningContainerUUIDs: [] };
  }

  shutdown(instanceId: string): boolean {
    this.shutdowns++;
    const w = this.workers.get(instanceId);
    if (!w || w.runningContainerUUIDs.length > 0) return false;
    this.workers.delete(instanceId);
    return true;
  }

  startContainer(instanceId: string, container: Container): boolean {
    const w = this.workers.get(instanceId);
    if (!w || (w.workerState !== 'idle' && w.workerState !== 'running')) return false;
    this.starts++;
    w.runningContainerUUIDs.push(container.uuid);
    w.workerState = 'running';
    w.lastContainerUUID = container.uuid;
    this.runningMap.set(container.uuid, this.clock.now());
    return true;
  }

  killContainer(uuid: string): boolean {
    this.kills++;
    return this.runningMap.delete(uuid);
  }

  forgetContainer(uuid: string): void {
    this.exitedMap.delete(uuid);
  }

  subscribe(): () => void {
    return () => {};
  }
}
