/**
 * What a worker (`worker.ts`) needs from its pool, and what the pool gives
 * it at creation: the contract between the two, apart from the class.
 */
import type { Instance } from '../cloud/types.js';
import type { Clock } from '../clock/index.js';
import type { Cluster, InstanceType } from '../config/types.js';
import type { Logger, RateLimitedLog } from '../log.js';
import type { Executor } from '../ssh/executor.js';
import type { PoolConfig, PoolEvent } from './pool-config.js';
import type { IdleBehavior } from './states.js';
import type { Worker } from './worker.js';

/** How a worker's boot ended, for the `boot_outcomes` metric (the reference's labels). */
export type BootOutcome = 'success' | 'failure' | 'aborted' | 'disappeared';

/** What a worker needs from its pool. */
export interface WorkerEnv {
  readonly cfg: PoolConfig;
  readonly cluster: Cluster;
  readonly clock: Clock;
  readonly warnings: RateLimitedLog;
  /** A fresh, increasing number: marks a change that in-flight probes and syncs must not overwrite. */
  nextSeq(): number;
  /** Something the scheduler may care about changed. */
  notify(): void;
  /** A crunch-run process exited (or was killed) at `at`. */
  noteExited(uuid: string, at: number): void;
  /** An `unknown` worker's processes became known at `at`: its first `--list` was applied (optional: test fakes leave it out). */
  noteListed?(at: number): void;
  noteBootOutcome(outcome: BootOutcome): void;
  /** Reports a moment the metrics time (optional: test fakes leave it out). */
  emit?(event: PoolEvent): void;
  /** True while someone wants this idle worker kept: a warm pool, pre-warming, a locality hold (optional: test fakes leave it out). */
  keepsWarm?(id: string): boolean;
  /** True to keep this worker, idle past TimeoutIdle, to the end of its paid period (`idle-stretch.ts`); absent when that is off. */
  stretchIdle?(w: Worker): boolean;
  /** This worker is about to start a container (the stretcher counts the kept ones that got work); absent when stretching is off. */
  stretchStarting?(w: Worker): void;
  /** Keeps the pool's container -> worker index: `worker` now has (or no longer has) a crunch-run record for `uuid`. */
  indexRunner(uuid: string, worker: Worker, present: boolean): void;
  /** A start of this worker's moved from `starting` to `running`: the same record, listed in another place. */
  runnerPromoted(): void;
}

export interface WorkerInit {
  instance: Instance;
  type: InstanceType;
  /** False when the InstanceType tag names no configured type (`type` is then a stand-in). */
  typeKnown: boolean;
  state: 'unknown' | 'booting';
  idleBehavior: IdleBehavior;
  executor: Executor;
  log: Logger;
}
