/**
 * What the scheduler's activities (run queue, sync, stale-lock fix) share:
 * the injected collaborators, the per-container operation slots, and a log
 * that says each repeated decision once.
 */
import type { Clock } from '../clock/index.js';
import type { Cluster } from '../config/types.js';
import type { Logger, RateLimitedLog } from '../log.js';
import type { LocalityPlanner } from '../placement/locality-planner.js';
import type { DrainPlanner } from '../placement/drain.js';
import type { ReclaimPlan } from '../placement/reclaim-plan.js';
import type { SpotFallback } from '../placement/spot-fallback.js';
import type { SpendingCap } from '../placement/spending-cap.js';
import type { SchedulerTimeline } from '../timeline/sink.js';
import type { ContainerQueue, ControllerHealth, InstanceView, QueueEntry, WorkerPool } from './interfaces.js';
import type { UUIDOps } from './ops.js';
import type { LockGate } from './start-breaker.js';
import type { FairShareNotes, PassView } from './pass-view.js';

/** The scheduler's constructor argument. */
export interface SchedulerDeps {
  queue: ContainerQueue;
  pool: WorkerPool;
  client: ControllerHealth;
  cluster: Cluster;
  clock: Clock;
  logger: Logger;
  /** Told of the instances created for containers, and of unlocks and cancels with their reasons. */
  timeline?: SchedulerTimeline;
  /** Told after every pass, outside it (the start-time estimator, `src/estimate/`): it must bound its own cost. */
  afterPass?: PassObserver;
  /** Locality (`src/placement/`): set only when settings `Locality.Enable` is true. */
  locality?: LocalityPlanner;
  /** Fair share between submitters (`src/placement/fair-share-pass.ts`); absent when the settings turn it off. */
  fairShare?: PassReorder;
  /** Warm pools and pre-warming (`src/placement/capacity.ts`): absent when both are off. */
  capacity?: CapacityStep;
  /** Drain to save (`src/placement/drain.ts`); absent when the settings file leaves it off. */
  drain?: DrainPlanner;
  /** What reclaims change in placement (`src/placement/reclaim-plan.ts`); absent while the `Reclaims` rules are off. */
  reclaimPlan?: ReclaimPlan;
  /** Spot fallback (`src/placement/spot-fallback.ts`); absent when the settings file leaves it off. */
  spotFallback?: SpotFallback;
  /** The spending cap (`src/placement/spending-cap.ts`); absent when the settings file's SpendingCap.Enable is false. */
  spendingCap?: SpendingCap;
  /** Holds new locks while starts keep failing (`start-breaker.ts`); absent when the settings file's StartBreaker.Enable is false. */
  startBreaker?: LockGate;
}

/** Something that may rewrite a pass's scheduling order (`view.order`, in place) before the pass walks it. */
export interface PassReorder {
  /** Notes on the containers it moved back, or undefined when it changed nothing. */
  reorder(view: PassView, records: ReadonlyMap<string, CrunchRunRecord>): FairShareNotes | undefined;
}

/** What the scheduler asks of the warm pools and pre-warming at the end of each run-queue pass. */
export interface CapacityStep {
  /**
   * @param instances the pass's instances, with what it placed on them
   * @param entries the queue snapshot the pass read
   * @param blocked at quota, or containers wait for quota: nothing may be created
   */
  afterPlacement(instances: Iterable<InstanceView>, entries: ReadonlyMap<string, QueueEntry>, blocked: boolean): void;
}

/** Something that reads each pass's result after the pass. */
export interface PassObserver {
  afterPass(view: PassView | undefined, maxContainers: number, maxContainersGrows?: boolean): void;
}

export interface PassContext extends SchedulerDeps {
  ops: UUIDOps;
  once: OnceLog;
  /** For warnings a pass could repeat every time (a misconfigured type). */
  rateLimited: RateLimitedLog;
}

/** Workers that may run containers the pool does not know of (`WorkerPool.unlistedWorkers`; every `unknown` one if the pool cannot tell). */
export function unlistedWorkers(pool: WorkerPool): number {
  return pool.unlistedWorkers?.() ?? pool.countWorkers().unknown ?? 0;
}

/** A crunch-run record: `exitedAt` is when the process was seen to exit, if it has. */
export type CrunchRunRecord = { readonly exitedAt?: number };

const LIVE: CrunchRunRecord = Object.freeze({});

/** The last records built for each pool, with the two maps they were built from. */
const lastRecords = new WeakMap<WorkerPool, { running: ReadonlyMap<string, number>; exited: ReadonlyMap<string, number> | undefined; records: ReadonlyMap<string, CrunchRunRecord> }>();

/**
 * The pool's crunch-run records: every container it runs, is starting, or
 * saw exit and has not forgotten yet, with the exit time for the latter.
 * Like the reference's `Running()`, which the scheduler counts as "running".
 * Read-only: a pool that hands out the same `running()` and `exited()` maps
 * while nothing changes (the real one does) gets the same records back, so
 * the two or three calls of one pass build them once.
 */
export function crunchRunRecords(pool: WorkerPool): ReadonlyMap<string, CrunchRunRecord> {
  const running = pool.running();
  const exited = pool.exited?.();
  const last = lastRecords.get(pool);
  if (last && last.running === running && last.exited === exited) return last.records;
  const records = new Map<string, CrunchRunRecord>();
  for (const uuid of running.keys()) records.set(uuid, LIVE);
  for (const [uuid, at] of exited ?? []) records.set(uuid, { exitedAt: at });
  lastRecords.set(pool, { running, exited, records });
  return records;
}

/**
 * Logs a decision about a container the first time it is taken, not on
 * every pass that takes it again (a kill re-sent while crunch-run lingers,
 * a lock held back while a previous attempt exits). `prune` drops the
 * memory of containers the scheduler no longer sees.
 */
export class OnceLog {
  private readonly said = new Map<string, Set<string>>();

  constructor(private readonly logger: Logger) {}

  info(uuid: string, message: string, fields: Record<string, unknown> = {}): void {
    this.emit('info', uuid, message, fields);
  }

  error(uuid: string, message: string, fields: Record<string, unknown> = {}): void {
    this.emit('error', uuid, message, fields);
  }

  debug(uuid: string, message: string, fields: Record<string, unknown> = {}): void {
    this.emit('debug', uuid, message, fields);
  }

  prune(keep: (uuid: string) => boolean): void {
    for (const uuid of this.said.keys()) if (!keep(uuid)) this.said.delete(uuid);
  }

  private emit(level: 'info' | 'error' | 'debug', uuid: string, message: string, fields: Record<string, unknown>): void {
    let seen = this.said.get(uuid);
    if (!seen) {
      seen = new Set();
      this.said.set(uuid, seen);
    }
    if (seen.has(message)) return;
    seen.add(message);
    this.logger.log(level, message, { ContainerUUID: uuid, ...fields });
  }
}

