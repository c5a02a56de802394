/**
 * The worker pool's shared state: the workers, the creates in flight, the
 * exited-process records, the create limits, and the counters the metrics
 * read. The activities (create, sync, probe loop, the public API in
 * `pool.ts`) all work on one PoolCore.
 */
import type { Instance } from '../cloud/types.js';
import type { Clock } from '../clock/index.js';
import type { Cluster, InstanceType } from '../config/types.js';
import { addSecret, type Logger, RateLimitedLog, removeSecret } from '../log.js';
import type { InstanceView } from '../scheduler/interfaces.js';
import { IDLE_BEHAVIORS, type IdleBehavior, type WorkerState } from './states.js';
import { Notifier } from '../notifier.js';
import {
  compilePoolConfig,
  type PoolConfig,
  type PoolDeps,
  type PoolEvent,
  TAG_IDLE_BEHAVIOR,
  TAG_INSTANCE_SECRET,
  TAG_INSTANCE_TYPE,
  WARNING_LOG_INTERVAL_MS,
} from './pool-config.js';
import type { RemoteRunner } from './remote-runner.js';
import { CreateLimits } from './throttle.js';
import { Worker } from './worker.js';
import type { BootOutcome, WorkerEnv } from './worker-env.js';
import { compareCodeUnits } from '../compare.js';

/** The id a pending create shows in `instances()` until the cloud has given it a real one. */
export const PENDING_ID_PREFIX = 'pending-';

/** A create call in flight. */
export interface PendingCreate {
  placeholderId: string;
  type: InstanceType;
  secret: string;
  startedAt: number;
  /** Set once a listing (or the create's answer) has shown the instance: it is a worker now. */
  instanceId?: string;
  /** Why it was created, when not for a container (`InstanceView.note`). */
  note?: string;
}

export class PoolCore implements WorkerEnv {
  readonly cfg: PoolConfig;
  readonly cluster: Cluster;
  readonly clock: Clock;
  readonly log: Logger;
  readonly warnings: RateLimitedLog;
  readonly workers = new Map<string, Worker>();
  /** The workers sorted by id, kept until one comes or goes (`byId`). */
  private sortedWorkers: Worker[] | undefined;
  /** Creates in flight, by instance secret (how a listed instance is matched to its create). */
  readonly creating = new Map<string, PendingCreate>();
  /** Container uuid -> the worker with a crunch-run record for it (starting or running). */
  private readonly runnerIndex = new Map<string, Worker>();
  /** Containers that more than one worker has had a record of at once (`indexRunner`). */
  private readonly listedTwice = new Set<string>();
  /**
   * The last map `running()` built, kept until what it lists, or its order,
   * may change: a record added or dropped (`indexRunner`), or a start
   * promoted to running (`runnerPromoted`: a worker lists its starts first).
   * A worker comes with no record and drops each of its own as it goes
   * (`close`), so workers coming and going need nothing more.
   */
  private runningMap: ReadonlyMap<string, number> | undefined;
  /** Containers whose crunch-run exited, uuid -> when noticed; kept until `forgetContainer`. */
  private readonly exitedAt = new Map<string, number>();
  /** The last copy of `exitedAt` handed out, kept until it changes (as `runningMap` for the records). */
  private exitedCopy: ReadonlyMap<string, number> | undefined;
  readonly limits: CreateLimits;
  readonly notifier: Notifier;
  readonly bootOutcomes: Record<BootOutcome, number> = { success: 0, failure: 0, aborted: 0, disappeared: 0 };
  readonly disappeared: Record<WorkerState, number> = { unknown: 0, booting: 0, idle: 0, running: 0, shutdown: 0 };
  stopped = false;
  /** The cloud list has been loaded at least once. */
  loaded = false;
  /** Idle workers wanted soon, by who wants them (warm pools and pre-warming, a locality hold): spared at TimeoutIdle (`keepWarm`). */
  readonly warm = new Map<string, ReadonlySet<string>>();
  private seqCounter = 0;
  private pendingCounter = 0;
  readonly stretchIdle?: (w: Worker) => boolean;
  readonly stretchStarting?: (w: Worker) => void;

  constructor(readonly deps: PoolDeps) {
    this.cluster = deps.cluster;
    this.clock = deps.clock;
    this.log = deps.logger;
    this.cfg = compilePoolConfig(deps.cluster, deps.runnerBinary);
    this.warnings = new RateLimitedLog(deps.logger, deps.clock, WARNING_LOG_INTERVAL_MS);
    this.notifier = new Notifier((err) => this.log.error('pool subscriber failed', { error: err }));
    this.limits = new CreateLimits({
      clock: deps.clock,
      notify: () => this.notify(),
      maxInstances: this.cfg.maxInstances,
      quotaGroup: deps.instanceSet.quotaGroup && ((type) => deps.instanceSet.quotaGroup!(type)),
    });
    const stretcher = deps.idleStretch;
    if (stretcher) {
      this.stretchIdle = (w) => {
        const before = stretcher.stats.kept;
        const keep = stretcher.keeps(w, this.clock.now(), this.cfg.timeoutIdle);
        if (stretcher.stats.kept > before) w.log.info('idle worker kept to the end of its paid period', { KeptUntil: new Date(w.kept!.until).toISOString() });
        return keep;
      };
      this.stretchStarting = (w) => stretcher.starting(w, this.clock.now());
    }
  }

  tagKey(name: string): string {
    return this.cfg.tagKeyPrefix + name;
  }

  nextSeq(): number {
    return ++this.seqCounter;
  }

  nextPlaceholderId(): string {
    return `${PENDING_ID_PREFIX}${++this.pendingCounter}`;
  }

  notify(): void {
    if (!this.stopped) this.notifier.notify();
  }

  noteExited(uuid: string, at: number): void {
    this.exitedAt.set(uuid, at);
    this.exitedCopy = undefined;
  }

  /** Drops the exit record of `uuid`; true if there was one. */
  forgetExited(uuid: string): boolean {
    if (!this.exitedAt.delete(uuid)) return false;
    this.exitedCopy = undefined;
    return true;
  }

  /** The exit records, read-only: one copy, handed out until they change. */
  exited(): ReadonlyMap<string, number> {
    this.exitedCopy ??= new Map(this.exitedAt);
    return this.exitedCopy;
  }

  /** When the last worker found in the cloud (not created by this process) had its processes listed; 0 if none yet. */
  listedAt = 0;

  noteListed(at: number): void {
    this.listedAt = Math.max(this.listedAt, at);
  }

  noteBootOutcome(outcome: BootOutcome): void {
    this.bootOutcomes[outcome]++;
  }

  emit(event: PoolEvent): void {
    try {
      this.deps.onEvent?.(event);
    } catch (err) {
      this.log.error('pool event observer failed', { error: err, Event: event.type });
    }
  }

  /** What the provider counts: every listed worker (one being destroyed included, until a listing drops it), and every create not yet listed. */
  instanceCount(): number {
    let n = this.workers.size;
    for (const c of this.creating.values()) if (c.instanceId === undefined) n++;
    return n;
  }

  keepsWarm(id: string): boolean {
    for (const ids of this.warm.values()) if (ids.has(id)) return true;
    return false;
  }

  indexRunner(uuid: string, worker: Worker, present: boolean): void {
    this.runningMap = undefined;
    if (present) {
      const other = this.runnerIndex.get(uuid);
      if (other !== undefined && other !== worker) this.listedTwice.add(uuid);
      this.runnerIndex.set(uuid, worker);
      return;
    }
    // Two VMs listing one container (should not happen, but a cloud can
    // surprise) must not lose the other's entry: when the one indexed goes,
    // the index points at the other, so a kill still reaches it and no
    // third crunch-run starts. Only such containers pay for the search.
    if (this.runnerIndex.get(uuid) !== worker) return;
    this.runnerIndex.delete(uuid);
    if (!this.listedTwice.has(uuid)) return;
    for (const w of this.workers.values()) {
      if (w !== worker && !w.removed && (w.running.has(uuid) || w.starting.has(uuid))) {
        this.runnerIndex.set(uuid, w);
        return;
      }
    }
    this.listedTwice.delete(uuid);
  }

  runnerPromoted(): void {
    this.runningMap = undefined;
  }

  /**
   * Containers with a crunch-run record on a worker (starting or running),
   * uuid -> since, worker by worker and each worker's starts first. Every
   * scheduling pass asks two or three times (its records, the start-time
   * estimates), mostly with nothing changed: one map, read-only, until then.
   */
  running(): ReadonlyMap<string, number> {
    if (this.runningMap) return this.runningMap;
    const map = new Map<string, number>();
    for (const w of this.workers.values()) {
      for (const rr of w.starting.values()) map.set(rr.uuid, rr.since);
      for (const rr of w.running.values()) map.set(rr.uuid, rr.since);
    }
    this.runningMap = map;
    return map;
  }

  /** The crunch-run record for `uuid` on any worker. */
  findRunner(uuid: string): { worker: Worker; runner: RemoteRunner } | undefined {
    const worker = this.runnerIndex.get(uuid);
    const runner = worker?.running.get(uuid) ?? worker?.starting.get(uuid);
    return worker && runner ? { worker, runner } : undefined;
  }

  /**
   * Adds a worker for `inst`, or refreshes the one it has. A new worker is
   * booting when one of our creates is waiting for it, unknown otherwise (it
   * may be running containers for a previous dispatcher). Its idle behaviour
   * comes from the IdleBehavior tag, so hold and drain survive restarts; an
   * instance whose InstanceType tag names no configured type is drained.
   */
  addOrUpdateWorker(inst: Instance): { worker: Worker; isNew: boolean } {
    const secret = inst.tags[this.tagKey(TAG_INSTANCE_SECRET)] ?? '';
    addSecret(this.log, secret);
    const pending = secret ? this.creating.get(secret) : undefined;
    if (pending && pending.instanceId === undefined) {
      pending.instanceId = inst.id;
      // The first sight of it, whether the create's answer or a listing that came first.
      this.emit({ type: 'instanceCreated', instanceId: inst.id, pendingId: pending.placeholderId, instanceType: pending.type.Name });
    }
    const existing = this.workers.get(inst.id);
    if (existing) {
      existing.updateInstance(inst);
      return { worker: existing, isNew: false };
    }
    const typeName = inst.tags[this.tagKey(TAG_INSTANCE_TYPE)] ?? '';
    const known = Object.hasOwn(this.cluster.InstanceTypes, typeName) ? this.cluster.InstanceTypes[typeName] : undefined;
    const type = known ?? standInType(typeName, inst.providerType);
    const tagged = inst.tags[this.tagKey(TAG_IDLE_BEHAVIOR)] as IdleBehavior;
    let idleBehavior: IdleBehavior = (IDLE_BEHAVIORS as readonly string[]).includes(tagged) ? tagged : 'run';
    const state = pending ? 'booting' : 'unknown';
    // The reference's worker fields, Address included (as it was when the instance appeared).
    const log = this.log.child({ Instance: inst.id, InstanceType: type.Name, Address: inst.address });
    if (!known) {
      // A type removed from the config: drained (it can run nothing), unless held.
      const tag = tagged ?? '';
      if (idleBehavior !== 'hold') idleBehavior = 'drain';
      log.info(`${idleBehavior === 'hold' ? 'holding' : 'draining'} instance that was tagged with an unrecognized InstanceType and IdleBehavior = ${tag}`, {
        InstanceTypeTag: typeName,
      });
    }
    log.info('instance appeared in cloud', { State: state, IdleBehavior: idleBehavior });
    const worker = new Worker(this, {
      instance: inst,
      type,
      typeKnown: known !== undefined,
      state,
      idleBehavior,
      executor: this.deps.newExecutor(inst),
      log,
    });
    if (pending?.note !== undefined) worker.note = pending.note;
    if (pending) {
      worker.pendingId = pending.placeholderId;
      worker.billedFrom = pending.startedAt;
    }
    this.workers.set(inst.id, worker);
    this.sortedWorkers = undefined;
    worker.saveTags().catch(() => undefined);
    return { worker, isNew: true };
  }

  /** The instance left the cloud list. */
  removeWorker(w: Worker): void {
    w.log.info('instance disappeared in cloud', { WorkerState: w.state });
    w.reportBootOutcome('disappeared');
    this.disappeared[w.state]++;
    // A worker can vanish without our asking (destroyed stays 0): not timed.
    if (w.destroyed > 0) this.emit({ type: 'shutdownToGone', instanceId: w.id, sinceShutdownMs: this.clock.now() - w.destroyed });
    else if (w.type.Preemptible || w.reclaimNotice !== undefined) this.emit(reclaimEvent(w, 'gone', w.reclaimNotice ?? 'left the cloud list'));
    this.workers.delete(w.id);
    this.sortedWorkers = undefined;
    w.close('gone');
    // Its secret protects nothing any more; keeping every VM's would grow the scrubber forever.
    removeSecret(this.log, w.instance.tags[this.tagKey(TAG_INSTANCE_SECRET)]);
  }

  /**
   * The provider says it takes `w` back (`reason`): the first notice is
   * kept, so that no new container goes there, and told once.
   */
  noticeReclaim(w: Worker, reason: string): void {
    if (w.reclaimNotice !== undefined || w.destroyed > 0) return;
    w.reclaimNotice = reason;
    w.log.info('provider is taking the instance back', { Reason: reason, Containers: w.running.size + w.starting.size });
    this.emit(reclaimEvent(w, 'notice', reason));
    this.notify();
  }

  /**
   * The workers in id order. Every scheduling pass lists them so; sorting
   * 10k cloud ids costs ~6 ms each time, while the set changes only when a
   * listing adds or drops one.
   */
  byId(): readonly Worker[] {
    this.sortedWorkers ??= [...this.workers.values()].sort((a, b) => compareCodeUnits(a.id, b.id));
    return this.sortedWorkers;
  }

  /** The view of a create in flight (booting, placeholder id). */
  pendingView(c: PendingCreate): InstanceView {
    return {
      instance: c.placeholderId,
      address: '',
      price: c.type.Price,
      arvadosInstanceType: c.type.Name,
      providerInstanceType: c.type.ProviderType,
      lastContainerUUID: '',
      lastBusy: c.startedAt,
      runningContainerUUIDs: [],
      workerState: 'booting',
      idleBehavior: 'run',
      ...(c.note === undefined ? {} : { note: c.note }),
    };
  }
}

/** The `instanceReclaimed` event for `w` now. */
function reclaimEvent(w: Worker, phase: 'notice' | 'gone', reason: string): PoolEvent {
  return {
    type: 'instanceReclaimed',
    phase,
    instanceId: w.id,
    instanceType: w.type.Name,
    zone: w.instance.zone ?? '',
    preemptible: w.type.Preemptible,
    containers: [...w.starting.keys(), ...w.running.keys()].sort(),
    reason,
  };
}

/**
 * A stand-in for a type no longer configured: enough to track and drain the
 * instance, priced at 0 since its price is unknown.
 */
function standInType(name: string, providerType: string): InstanceType {
  return {
    Name: name,
    ProviderType: providerType,
    VCPUs: 0,
    RAM: 0,
    Scratch: 0,
    IncludedScratch: 0,
    AddedScratch: 0,
    Price: 0,
    Preemptible: false,
    GPU: { Stack: '', DriverVersion: '', HardwareTarget: '', DeviceCount: 0, VRAM: 0 },
  };
}
