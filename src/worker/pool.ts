/**
 * The worker pool: the scheduler's view of the cloud's VMs (`WorkerPool` in
 * `src/scheduler/interfaces.ts`) plus what the management API needs. It
 * creates and destroys instances, keeps one state machine per VM
 * (`worker.ts`, `states.md`), and starts and stops crunch-run on them.
 *
 * Its picture is rebuilt from the cloud alone: instance tags (type, idle
 * behaviour, secret) and `crunch-run --list` on each VM. So `stop()` leaves
 * every VM and container as it is, and the next pool over the same
 * InstanceSetID adopts them.
 *
 * Activities live beside this file: `pool-create.ts`, `pool-sync.ts`,
 * `pool-probe.ts` (loops), `worker-probe.ts` (one probe), `throttle.ts`.
 */
import type { Container } from '../arvados/types.js';
import type { Timer } from '../clock/index.js';
import type { InstanceType } from '../config/types.js';
import type { CapacityDetail, CreateLimitsReport, InstanceView, WorkerPool } from '../scheduler/interfaces.js';
import { IDLE_BEHAVIORS, type IdleBehavior, WORKER_STATES, type WorkerState } from './states.js';
import { InstanceNotFoundError } from './errors.js';
import type { PoolDeps } from './pool-config.js';
import { PoolCore } from './pool-core.js';
import { createBlocker, startCreate } from './pool-create.js';
import { ProbeLoop } from './pool-probe.js';
import { SyncLoop } from './pool-sync.js';
import type { BootOutcome } from './worker-env.js';
import type { CostVm } from '../cost/ledger.js';
import { currentPrice } from '../cost/price.js';
import { compareCodeUnits } from '../compare.js';

export { type PoolDeps, type PoolEvent, type RunnerBinary } from './pool-config.js';
export { PENDING_ID_PREFIX } from './pool-core.js';
export { InstanceNotFoundError, isInstanceNotFoundError } from './errors.js';

/** One worker in more detail than `InstanceView`, for the management API and metrics. */
export interface WorkerDetail extends InstanceView {
  /** Epoch ms it first appeared (create returned, or first listed). */
  appearedAt: number;
  /** Epoch ms of the last successful probe (its appearance until then). */
  lastProbeAt: number;
  /** Epoch ms of the last destroy request; 0 if none. */
  destroyedAt: number;
  /** A probe is in flight. */
  probing: boolean;
  /** Containers whose crunch-run we are stopping, and whether we gave up. */
  killing: { uuid: string; givenUp: boolean }[];
}

/** Counters and gauges the metrics endpoint reads. */
export interface PoolStats {
  bootOutcomes: Record<BootOutcome, number>;
  /** Instances that left the cloud list, by the state they were in. */
  disappeared: Record<WorkerState, number>;
  /** The longest time since a worker's last successful probe, ms (0 without workers). */
  maxProbeAgeMs: number;
  /** The median of those times, ms (0 without workers). */
  medianProbeAgeMs: number;
  creating: number;
}

export class WorkerPoolImpl implements WorkerPool {
  private readonly core: PoolCore;
  private readonly probes: ProbeLoop;
  private readonly syncs: SyncLoop;
  private timers: Timer[] = [];
  private started = false;

  constructor(deps: PoolDeps) {
    this.core = new PoolCore(deps);
    this.probes = new ProbeLoop(this.core);
    this.syncs = new SyncLoop(this.core);
  }

  /** Starts the sync loop (a listing now, then SyncInterval after each) and the probe loop (every ProbeInterval). */
  start(): void {
    if (this.started) throw new Error('worker pool already started');
    if (this.core.stopped) throw new Error('worker pool was stopped; build a new one');
    this.started = true;
    const { cfg, clock } = this.core;
    this.timers.push(clock.setRepeatingTimer(cfg.probeInterval, () => this.probes.tick()));
    // After a restart, adopting the running containers quickly matters more
    // than pacing: probe as soon as the first listing is in.
    void this.syncs.start().then(() => this.probes.round());
  }

  /** Stops the loops and closes every executor. Leaves every VM and container alone. */
  stop(): void {
    const core = this.core;
    if (core.stopped) return;
    core.stopped = true;
    for (const t of this.timers) t.cancel();
    this.timers = [];
    this.probes.stop();
    this.syncs.stop();
    core.limits.stop();
    for (const w of core.workers.values()) w.close('stop');
    core.notifier.clear();
    core.log.debug('worker pool stopped');
  }

  /**
   * Lists the cloud now (coalesced: while a listing runs, one more follows
   * it); the next regular listing is SyncInterval after this one. Resolves
   * when the listings asked for so far are done.
   */
  syncNow(): Promise<void> {
    return this.syncs.syncNow();
  }

  /** Runs one probe round now (tests, and the management API's "probe now"). */
  probeNow(): Promise<void> {
    return this.probes.round();
  }

  /** True once the cloud has been listed (the stale-lock fixer waits for this and for no unknown workers). */
  loaded(): boolean {
    return this.core.loaded;
  }

  /** Throws when the pool cannot work: DeployRunnerBinary is configured but the binary was not loaded. */
  checkHealth(): void {
    if (this.core.cfg.runnerMissing) {
      throw new Error(`error loading runner binary ${this.core.cluster.Containers.CloudVMs.DeployRunnerBinary}`);
    }
  }

  subscribe(listener: () => void): () => void {
    return this.core.notifier.subscribe(listener);
  }

  running(): ReadonlyMap<string, number> {
    return this.core.running();
  }

  exited(): ReadonlyMap<string, number> {
    return this.core.exited();
  }

  forgetContainer(uuid: string): void {
    if (this.core.forgetExited(uuid)) {
      this.core.log.debug('clearing placeholder for exited crunch-run process', { ContainerUUID: uuid });
    }
  }

  /** Every worker not shut down, and every create in flight (booting, placeholder id), sorted by id. */
  instances(): InstanceView[] {
    const out: InstanceView[] = [];
    for (const w of this.core.byId()) if (w.state !== 'shutdown') out.push(w.view());
    let pending = false;
    for (const c of this.core.creating.values()) {
      if (c.instanceId === undefined) {
        out.push(this.core.pendingView(c));
        pending = true;
      }
    }
    return pending ? out.sort((a, b) => compareCodeUnits(a.instance, b.instance)) : out;
  }

  /**
   * The management API's list, as the reference's: every worker, shut-down
   * ones included (until they leave the cloud list), and every create in
   * flight with an empty id, no address and a zero last-busy time (it is no
   * instance yet, so no hold or kill can name it). Sorted by id, then by
   * instance type.
   */
  apiInstances(): InstanceView[] {
    const out: InstanceView[] = [...this.core.workers.values()].map((w) => w.view());
    for (const c of this.core.creating.values()) {
      if (c.instanceId === undefined) out.push({ ...this.core.pendingView(c), instance: '', lastBusy: 0 });
    }
    return out.sort((a, b) => compareCodeUnits(a.instance, b.instance) || compareCodeUnits(a.arvadosInstanceType, b.arvadosInstanceType));
  }

  /**
   * The workers shut down but still in the cloud list, which count against
   * MaxInstances until a listing drops them: each one's type and when it was
   * shut down. In no particular order; cheaper than `details()`.
   */
  shutDown(): Array<{ arvadosInstanceType: string; destroyedAt: number }> {
    const out: Array<{ arvadosInstanceType: string; destroyedAt: number }> = [];
    for (const w of this.core.workers.values()) if (w.state === 'shutdown') out.push({ arvadosInstanceType: w.type.Name, destroyedAt: w.destroyed });
    return out;
  }

  /** Every worker, shut-down ones included (not pending creates), in more detail, sorted by id. */
  details(): WorkerDetail[] {
    return this.core.byId().map((w) => this.detail(w.id)!);
  }

  detail(instanceId: string): WorkerDetail | undefined {
    const w = this.core.workers.get(instanceId);
    if (!w) return undefined;
    return {
      ...w.view(),
      appearedAt: w.appeared,
      lastProbeAt: w.probed,
      destroyedAt: w.destroyed,
      probing: w.probing,
      killing: [...w.starting.values(), ...w.running.values()]
        .filter((rr) => rr.stopping)
        .map((rr) => ({ uuid: rr.uuid, givenUp: rr.givenUp })),
    };
  }

  /**
   * What every VM costs now, for the cost ledger: each worker at its current
   * price until a destroy call for it succeeds (providers stop billing once
   * termination is under way), and each create in flight at its type's
   * configured price.
   */
  costSnapshot(): CostVm[] {
    const now = this.core.clock.now();
    const out: CostVm[] = [];
    for (const w of this.core.workers.values()) {
      if (w.terminated > 0) continue;
      out.push({
        id: w.id,
        ...(w.pendingId === undefined ? {} : { pendingId: w.pendingId }),
        instanceType: w.type.Name,
        preemptible: w.type.Preemptible,
        pricePerHour: currentPrice(w.instance, w.type, now),
        containers: [...w.starting.keys(), ...w.running.keys()],
      });
    }
    for (const c of this.core.creating.values()) {
      if (c.instanceId === undefined) {
        out.push({ id: c.placeholderId, instanceType: c.type.Name, preemptible: c.type.Preemptible, pricePerHour: c.type.Price, containers: [], placeholder: true });
      }
    }
    return out;
  }

  stats(): PoolStats {
    const now = this.core.clock.now();
    // As the reference, every worker counts, shut-down ones too (they are
    // no longer probed, so they age until they leave the cloud list).
    const ages = [...this.core.workers.values()].map((w) => now - w.probed).sort((a, b) => b - a);
    return {
      bootOutcomes: { ...this.core.bootOutcomes },
      disappeared: { ...this.core.disappeared },
      maxProbeAgeMs: ages[0] ?? 0,
      // The reference's pick: oldest first, the element at n/2 (the younger
      // middle one when n is even).
      medianProbeAgeMs: ages[Math.floor(ages.length / 2)] ?? 0,
      creating: this.core.creating.size,
    };
  }

  /** Workers by state, shut-down ones included; creates in flight count as booting. */
  listedAt(): number {
    return this.core.listedAt;
  }

  unlistedWorkers(): number {
    let n = 0;
    for (const w of this.core.workers.values()) if (w.state === 'unknown' && !w.listed) n++;
    return n;
  }

  countWorkers(): Record<WorkerState, number> {
    const out = Object.fromEntries(WORKER_STATES.map((s) => [s, 0])) as Record<WorkerState, number>;
    for (const w of this.core.workers.values()) out[w.state]++;
    for (const c of this.core.creating.values()) if (c.instanceId === undefined) out.booting++;
    return out;
  }

  atCapacity(type: InstanceType): boolean {
    return this.core.limits.atCapacity(type);
  }

  spotPrice(type: InstanceType): number | undefined {
    return this.core.deps.instanceSet.spotPrice?.(type);
  }

  atQuota(): boolean {
    return this.core.limits.atQuota(this.core.instanceCount());
  }

  createLimits(types: readonly InstanceType[]): CreateLimitsReport {
    const { limits } = this.core;
    const count = this.core.instanceCount();
    const capacity: Record<string, CapacityDetail> = {};
    for (const t of types) {
      const d = limits.capacityDetail(t);
      if (d) capacity[t.Name] = d;
    }
    const hold = limits.createHold.active ? { until: limits.createHold.until, reason: limits.createHold.reason } : undefined;
    return { instances: count, quota: limits.quotaDetail(count), capacity, ...(hold ? { hold } : {}) };
  }

  /** Why `create(type)` would decline now, or undefined (for scheduling_status and logs). */
  createBlocker(type: InstanceType): string | undefined {
    return createBlocker(this.core, type);
  }

  create(type: InstanceType, note?: string): InstanceView | undefined {
    return startCreate(this.core, type, note);
  }

  keepWarm(ids: ReadonlySet<string>, by = 'capacity'): void {
    if (ids.size === 0) this.core.warm.delete(by);
    else this.core.warm.set(by, ids);
  }

  shutdown(instanceId: string): boolean {
    const w = this.core.workers.get(instanceId);
    const refused = !w || w.idleBehavior === 'hold' || (w.state !== 'booting' && w.state !== 'idle') || w.containerCount() > 0;
    // The reference's line, at info for a request that is honoured. At quota the
    // scheduler asks again every pass for instances it cannot have (not yet
    // probed after a restart, held), which would be a line each per pass.
    if (refused) {
      (w?.log ?? this.core.log).debug('shutdown requested', { Instance: instanceId });
      return false;
    }
    w.log.info('shutdown requested');
    w.log.info('shutting down', { Reason: 'requested by the scheduler', State: w.state });
    w.reportBootOutcome('aborted');
    w.shutdown();
    return true;
  }

  startContainer(instanceId: string, container: Container): boolean {
    const core = this.core;
    const w = core.workers.get(instanceId);
    if (!w || core.stopped) return false;
    if (w.idleBehavior !== 'run' || (w.state !== 'idle' && w.state !== 'running') || w.startsBlocked) return false;
    // Never two crunch-runs for one container at once, on any worker.
    if (core.findRunner(container.uuid)) return false;
    if (core.cfg.maxRunningPerInstance > 0 && w.containerCount() >= core.cfg.maxRunningPerInstance) return false;
    core.forgetExited(container.uuid);
    w.startContainer(container);
    return true;
  }

  killContainer(uuid: string, reason: string): boolean {
    const found = this.core.findRunner(uuid);
    if (!found) {
      this.core.log.debug('cannot kill: already disappeared', { ContainerUUID: uuid, Reason: reason });
      return false;
    }
    found.runner.kill(reason);
    return true;
  }

  /**
   * Container `uuid`'s crunch-run reported the provider's interruption
   * notice (EC2SpotCheck): the VM running it gets no new containers and the
   * reclaim is told (`instanceReclaimed`, phase notice). False when no VM
   * runs it.
   */
  noticeReclaim(uuid: string, reason: string): boolean {
    const found = this.core.findRunner(uuid);
    if (!found) return false;
    this.core.noticeReclaim(found.worker, reason);
    return true;
  }

  /**
   * Sets the idle behaviour now, and starts writing its tag: the promise
   * settles when the cloud has saved it, rejecting with the cloud's error if
   * it could not (the behaviour applies anyway). Throws InstanceNotFoundError
   * for an unknown id, at once.
   */
  setIdleBehavior(instanceId: string, behavior: IdleBehavior): Promise<void> {
    if (!(IDLE_BEHAVIORS as readonly string[]).includes(behavior)) throw new TypeError(`invalid idle behavior ${JSON.stringify(behavior)}`);
    const w = this.core.workers.get(instanceId);
    if (!w) throw new InstanceNotFoundError(instanceId);
    return w.setIdleBehavior(behavior);
  }

  /** Destroys the instance now, whatever it runs and whatever its idle behaviour. Throws InstanceNotFoundError for an unknown id. */
  killInstance(instanceId: string, reason: string): void {
    const w = this.core.workers.get(instanceId);
    if (!w) throw new InstanceNotFoundError(instanceId);
    w.log.info('shutting down', { Reason: reason });
    w.reportBootOutcome('aborted');
    w.shutdown();
  }
}
