/**
 * The dynamic concurrency limit: how many containers the scheduler lets run
 * or start at once, learnt from the controller's answers and the cloud's
 * quota. Evaluated once per scheduling pass (`observe`), in this order:
 *
 * | controller (`ControllerSignals`)                     | maxContainers becomes                          |
 * | ---------------------------------------------------- | ---------------------------------------------- |
 * | start                                                | InitialQuotaEstimate, or MaxInstances if 0     |
 * | outage: every request failing (see `arvados/health`) | unchanged (no cut, no growth)                  |
 * | some request failing, not an outage yet              | unchanged (wait for the verdict)               |
 * | overload within Q, newer than the last cut, running  | max(1, floor(min(limit, running) x 0.75))      |
 * |   <= limit, and the last cut at least Q ago          |                                                |
 * | overload within Q, otherwise                         | unchanged (the last cut has not taken effect)  |
 * | no overload for Q (checked each pass)                | at least floor(running x 1.1) + 1              |
 *
 * | cloud                                   | maxContainers becomes                          |
 * | --------------------------------------- | ---------------------------------------------- |
 * | pool at quota                           | at most the workload (>= 1): see `observe`     |
 * | not at quota, quota seen before         | at most the known-good workload + 1            |
 *
 * Q, the quiet period, is sized by what the controller is doing:
 * max(2 x PollInterval, 10 x its recent response time), between 1 s and
 * 60 s. A slow, loaded controller gets longer to recover; a quick one
 * with a short PollInterval gets its containers back within seconds.
 *
 * Why: an outage (a controller restart, a proxy blip) says nothing about
 * load, and the containers running through it are still running when it
 * ends, so the limit is left where it was and work resumes at the old pace
 * as soon as the controller answers. Overload (503s while requests sent
 * after them succeed) is the controller asking for less: cut by a quarter,
 * not below 1, and only again once the cut has taken effect (running at or
 * under the limit) and Q has passed, so a cluster whose long containers
 * keep running is not cut to nothing by one busy spell. Regrowth is the
 * reference's: ~10% past the running containers at each pass, so the
 * limit rises only as fast as containers actually start.
 *
 * 0 means no limit (a negative MaxInstances counts as 0). The supervisor
 * cap is floor(limit x SupervisorFraction), at least 1 when both are
 * positive, and none when SupervisorFraction is 0 or less.
 */
import type { CloudVMsConfig } from '../config/types.js';
import type { ControllerSignals } from './interfaces.js';

/** The factor of an overload cut. */
export const OVERLOAD_CUT = 0.75;

/** Regrowth: at least this many tenths of the running containers, plus one. */
export const REGROWTH_TENTHS = 11;

/** The limit regrowth gives with `running` containers running. */
export function regrown(running: number): number {
  return Math.floor((running * REGROWTH_TENTHS) / 10) + 1;
}

/** True while the limit follows the running count up: the controller is not overloaded and no quota has been met. */
export function limitGrows(limit: Pick<ConcurrencyLimit, 'state' | 'withinQuota'>): boolean {
  return limit.state === 'normal' && limit.withinQuota === 0;
}
/** Bounds of the quiet period Q. */
export const MIN_QUIET_MS = 1000;
export const MAX_QUIET_MS = 60_000;

/** The controller as the limit sees it, for metrics and the status page. */
export type ControllerState = 'normal' | 'outage' | 'overload';
export const CONTROLLER_STATES: readonly ControllerState[] = ['normal', 'outage', 'overload'];

export interface LimitInputs {
  now: number;
  /** `ControllerHealth.last503()`. */
  last503: number;
  /** `ControllerHealth.signals()`; without it every new 503 counts as overload. */
  signals?: ControllerSignals;
  /** Containers with a crunch-run record in the pool. */
  running: number;
  /** Workers in every state. */
  totalInstances: number;
  atQuota: boolean;
}

/** The quiet period Q for a PollInterval and a response time (see the header). */
export function quietPeriodMs(pollIntervalMs: number, responseTimeMs: number): number {
  return Math.min(MAX_QUIET_MS, Math.max(MIN_QUIET_MS, 2 * pollIntervalMs, 10 * responseTimeMs));
}

export class ConcurrencyLimit {
  /** 0 = unlimited. */
  maxContainers: number;
  /** Epoch ms of the last 503 seen, 0 for none. */
  last503Time = 0;
  /** What the last `observe` made of the controller. */
  state: ControllerState = 'normal';
  /** The quiet period Q used by the last `observe`. */
  quietMs = MIN_QUIET_MS;
  /** Epoch ms of the last overload cut, 0 for none. */
  lastCut = 0;
  /**
   * The largest workload (see `observe`) known to fit in the cloud quota; 0
   * until a quota error has been seen. InitialQuotaEstimate is only a first
   * limit, not a level known to fit: as in the reference, it does not hold
   * the limit's regrowth back before the cloud has said anything.
   */
  withinQuota = 0;

  constructor(private readonly cfg: Pick<CloudVMsConfig, 'InitialQuotaEstimate' | 'MaxInstances' | 'SupervisorFraction'> & Partial<Pick<CloudVMsConfig, 'PollInterval'>>) {
    // A negative MaxInstances limits nothing, as 0 (the reference tests
    // `> 0`); as 0 here, so that overload cuts and the quota clamp, which
    // start from "no limit", apply to it too.
    this.maxContainers = cfg.InitialQuotaEstimate > 0 ? cfg.InitialQuotaEstimate : Math.max(0, cfg.MaxInstances);
  }

  /**
   * Updates the limit for one scheduling pass.
   *
   * The reference counts the quota workload in instances only. With several
   * containers per instance that deadlocks: 20 containers on 5 instances
   * clamp the limit to 5, and nothing new starts until the workload drops
   * under 6. So the workload here is max(instances, running containers),
   * which is the reference's number whenever each container has its own VM.
   */
  observe(input: LimitInputs): void {
    this.followController(input);
    const workload = Math.max(input.totalInstances, input.running);
    if (this.withinQuota > 0 && this.withinQuota < workload) this.withinQuota = workload;
    if (input.atQuota) {
      if (this.maxContainers === 0 || this.maxContainers > workload) this.maxContainers = Math.max(1, workload);
      this.withinQuota = workload;
    } else if (this.withinQuota > 0 && this.maxContainers > this.withinQuota + 1) {
      // Creep past the last known-good level one at a time: jumping further
      // locks containers only to unlock them at the next quota error, which
      // burns their MaxDispatchAttempts.
      this.maxContainers = this.withinQuota + 1;
    }
  }

  /** The controller rows of the table in the header. */
  private followController(input: LimitInputs): void {
    const { now, running } = input;
    // Without signals, a client is taken to judge every new 503 overload at once.
    const sig: ControllerSignals = input.signals ?? {
      failingSince: 0,
      outage: false,
      lastOverload: input.last503,
      outageEnded: 0,
      lastAnswer: 0,
      responseTimeMs: 0,
    };
    this.last503Time = Math.max(this.last503Time, input.last503);
    this.quietMs = quietPeriodMs(this.cfg.PollInterval ?? 0, sig.responseTimeMs);
    const overloadedRecently = sig.lastOverload > 0 && now - sig.lastOverload < this.quietMs;
    if (sig.outage) {
      this.state = 'outage';
      return;
    }
    this.state = overloadedRecently ? 'overload' : 'normal';
    if (sig.failingSince > 0) return;
    if (overloadedRecently) {
      const tookEffect = this.maxContainers === 0 || running <= this.maxContainers;
      if (sig.lastOverload > this.lastCut && tookEffect && now - this.lastCut >= this.quietMs) {
        const base = this.maxContainers === 0 ? running : Math.min(this.maxContainers, running);
        this.maxContainers = Math.max(1, Math.floor(base * OVERLOAD_CUT));
        this.lastCut = now;
      }
      return;
    }
    if (this.maxContainers > 0) {
      // Regrow ~10% past the current workload; as more containers start,
      // the next passes raise it further, until overload or the quota stop it.
      this.maxContainers = Math.max(this.maxContainers, regrown(running));
    }
  }

  /** How many supervisors may run or start; 0 = no cap (a SupervisorFraction of 0 or less sets none, as in the reference). */
  maxSupervisors(): number {
    const fraction = this.cfg.SupervisorFraction;
    if (fraction <= 0) return 0;
    const n = Math.floor(this.maxContainers * fraction);
    return n < 1 && this.maxContainers > 0 ? 1 : n;
  }
}
