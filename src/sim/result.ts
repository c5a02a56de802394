/**
 * What one simulated run produces: each container's outcome and everything
 * the report (`report.ts`) is computed from.
 */
import type { TestController } from '../testcontroller/index.js';
import type { WarmUpTotals } from '../../drivers/lame/disk-cache.js';
import type { LameCloud } from '../../drivers/lame/index.js';
import type { Container } from '../arvados/types.js';
import type { ManualClock } from '../clock/manual.js';
import type { Cluster } from '../config/types.js';
import type { CapacityStats } from '../placement/capacity.js';
import type { Settings } from '../config/settings.js';
import type { CostLedger } from '../cost/ledger.js';
import type { DrainStats } from '../placement/drain.js';
import type { BillingRules } from '../cost/billing.js';
import type { StretchStats } from '../worker/idle-stretch.js';
import type { EstimateSample } from './accuracy.js';
import type { CloudLedger } from './cloud.js';
import type { ReclaimSummary } from './reclaims.js';
import type { WorkloadPlayer } from './player.js';
import type { TimelineSample } from './plot.js';
import type { FallbackFigures, OutageWindow } from './report-spot.js';

export interface SimEnvironment {
  clock: ManualClock;
  controller: TestController;
  cloud: LameCloud;
  ledger: CloudLedger;
  cluster: Cluster;
  player: WorkloadPlayer;
}

/** What happened to one workload container (or a child). */
export interface ContainerOutcome {
  id: string;
  uuid?: string;
  /** Undefined: never submitted (its parent was cancelled, or the run ended first). */
  state?: Container['state'];
  /** The cheapest fitting type's price; undefined when no type fits. */
  lowerBoundPrice?: number;
  lowerBoundType?: string;
  /** The ideal run time: runtimeMs, and for a runner at least its children's critical path. */
  idealMs: number;
  submittedAt?: number;
  runningAt?: number;
  finalAt?: number;
  /** runtime_status.error, or the reason the controller recorded, for Cancelled containers. */
  reason?: string;
  exitCode?: number | null;
  /** The VM its crunch-run was last started on. */
  vm?: string;
  /** The workload's owner of its top-level container (children inherit it). */
  owner?: string;
  /** Containers the controller ran for its request, when it retried (`Workload.containerCountMax`); absent for one. */
  attempts?: number;
  /** It asked for preemptible instances. */
  preemptible?: boolean;
  /** The workload's priority for it. */
  priority?: number;
  /** A workflow child's stage (`SimContainer.stage`). */
  stage?: string;
}

/** Everything the report is computed from. */
export interface SimResult {
  workload: string;
  seed: number;
  startedAt: number;
  endedAt: number;
  /** True when every container is final and every VM gone before the limit. */
  finished: boolean;
  containers: ContainerOutcome[];
  ledger: CloudLedger;
  /** VM id -> when its first boot probe passed. */
  readyAt: Map<string, number>;
  timeline: TimelineSample[];
  /** Dispatcher restarts done (see `SimOptions.restartsAt`). */
  restarts: number;
  /**
   * Clock timers still armed once the dispatcher has stopped and the cloud
   * is gone: 0 unless something (a stopped dispatcher's loop, say) left one.
   */
  timersLeft: number;
  /** Timers fired by the clock: a measure of the simulation's work. */
  timersFired: number;
  /** Requests the controller answered, by `METHOD route`, from the dispatcher and crunch-run alike. */
  controllerRequests: Record<string, number>;
  /** The start-time estimates made (see `accuracy.ts`). */
  estimates: EstimateSample[];
  /** The settings the dispatcher ran with (durations in ms). */
  settings: Settings;
  /** What warm pools and pre-warming did, over every dispatcher of the run; absent when both were off. */
  capacity?: CapacityStats;
  /** Each dispatcher's cost ledger (`src/cost/`), in the order they ran; as of its stop. */
  costLedgers: CostLedger[];
  /** What drain to save did, over every dispatcher of the run; undefined when it was off. */
  drain?: Pick<DrainStats, 'emptied' | 'tookDraining' | 'waited'>;
  /** Each type's billing rule (the report bills VMs by it); empty when every type is billed exactly. */
  billingRules: BillingRules;
  /** Idle VMs kept to the end of their paid period, over every dispatcher of the run; absent when Billing.StretchIdle was off. */
  idleStretch?: StretchStats;
  /** Spot reclaims and what the dispatcher did about them; undefined when there were none and the rules were off. */
  reclaims?: ReclaimSummary;
  notes: string[];
  host: { wallMs: number; cpuUserMs: number; cpuSystemMs: number; peakRssBytes: number; peakHeapBytes: number };
  /** The lame cloud's image pulls and cold input reads (its cost model: drivers/lame/disk-cache.ts). */
  warmUp: WarmUpTotals;
  /** What the spot fallback did, over every dispatcher of the run; undefined when it was off. */
  fallback?: FallbackFigures;
  /** The lame cloud's SpotOutages periods (ms since the start); undefined when it had none. */
  spotOutages?: OutageWindow[];
}
