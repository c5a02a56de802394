/**
 * The dispatcher's Prometheus metrics, with the reference's names, labels
 * and help texts (prefix `arvados_dispatchcloud_`), on a registry of their
 * own: tests and the simulator build several dispatchers in one process,
 * and each must report only its own state.
 *
 * Two kinds of source:
 * - events, recorded when they happen: cloud calls (`observeCloud`, fed by
 *   the instance-set wrapper) and the pool's timing events (`observePool`,
 *   fed through `PoolDeps.onEvent`);
 * - state, read at scrape time by `collect()` callbacks from the pool, the
 *   scheduler and the queue (`attach`). The pool already counts boot outcomes
 *   and disappearances, so those counters are copied from its totals at
 *   scrape time rather than counted twice.
 *
 * The timing metrics are summaries, as in the reference (same quantiles,
 * same 10-minute window), so dashboards built on the reference's
 * `{quantile="0.5"}` series keep working.
 */
import type { CapacityStats } from '../placement/capacity.js';
import type { LocalityCounts } from '../placement/locality-planner.js';
import { Counter, Gauge, Registry } from 'prom-client';
import { REFERENCE_SUMMARY_OPTS, WindowedSummary } from './windowed-summary.js';
import type { CloudOperation } from '../cloud/wrap.js';
import type { Cluster } from '../config/types.js';
import type { OutcomeCounts, RequestOutcome } from '../arvados/health.js';
import type { DrainStats } from '../placement/drain.js';
import type { SpotFallbackStats } from '../placement/spot-fallback.js';
import type { StartBreakerStats } from '../scheduler/start-breaker.js';
import type { EventFeedView } from '../queue/event-feed-link.js';
import { copiedCounter, registerOwnMetrics, stateGauge } from './own-metrics.js';
import { cloudErrorCounter } from './cloud-error-metrics.js';
import type { QueueEntry } from '../scheduler/interfaces.js';
import { CONTROLLER_STATES, type ControllerState } from '../scheduler/limits.js';
import { WORKER_STATES } from '../worker/states.js';
import type { BootOutcome } from '../worker/worker-env.js';
import { START_OUTCOMES } from '../worker/remote-runner.js';
import type { ReclaimTracker } from '../placement/reclaims.js';
import type { OnDemandReason } from '../placement/reclaim-plan.js';
import type { CostLedger } from '../cost/ledger.js';
import type { StretchStats } from '../worker/idle-stretch.js';
import type { SpendingCapView } from '../placement/spending-cap.js';
import type { PoolEvent, PoolStats, WorkerDetail } from '../worker/pool.js';

const PREFIX = 'arvados_dispatchcloud_';
const CLOUD_OPERATIONS: readonly CloudOperation[] = ['Create', 'List', 'Destroy', 'SetTags'];
const BOOT_OUTCOMES: readonly BootOutcome[] = ['success', 'failure', 'aborted', 'disappeared'];
const REQUEST_OUTCOMES: readonly RequestOutcome[] = ['ok', 'overload', 'failed'];
/** The reference's instance categories, in its order of precedence. */
export const INSTANCE_CATEGORIES = ['inuse', 'hold', 'booting', 'unknown', 'idle'] as const;
export type InstanceCategory = (typeof INSTANCE_CATEGORIES)[number];


/** What the scrape-time collectors read; the dispatcher's queue, pool and scheduler provide it. */
export interface MetricsSources {
  queueEntries(): Iterable<QueueEntry>;
  /** Every worker, shut-down ones included (the reference counts them until they leave the cloud list). */
  workers(): WorkerDetail[];
  poolStats(): PoolStats;
  /** Containers with a crunch-run starting or running. */
  containersRunning(): number;
  scheduler: {
    readonly maxContainers: number;
    readonly containersAllocatedNotStarted: number;
    readonly containersNotAllocatedOverQuota: number;
    readonly longestWaitTimeSeconds: number;
    readonly atQuota: boolean;
    /** The controller as the concurrency limit sees it; absent = always normal. */
    readonly controllerState?: ControllerState;
  };
  /** Epoch ms of the controller's last 503, or 0. */
  last503(): number;
  /** The dispatcher's controller requests by outcome since start; absent = none counted. */
  controllerRequests?(): OutcomeCounts;
  /** The Arvados event feed; absent = reported as disabled. */
  eventFeed?(): EventFeedView;
  /** Median estimated wait (s) of the waiting containers, by their cheapest eligible type; absent = none. */
  estimatedWaits?(): Record<string, number>;
  /** Scheduling passes fair share reordered or left alone; absent = fair share is off. */
  fairShare?(): { reordered: number; unchanged: number };
  /** Warm pools and pre-warming; absent = off. */
  capacity?(): CapacityStats;
  /** Locality's counts since start (settings `Locality`); absent when it is off. */
  locality?(): LocalityCounts;
  /** Drain to save's figures; absent when it is off. */
  drain?(): DrainStats;
  /** The cost ledger, charged up to now; absent: cost metrics read 0. */
  cost?(): CostLedger;
  /** Idle VMs kept to the end of their paid period (settings `Billing.StretchIdle`); absent when it is off. */
  idleStretch?(): StretchStats;
  /** Spot reclaims counted (`src/placement/reclaims.ts`), and what the Reclaims rules did (absent while they are off). */
  reclaims?(): { counts: ReclaimTracker; onDemand?: Record<OnDemandReason, number> };
  /** Spot fallback's counts since start; absent when it is off. */
  spotFallback?(): SpotFallbackStats;
  /** The start breaker (settings `StartBreaker`); absent when it is off. */
  startBreaker?(): StartBreakerStats;
  /** The spending cap's levels and the day's forecast; absent when it is off. */
  spendingCap?(): SpendingCapView;
}

/** The reference's category of a worker for instances_total and the per-category totals. */
export function instanceCategory(w: Pick<WorkerDetail, 'runningContainerUUIDs' | 'idleBehavior' | 'workerState'>): InstanceCategory {
  if (w.runningContainerUUIDs.length > 0) return 'inuse';
  if (w.idleBehavior === 'hold') return 'hold';
  if (w.workerState === 'booting') return 'booting';
  if (w.workerState === 'unknown') return 'unknown';
  return 'idle';
}

export class DispatcherMetrics {
  readonly registry = new Registry();
  private sources: MetricsSources | undefined;
  private readonly driverOps: Counter<'operation' | 'error'>;
  private readonly cloudErrors: (op: CloudOperation, err: unknown) => void;
  private readonly timeToSSH: WindowedSummary;
  private readonly timeToReady: WindowedSummary;
  private readonly queueToCrunchRun: WindowedSummary;
  private readonly queueWaitByType: WindowedSummary<'instance_type'>;
  private readonly crunchRunStarts: Counter<'outcome'>;
  private readonly shutdownToGone: WindowedSummary;
  private readonly runProbeDuration: WindowedSummary<'outcome'>;

  constructor(private readonly cluster: Cluster) {
    const registers = [this.registry];
    this.driverOps = new Counter({
      name: `${PREFIX}driver_operations`,
      help: 'Number of instance-create/destroy/list operations performed via cloud driver.',
      labelNames: ['operation', 'error'],
      registers,
    });
    // Zero series from the start, as the reference: a rate() over a series
    // that appears only at its first error misses that error.
    for (const operation of CLOUD_OPERATIONS) for (const error of ['0', '1']) this.driverOps.inc({ operation, error }, 0);
    this.cloudErrors = cloudErrorCounter(this.registry, CLOUD_OPERATIONS);
    this.timeToSSH = new WindowedSummary({
      name: `${PREFIX}instances_time_to_ssh_seconds`,
      help: 'Number of seconds between instance creation and the first successful SSH connection.',
      registers,
      ...REFERENCE_SUMMARY_OPTS,
    });
    this.timeToReady = new WindowedSummary({
      name: `${PREFIX}instances_time_to_ready_for_container_seconds`,
      help: 'Number of seconds between the first successful SSH connection and ready to run a container.',
      registers,
      ...REFERENCE_SUMMARY_OPTS,
    });
    this.queueToCrunchRun = new WindowedSummary({
      name: `${PREFIX}containers_time_from_queue_to_crunch_run_seconds`,
      help: 'Number of seconds between the queuing of a container and the start of crunch-run.',
      registers,
      ...REFERENCE_SUMMARY_OPTS,
    });
    // Ours: the same wait by instance type, to see which types keep containers waiting.
    this.queueWaitByType = new WindowedSummary({
      name: `${PREFIX}queue_wait_seconds`,
      help: 'Number of seconds between the queuing of a container and the start of crunch-run, by the instance type it started on.',
      labelNames: ['instance_type'],
      registers,
      ...REFERENCE_SUMMARY_OPTS,
    });
    // Ours: every --detach by outcome, so an alert can see starts failing.
    this.crunchRunStarts = new Counter({
      name: `${PREFIX}crunch_run_starts_total`,
      help: 'crunch-run --detach attempts, by outcome: started; failed (refused, or the SSH session failed); unknown (the connection dropped mid-way: the next probe tells).',
      labelNames: ['outcome'],
      registers,
    });
    for (const outcome of START_OUTCOMES) this.crunchRunStarts.inc({ outcome }, 0);
    this.shutdownToGone = new WindowedSummary({
      name: `${PREFIX}instances_time_from_shutdown_request_to_disappearance_seconds`,
      help: 'Number of seconds between the first shutdown attempt and the disappearance of the worker.',
      registers,
      ...REFERENCE_SUMMARY_OPTS,
    });
    this.runProbeDuration = new WindowedSummary({
      name: `${PREFIX}instances_run_probe_duration_seconds`,
      help: 'Number of seconds per runProbe call.',
      labelNames: ['outcome'],
      registers,
      ...REFERENCE_SUMMARY_OPTS,
    });
    this.registerStateMetrics();
  }

  /** Where the scrape-time collectors read from; until called, they report nothing. */
  attach(sources: MetricsSources): void {
    this.sources = sources;
  }

  /** For the instance-set wrapper's `observe`: one cloud call ended. */
  readonly observeCloud = (op: CloudOperation, err: unknown): void => {
    this.driverOps.inc({ operation: op, error: err === undefined ? '0' : '1' });
    this.cloudErrors(op, err);
  };

  /** For `PoolDeps.onEvent`. */
  readonly observePool = (event: PoolEvent): void => {
    switch (event.type) {
      case 'sshConnected':
        this.timeToSSH.observe(event.sinceAppearedMs / 1000);
        break;
      case 'readyForContainer':
        this.timeToReady.observe(event.sinceSshMs / 1000);
        break;
      case 'crunchRunStartReturned':
        this.crunchRunStarts.inc({ outcome: event.outcome });
        if (!Number.isNaN(event.sinceQueuedMs)) this.queueToCrunchRun.observe(Math.max(0, event.sinceQueuedMs / 1000));
        break;
      case 'crunchRunStarted':
        if (event.instanceType !== undefined) this.queueWaitByType.observe({ instance_type: event.instanceType }, Math.max(0, event.sinceQueuedMs / 1000));
        break;
      case 'shutdownToGone':
        this.shutdownToGone.observe(event.sinceShutdownMs / 1000);
        break;
      case 'probeRun':
        this.runProbeDuration.observe({ outcome: event.outcome }, event.durationMs / 1000);
        break;
    }
  };

  /** The Prometheus text exposition of everything. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  private registerStateMetrics(): void {
    const registers = [this.registry];
    // Arrow functions cannot take `this` from prom-client, so each collector
    // closes over `self` and the metric it fills in.
    const self = this;
    const gauge = (name: string, help: string, read: (s: MetricsSources) => number): void => {
      const g: Gauge = new Gauge({
        name: PREFIX + name,
        help,
        registers,
        collect() {
          if (self.sources) g.set(read(self.sources));
        },
      });
    };

    this.registerQueueEntries();
    gauge('containers_running', 'Number of containers reported running by cloud VMs.', (s) => s.containersRunning());
    gauge('containers_allocated_not_started', 'Number of containers allocated to a worker but not started yet (worker is booting).', (s) => s.scheduler.containersAllocatedNotStarted);
    gauge('containers_not_allocated_over_quota', 'Number of containers not allocated to a worker because the system has hit a quota.', (s) => s.scheduler.containersNotAllocatedOverQuota);
    gauge('containers_longest_wait_time_seconds', 'Current longest wait time of any container since queuing, and before the start of crunch-run.', (s) => s.scheduler.longestWaitTimeSeconds);
    gauge('max_concurrent_containers', 'Dynamically assigned limit on number of containers scheduled concurrency, set after receiving 503 errors from API.', (s) => s.scheduler.maxContainers);
    gauge('at_quota', 'Flag indicating the cloud driver is reporting an at-quota condition.', (s) => (s.scheduler.atQuota ? 1 : 0));
    gauge('last_503_time', 'Time of most recent 503 error received from API.', (s) => Math.floor(s.last503() / 1000));
    gauge('probe_age_seconds_max', "Maximum number of seconds since an instance's most recent successful probe.", (s) => s.poolStats().maxProbeAgeMs / 1000);
    gauge('probe_age_seconds_median', "Median number of seconds since an instance's most recent successful probe.", (s) => s.poolStats().medianProbeAgeMs / 1000);
    this.registerInstanceTotals();
    this.registerControllerHealth();
    registerOwnMetrics(this.registry, () => this.sources);

    this.copiedCounter('boot_outcomes', 'Boot outcomes by type.', 'outcome', BOOT_OUTCOMES, (s) => s.poolStats().bootOutcomes);
    this.copiedCounter(
      'instances_disappeared',
      "Number of occurrences of an instance disappearing from the cloud provider's list of instances.",
      'state',
      WORKER_STATES,
      (s) => s.poolStats().disappeared,
    );
  }

  /** A counter by one label whose values are totals kept elsewhere, copied at scrape time (0 for a value `read` lacks). */
  private copiedCounter<V extends string>(name: string, help: string, label: string, values: readonly V[], read: (s: MetricsSources) => Partial<Record<V, number>> | undefined): void {
    copiedCounter(this.registry, () => this.sources, name, help, label, values, read);
  }

  /**
   * Why fewer containers may run than the cloud allows: the controller's
   * state (one series per state, 1 for the current one) and the outcomes of
   * the dispatcher's requests to it. Our own: the reference has neither.
   */
  private registerControllerHealth(): void {
    stateGauge(
      this.registry,
      () => this.sources,
      'controller_state',
      'State of the controller as seen by the dispatcher, 1 for the current one: normal; outage (every request failing for seconds: the concurrency limit is held); overload (503s while other requests succeed: the limit is cut).',
      CONTROLLER_STATES,
      (s) => s?.scheduler.controllerState ?? 'normal',
    );
    this.copiedCounter(
      'controller_requests_total',
      'Requests the dispatcher made to the controller, by outcome: ok (answered), overload (503 or 429), failed (no answer: network error, timeout, 408, 502, 504).',
      'outcome',
      REQUEST_OUTCOMES,
      (s) => s.controllerRequests?.(),
    );
  }

  /**
   * queue_entries{state,instance_type}: a combination once seen stays, at 0,
   * as in the reference, so a graph drops to zero rather than ending.
   */
  private registerQueueEntries(): void {
    const self = this;
    const seen = new Set<string>();
    const g: Gauge<'state' | 'instance_type'> = new Gauge({
      name: `${PREFIX}queue_entries`,
      help: 'Number of active container entries in the controller database.',
      labelNames: ['state', 'instance_type'],
      registers: [this.registry],
      collect() {
        if (!self.sources) return;
        const counts = new Map<string, number>();
        for (const ent of self.sources.queueEntries()) {
          const key = JSON.stringify([ent.container.state, ent.instanceTypes[0]?.Name ?? ''] as const);
          counts.set(key, (counts.get(key) ?? 0) + 1);
          seen.add(key);
        }
        for (const key of seen) {
          const [state, instanceType] = JSON.parse(key) as [string, string];
          g.set({ state, instance_type: instanceType }, counts.get(key) ?? 0);
        }
      },
    });
  }

  /** instances_total{category,instance_type}, and price, VCPUs and memory by category. */
  private registerInstanceTotals(): void {
    const self = this;
    const registers = [this.registry];
    const instances: Gauge<'category' | 'instance_type'> = new Gauge({
      name: `${PREFIX}instances_total`,
      help: 'Number of cloud VMs.',
      labelNames: ['category', 'instance_type'],
      registers,
      collect() {
        if (!self.sources) return;
        const counts = new Map<string, number>();
        for (const w of self.sources.workers()) {
          const key = JSON.stringify([instanceCategory(w), w.arvadosInstanceType]);
          counts.set(key, (counts.get(key) ?? 0) + 1);
        }
        // Every configured type in every category, at 0 when there is none,
        // as the reference resets them.
        for (const category of INSTANCE_CATEGORIES) {
          for (const name of Object.keys(self.cluster.InstanceTypes)) {
            const key = JSON.stringify([category, name]);
            if (!counts.has(key)) instances.set({ category, instance_type: name }, 0);
          }
        }
        for (const [key, n] of counts) {
          const [category, instanceType] = JSON.parse(key) as [string, string];
          instances.set({ category, instance_type: instanceType }, n);
        }
      },
    });
    const byCategory = (name: string, help: string, value: (w: WorkerDetail) => number): void => {
      const g: Gauge<'category'> = new Gauge({
        name: PREFIX + name,
        help,
        labelNames: ['category'],
        registers,
        collect() {
          if (!self.sources) return;
          const sums = new Map<InstanceCategory, number>(INSTANCE_CATEGORIES.map((c) => [c, 0]));
          for (const w of self.sources.workers()) {
            const c = instanceCategory(w);
            sums.set(c, sums.get(c)! + value(w));
          }
          for (const [category, v] of sums) g.set({ category }, v);
        },
      });
    };
    const typeOf = (w: WorkerDetail) => (Object.hasOwn(this.cluster.InstanceTypes, w.arvadosInstanceType) ? this.cluster.InstanceTypes[w.arvadosInstanceType] : undefined);
    byCategory('instances_price', 'Price of cloud VMs.', (w) => w.price);
    byCategory('vcpus_total', 'Total VCPUs on all cloud VMs.', (w) => typeOf(w)?.VCPUs ?? 0);
    byCategory('memory_bytes_total', 'Total memory on all cloud VMs.', (w) => typeOf(w)?.RAM ?? 0);
  }
}
