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
  state: 'booting' | 'idle' | 'running';
  /** For a booting instance: when its create was called. */
  bootStartedAt?: number;
  running: readonly ForecastRunning[];
  /**
   * Its IdleBehavior (absent: run), which says whether and when the pool
   * shuts it down, and so whether it may be replaced when no instance may be
   * added: with run, TimeoutIdle after it goes idle; drained, as soon as
   * nothing runs on it; on hold, never.
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
  /** TimeoutIdle, ms: how long an idle instance stays before it is shut down. */
  idleTimeoutMs: number;
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
