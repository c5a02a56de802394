/**
 * What the start-time forecast (`forecast.ts`) is given and what it
 * answers: the waiting containers in scheduling order, the instances with
 * what runs on them, the limits in force; a start time per container in
 * three bands. Times are epoch ms.
 */
import type { IdleBehavior } from '../worker/states.js';
import type { Spread } from './history.js';

/** The part of a container's size the forecast packs by. */
export interface Need {
  vcpus: number;
  /** Bytes. */
  ram: number;
  gpus: number;
}

export interface ForecastContainer {
  /** Eligible instance type names, cheapest first. */
  types: readonly string[];
  need: Need;
  /** Expected total runtime. */
  runtime: Spread;
}

export interface ForecastRunning {
  startedAt: number;
  /** Expected total runtime (what is left is worked out from `startedAt`). */
  runtime: Spread;
  need: Need;
}

export interface ForecastInstance {
  type: string;
  /** What the type offers new work (the forecast works out what is free from `running`); none for an instance that takes no work. */
  capacity: Need;
  /** `leaving`: shut down, and still counted against MaxInstances until a cloud listing no longer has it. */
  state: 'booting' | 'idle' | 'running' | 'leaving';
  /** For a booting instance: when its create was called. */
  bootStartedAt?: number;
  /** For a leaving instance: when it was shut down (its destroy request). */
  shutdownAt?: number;
  running: readonly ForecastRunning[];
  /**
   * Its IdleBehavior (absent: run), which says whether the pool shuts it
   * down, and so whether it may be replaced when no instance may be added:
   * with run or drained, as soon as nothing runs on it (for a container
   * waiting at the limit, the scheduler does not wait TimeoutIdle); on hold,
   * never.
   */
  idleBehavior?: IdleBehavior;
}

export interface ForecastLimits {
  /** The dynamic concurrency limit; 0 = none. */
  maxContainers: number;
  /** True while the limit grows as containers start (see `ConcurrencyLimit`): no overload, no quota seen. */
  maxContainersGrows?: boolean;
  /** MaxInstances; 0 = none. */
  maxInstances: number;
  /** True while the cloud quota stops new instances. */
  atQuota: boolean;
  /** Types whose creates recently failed for lack of capacity. */
  atCapacity: ReadonlySet<string>;
  /** How long after a capacity error a type is tried again, ms. */
  capacityRetryMs: number;
  /**
   * True while a cloud quota error (rather than MaxInstances) stops new
   * instances: the scheduler then shuts down every idle instance a waiting
   * container does not use at once, where at MaxInstances it shuts down one
   * at a time, the next once the last is no longer counted.
   */
  quotaError?: boolean;
  /** TimeoutIdle, ms: how long the pool leaves an idle instance before it shuts it down itself. */
  idleTimeoutMs: number;
  /** From an instance's shutdown to the pool no longer counting it (the next cloud listing without it), ms. */
  leavingMs: Spread;
}

export interface ForecastInput {
  now: number;
  /** The waiting containers, in scheduling order. */
  containers: readonly ForecastContainer[];
  instances: readonly ForecastInstance[];
  limits: ForecastLimits;
  /** What each instance type offers, by name: for the instances the forecast adds. */
  capacities: ReadonlyMap<string, Need>;
  /** Expected create-to-ready time of a type, ms (the band's value is used). */
  bootMs: (type: string) => Spread;
  /** Containers forecast exactly; the rest coarsely. Default 2,000. */
  exactLimit?: number;
}

/** Start times by the input's container index (epoch ms; Infinity when nothing fits). */
export interface ForecastResult {
  low: Float64Array;
  typical: Float64Array;
  high: Float64Array;
  /** How many containers (from the front) were forecast exactly. */
  exact: number;
}
