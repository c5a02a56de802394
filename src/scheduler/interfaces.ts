/**
 * What the scheduler needs from the container queue, the worker pool and the
 * controller client: small enough that a test passes object literals.
 *
 * Implemented by `src/queue/queue.ts` (ContainerQueue), `src/worker/pool.ts`
 * (WorkerPool) and `src/arvados/client.ts` (ControllerHealth), and by the
 * fakes in the scheduler's tests.
 *
 * Times are epoch ms from the injected Clock.
 */
import type { Container } from '../arvados/types.js';
import type { InstanceType } from '../config/types.js';
import type { IdleBehavior, WorkerState } from '../worker/states.js';
import type { CapacityDetail, QuotaDetail } from '../worker/throttle.js';

export type { CapacityDetail, QuotaDetail };

/** See `WorkerPool.createLimits`. Times are epoch ms. */
export interface CreateLimitsReport {
  /** Instances counted against quota (listed, shut down or not, plus creates in flight). */
  instances: number;
  quota?: QuotaDetail;
  /** Creates are held (a cloud rate limit, or the back-off after a failed create) until then. */
  hold?: { until: number; reason: string };
  /** By type name, for the types asked about that are at capacity. */
  capacity: Record<string, CapacityDetail>;
}

/** A worker's lifecycle state and idle behaviour: vocabulary shared with the pool (`src/worker/states.ts`). */
export type { IdleBehavior, WorkerState };

/** Resources a container needs, or an instance has to spare. Bytes for sizes. */
export interface InstanceResources {
  vcpus: number;
  ram: number;
  scratch: number;
  gpus: number;
  /** Per GPU device. */
  gpuVRAM: number;
}

/** One container the queue tracks. */
export interface QueueEntry {
  container: Container;
  /** Eligible types, cheapest first (see `src/queue/instance-types.ts`). */
  instanceTypes: InstanceType[];
  /** What the container needs of an instance (RAM includes ReserveExtraRAM etc.). */
  instanceResources: InstanceResources;
  /** When this dispatcher first saw the container: the tie-break among equal priorities. */
  firstSeenAt: number;
  /** PDHs of its `collection` mounts, for locality (the queue keeps no other part of the mounts); absent when none. */
  inputs?: readonly string[];
}

/**
 * The container queue: the controller's containers as last polled, with
 * the operations the scheduler performs on them. Lock, unlock and cancel
 * resolve when the controller has answered and the entry is updated; they
 * reject with a clear error otherwise. At most one operation per container
 * is in flight; a second one for the same container rejects at once.
 */
export interface ContainerQueue {
  /**
   * The current entries by uuid, and when they were last refreshed from the
   * controller. A snapshot: the same object until the queue changes, and
   * later changes leave it alone, except that containers `forget` drops
   * disappear from it too. Never modify it.
   */
  entries(): { entries: ReadonlyMap<string, QueueEntry>; updated: number };
  lock(uuid: string): Promise<void>;
  unlock(uuid: string): Promise<void>;
  /** Cancels the container, setting only its state (runtime_status is crunch-run's); `reason` is for the log. */
  cancel(uuid: string, reason?: string): Promise<void>;
  /** Stops tracking a container in a final state (or priority 0 and not ours). */
  forget(uuid: string): void;
  get(uuid: string): Container | undefined;
  /**
   * True while the controller lists the container but the queue is still
   * reading its record (mounts): it is not an entry yet, so it is not
   * scheduled, and a crunch-run found running it must not be killed as
   * "not in queue" (a read that failed at a restart would otherwise kill
   * work the controller still wants).
   */
  readingDetails(uuid: string): boolean;
  /** Calls `listener` (coalesced, asynchronously) after the entries change; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
  /** Polls the controller now. */
  update(): Promise<void>;
}

/** One instance as the pool sees it (also the management API's instance record). */
export interface InstanceView {
  instance: string;
  address: string;
  price: number;
  arvadosInstanceType: string;
  providerInstanceType: string;
  lastContainerUUID: string;
  /** Epoch ms when it last ran something (or was created). */
  lastBusy: number;
  /** Containers running or starting on it (the scheduler appends the ones it allocates in a pass). */
  runningContainerUUIDs: string[];
  workerState: WorkerState;
  idleBehavior: IdleBehavior;
  /** Why it was created, when not for a waiting container: "warm pool 0 (m5.large)", "pre-warmed for runner X's children (#3)". */
  note?: string;
  /**
   * Why an idle VM is still up past TimeoutIdle ("idle, kept to the end of its
   * paid hour (12 min)", `idle-stretch.ts`): shown in place of `note` while
   * it holds, which stays why it was created.
   */
  keptNote?: string;
  /** The provider's notice that it takes this VM back (spot interruption): no new containers go here. */
  reclaimNotice?: string;
}

/** The note an instance shows (its management API item, a container's timeline): the kept one while it holds, else why it was created. */
export function shownNote(v: Pick<InstanceView, 'note' | 'keptNote'>): string | undefined {
  return v.keptNote ?? v.note;
}

/**
 * The worker pool: creates and destroys VMs, starts and stops containers on
 * them. Every method returns at once; the cloud and SSH work happens in the
 * background and shows up in later calls and as notifications.
 */
export interface WorkerPool {
  /**
   * Containers with a live crunch-run (or being started), uuid -> when it was
   * started or first seen. Read-only: the pool may hand out one map until
   * its records change.
   */
  running(): ReadonlyMap<string, number>;
  /**
   * Containers whose crunch-run has exited but whose record the pool keeps
   * until `forgetContainer`, uuid -> when the exit was noticed. The
   * scheduler compares that time with the queue's `updated` to tell "Locked
   * (or Running) after crunch-run exited" (unlock, or cancel) from "state not
   * refreshed yet". Optional: without it those two cases are only caught
   * once the pool has dropped the record (then: restart, or cancel as
   * running nowhere).
   */
  exited?(): ReadonlyMap<string, number>;
  /**
   * True once the cloud's instance list has been loaded; until then
   * `running()`, `instances()` and `countWorkers()` miss whatever already
   * runs, and the scheduler makes no decision (it waits for a notification).
   * Optional: a pool without it is taken as loaded from the start.
   */
  loaded?(): boolean;
  /** Every instance, except those already shut down: new objects (and arrays) the caller may change. */
  instances(): InstanceView[];
  countWorkers(): Record<WorkerState, number>;
  /**
   * Workers that may run containers the pool does not know of: `unknown`
   * ones (found in the cloud, not made by this process) whose `--list` has
   * not answered yet. One whose boot probe keeps failing but whose `--list`
   * answers stays `unknown` without hiding anything. Optional: without it,
   * every `unknown` worker counts.
   */
  unlistedWorkers?(): number;
  /**
   * When the last worker found in the cloud had its processes listed (0 if
   * none): a container the queue last saw Running before then may have
   * ended since, which that listing, not finding it, cannot tell from
   * "runs nowhere". Optional: without it, 0.
   */
  listedAt?(): number;
  /** True while creates of this type (or its quota group) recently failed with a CapacityError. */
  atCapacity(type: InstanceType): boolean;
  /** True while the cloud quota or MaxInstances stops new instances. */
  atQuota(): boolean;
  /**
   * What a new VM of the preemptible `type` would pay per hour now, when the
   * driver quotes spot prices (`InstanceSet.spotPrice`); undefined otherwise.
   * Optional: fakes and drivers without spot quotes keep configured prices.
   */
  spotPrice?(type: InstanceType): number | undefined;
  /**
   * What stands in the way of creating instances of these types now: the
   * quota (MaxInstances or the cloud's), a hold on creates (rate limit,
   * back-off), each type's capacity shortage. For the "why" of waiting
   * containers; optional, so that fakes may leave it out.
   */
  createLimits?(types: readonly InstanceType[]): CreateLimitsReport;
  /**
   * Starts creating an instance; the view (state booting, new id placeholder) or undefined if the pool declined.
   * `note` says why it was created when no container waits for it (warm pools, pre-warming); the pool keeps it with the VM.
   */
  create(type: InstanceType, note?: string): InstanceView | undefined;
  /**
   * The idle instances wanted soon: not shut down at TimeoutIdle until a
   * later call by the same `by` (default "capacity": warm pools and
   * pre-warming; "locality": VMs a hold left idle) leaves them out.
   * Optional (fakes).
   */
  keepWarm?(ids: ReadonlySet<string>, by?: string): void;
  /** Shuts the instance down if it is idle (run behaviour) and has nothing to run; true if it did. */
  shutdown(instanceId: string): boolean;
  /** Starts the container on that instance if it is ready; false if the instance is still booting or gone. */
  startContainer(instanceId: string, container: Container): boolean;
  /** Asks crunch-run to stop the container (SIGTERM, escalating); true if a crunch-run was (still) there. */
  killContainer(uuid: string, reason: string): boolean;
  /** Forgets a finished container's crunch-run record (it has exited). */
  forgetContainer(uuid: string): void;
  /** Calls `listener` (coalesced, asynchronously) after the pool's state changes; returns the unsubscribe function. */
  subscribe(listener: () => void): () => void;
}

/** The controller client's view the scheduler uses for the dynamic concurrency limit. */
export interface ControllerHealth {
  /** Epoch ms of the last HTTP 503 from the controller, or 0. */
  last503(): number;
  /**
   * Outage or overload, as told from the outcomes of recent requests
   * (`src/arvados/health.ts`). Optional: without it every new 503 counts
   * as overload.
   */
  signals?(): ControllerSignals;
}

/** What the controller's recent answers say (epoch ms; 0 = never). */
export interface ControllerSignals {
  /** Since when every request has failed (the first failure after the last answer); 0 when the last request got an answer. */
  failingSince: number;
  /** True while that has lasted long enough to be an outage (not overload). */
  outage: boolean;
  /** When the last episode of 503s (or 429s) ended with requests succeeding again: overload. */
  lastOverload: number;
  /** When the last outage ended. */
  outageEnded: number;
  /** When the controller last answered a request. */
  lastAnswer: number;
  /** Recent response time of answered requests, ms (a moving average); 0 before the first. */
  responseTimeMs: number;
}
