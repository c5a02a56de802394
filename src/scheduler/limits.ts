/**
 * The dynamic concurrency limit: how many containers the scheduler lets run
 * or start at once, learnt from the controller's 503s and the cloud's quota.
 *
 * | event                                   | maxContainers becomes                          |
 * | --------------------------------------- | ---------------------------------------------- |
 * | start                                   | InitialQuotaEstimate, or MaxInstances if 0     |
 * | a 503 newer than the last one seen      | max(1, running - 1)                            |
 * | no 503 for a minute (checked each pass) | at least floor(running x 1.1) + 1              |
 * | pool at quota                           | at most the workload (>= 1): see `observe`     |
 * | not at quota, quota seen before         | at most the known-good workload + 1            |
 *
 * 0 means no limit. The supervisor cap is floor(limit x SupervisorFraction),
 * at least 1 when both are positive.
 */
import type { CloudVMsConfig } from '../config/types.js';

/** How long without a 503 before the limit may grow again. */
export const QUIET_AFTER_503_MS = 60_000;

export interface LimitInputs {
  now: number;
  /** `ControllerHealth.last503()`. */
  last503: number;
  /** Containers with a crunch-run record in the pool. */
  running: number;
  /** Workers in every state. */
  totalInstances: number;
  atQuota: boolean;
}

export class ConcurrencyLimit {
  /** 0 = unlimited. */
  maxContainers: number;
  /** Epoch ms of the last 503 taken into account, 0 for none. */
  last503Time = 0;
  /**
   * The largest workload (see `observe`) known to fit in the cloud quota; 0
   * until a quota error has been seen. InitialQuotaEstimate is only a first
   * limit, not a level known to fit: as in the reference, it does not hold
   * the limit's regrowth back before the cloud has said anything.
   */
  withinQuota = 0;

  constructor(private readonly cfg: Pick<CloudVMsConfig, 'InitialQuotaEstimate' | 'MaxInstances' | 'SupervisorFraction'>) {
    this.maxContainers = cfg.InitialQuotaEstimate > 0 ? cfg.InitialQuotaEstimate : cfg.MaxInstances;
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
    if (input.last503 > this.last503Time) {
      // Stay just under the load at which the controller started refusing.
      this.last503Time = input.last503;
      this.maxContainers = Math.max(1, input.running - 1);
    } else if (this.maxContainers > 0 && input.now - this.last503Time > QUIET_AFTER_503_MS) {
      // Regrow ~10% past the current workload; as more containers start,
      // the next passes raise it further, until 503s or the quota stop it.
      this.maxContainers = Math.max(this.maxContainers, Math.floor((input.running * 11) / 10) + 1);
    }
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

  /** How many supervisors may run or start; 0 = no cap. */
  maxSupervisors(): number {
    const fraction = this.cfg.SupervisorFraction;
    const n = Math.floor(this.maxContainers * fraction);
    return n < 1 && fraction > 0 && this.maxContainers > 0 ? 1 : n;
  }
}
