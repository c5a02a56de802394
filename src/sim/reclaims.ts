/**
 * The simulator's account of spot reclaims, for the report: VMs the lame
 * cloud took back, the containers running on them, and the run time their
 * work had when it was lost (the controller's retry runs it again), plus
 * the containers the dispatcher sent on demand because of reclaims.
 */
import type { LameCloud, LameVM } from '../../drivers/lame/index.js';
import type { ReclaimPlan } from '../placement/reclaim-plan.js';
import type { TestController } from '../testcontroller/index.js';

/** The report's `reclaims` section. */
export interface ReclaimSummary {
  /** VMs the provider took back. */
  vms: number;
  /** Containers that were running (or starting) on them. */
  containers: number;
  /** Container-hours of work lost with them: from each container's start of Running to the reclaim. */
  containerHoursLost: number;
  /** Containers sent on demand after their request lost work to reclaims (`Reclaims.OnDemandAfter`). */
  escalations: number;
  /** Containers sent on demand for their expected runtime (`Reclaims.OnDemandAboveRuntime`). */
  longRuntimeOnDemand: number;
}

export class ReclaimWatch {
  private vms = 0;
  private containers = 0;
  private lostMs = 0;
  /** Each dispatcher's plan's counts (kept alone: the plan would keep its dispatcher alive). */
  private readonly plans: Array<ReclaimPlan['counts']> = [];
  private readonly unsubscribe: () => void;

  constructor(
    cloud: Pick<LameCloud, 'onReclaim'>,
    private readonly controller: Pick<TestController, 'get' | 'history'>,
    private readonly now: () => number,
  ) {
    this.unsubscribe = cloud.onReclaim((vm) => this.reclaimed(vm));
  }

  /** Counts what a dispatcher's plan did (each dispatcher of a run has its own). */
  addPlan(plan: ReclaimPlan | undefined): void {
    if (plan) this.plans.push(plan.counts);
  }

  stop(): void {
    this.unsubscribe();
  }

  /** The summary, or undefined when nothing was reclaimed and no plan ran (the report then has no section). */
  summary(): ReclaimSummary | undefined {
    if (this.vms === 0 && this.plans.length === 0) return undefined;
    let escalations = 0;
    let longRuntime = 0;
    for (const counts of this.plans) {
      escalations += counts.reclaims;
      longRuntime += counts['long runtime'];
    }
    return {
      vms: this.vms,
      containers: this.containers,
      containerHoursLost: Math.round((this.lostMs / 3_600_000) * 1000) / 1000,
      escalations,
      longRuntimeOnDemand: longRuntime,
    };
  }

  private reclaimed(vm: Pick<LameVM, 'processes'>): void {
    this.vms++;
    const now = this.now();
    // The processes have vanished by now; the controller says which were still at work.
    for (const uuid of vm.processes.keys()) {
      const state = this.controller.get(uuid)?.state;
      if (state !== 'Running' && state !== 'Locked') continue;
      this.containers++;
      if (state !== 'Running') continue;
      const since = this.controller
        .history(uuid)
        .filter((h) => h.state === 'Running')
        .at(-1)?.at;
      if (since !== undefined) this.lostMs += Math.max(0, now - since);
    }
  }
}
