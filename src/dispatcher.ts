/**
 * `createDispatcher(cluster, deps)`: the one place that wires every
 * component with one Clock, one logger and one driver. The daemon, the demo,
 * the end-to-end tests and the simulator all build the dispatcher here, and
 * hand in what they want to replace (a manual clock, a shared lame instance
 * set, a logger that writes to a test's buffer).
 */
import type { Writable } from 'node:stream';
import { ControllerClient } from './arvados/client.js';
import { ControllerTokens } from './arvados/token-calls.js';
import type { RawTransport } from './arvados/http.js';
import { type Clock, systemClock } from './clock/index.js';
import './drivers.js';
import { instanceSetIdFor, newInstanceSet } from './cloud/registry.js';
import type { Instance, InstanceSet } from './cloud/types.js';
import { type CloudOperation, wrapInstanceSet } from './cloud/wrap.js';
import type { CapacityPlanner } from './placement/capacity.js';
import type { DrainPlanner } from './placement/drain.js';
import type { SpotFallback } from './placement/spot-fallback.js';
import { placementFeatures, placementMetrics } from './placement/features.js';
import { clusterSecrets } from './config/cluster.js';
import { defaultSettings, type Settings } from './config/settings.js';
import type { Cluster } from './config/types.js';
import type { Fence } from './dblock/fence.js';
import { DispatcherMetrics, type MetricsSources } from './http/metrics.js';
import { isJournalStream } from './journal-stream.js';
import { createLogger, type Logger, RateLimitedLog } from './log.js';
import { EventFeedLink } from './queue/event-feed-link.js';
import { ContainerQueueImpl } from './queue/queue.js';
import { Scheduler } from './scheduler/scheduler.js';
import { Estimator } from './estimate/estimator.js';
import { Suggester } from './suggest/suggester.js';
import { RuntimeHistory } from './estimate/history.js';
import { BootTimes } from './estimate/boot.js';
import type { Executor } from './ssh/executor.js';
import { resolveSshPort } from './ssh/port.js';
import { Timeline } from './timeline/timeline.js';
import { WastedAttemptWatch } from './timeline/wasted-attempts.js';
import { StartBreaker } from './scheduler/start-breaker.js';
import { type PoolEvent, WorkerPoolImpl } from './worker/pool.js';
import { loadRunnerBinary } from './worker/runner-binary.js';
import { dispatcherKeys, fencedExecutor, vmSshExecutor } from './vm-access.js';
import { CostTracker } from './cost/tracker.js';
import { History } from './history/history.js';
import { type BillingFeatures, billingFeatures } from './cost/billing-features.js';
import type { SpendingCap } from './placement/spending-cap.js';
import { ReclaimTracker } from './placement/reclaims.js';
import { NoticeReader } from './placement/reclaim-notices.js';
import type { ReclaimPlan } from './placement/reclaim-plan.js';

export interface DispatcherDeps {
  clock?: Clock;
  logger?: Logger;
  /**
   * The driver's instance set, unwrapped. Default: built from the config by
   * the driver registry. Tests pass one lame instance set to two dispatchers
   * in turn to show a restart adopts what the first left running.
   */
  instanceSet?: InstanceSet;
  /** Called after every cloud call, besides the dispatcher's own metrics. */
  observeCloud?: (op: CloudOperation, err: unknown, durationMs: number) => void;
  /** Called with every pool event (boot, SSH, crunch-run start), besides the dispatcher's own metrics. */
  observePool?: (event: PoolEvent) => void;
  /** How the controller client reaches the controller; default HTTP(S) to Services.Controller.ExternalURL. */
  controllerTransport?: RawTransport;
  /**
   * Consulted before every action (container lock/unlock/update, VM
   * create/destroy/tag, crunch-run start/kill/install): the dispatch lock's.
   * None: every action goes ahead (no database configured, tests, the simulator).
   */
  fence?: Fence;
  /** This daemon's own settings (the settings file's); default: every setting at its default. */
  settings?: Settings;
  /** How often, at most, the start-time estimates are recomputed (ms); default the estimator's (1 s). */
  estimateIntervalMs?: number;
}

export interface Dispatcher {
  readonly cluster: Cluster;
  /** The one clock every component was given. */
  readonly clock: Clock;
  readonly settings: Settings;
  readonly instanceSetId: string;
  readonly logger: Logger;
  readonly client: ControllerClient;
  readonly queue: ContainerQueueImpl;
  /** The Arvados event feed and the refreshes it causes (inert when none is configured). */
  readonly eventFeed: EventFeedLink;
  readonly pool: WorkerPoolImpl;
  readonly scheduler: Scheduler;
  /** Start-time estimates of the waiting containers, updated after scheduling passes. */
  readonly estimator: Estimator;
  /** What would help the containers that wait (`src/suggest/`); idle when the settings file's Suggestions.Enable is false. */
  readonly suggester: Suggester;
  readonly instanceSet: InstanceSet;
  /** What the VMs and containers have cost (`src/cost/`). */
  readonly cost: CostTracker;
  /** This dispatcher's Prometheus metrics, on a registry of its own (served at /metrics by `src/http/server.ts`). */
  readonly metrics: DispatcherMetrics;
  /** Warm pools and pre-warming (`src/placement/capacity.ts`); undefined when both are off in the settings. */
  readonly capacity: CapacityPlanner | undefined;
  /** Each container's life in this dispatcher: first seen, locked, VM requested and booted, started, finished (see `src/timeline/`). */
  readonly timeline: Timeline;
  /** Drain to save (`src/placement/drain.ts`); undefined when the settings file's DrainToSave.Enable is false. */
  readonly drain: DrainPlanner | undefined;
  /** Billing rules by type and the idle stretcher (`src/cost/billing-features.ts`). */
  readonly billing: BillingFeatures;
  /** Spot VMs taken back by the provider: counts per type and zone (always kept). */
  readonly reclaims: ReclaimTracker;
  /** What the scheduler does with them; undefined while the `Reclaims` rules are off. */
  readonly reclaimPlan: ReclaimPlan | undefined;
  /** The last hours of VMs, queue, waits, cost and errors, for the status page's charts (`src/history/`). */
  readonly history: History;
  /** Spot fallback (`src/placement/spot-fallback.ts`); undefined when the settings file's SpotFallback.Enable is false. */
  readonly spotFallback: SpotFallback | undefined;
  /** The spending cap (`src/placement/spending-cap.ts`); undefined when the settings file's SpendingCap.Enable is false. */
  readonly spendingCap: SpendingCap | undefined;
  /** Starts polling, probing and scheduling. */
  start(): void;
  /** Stops every loop and closes connections; leaves every VM and container alone. */
  stop(): Promise<void>;
}

/**
 * The logger a daemon uses, as the reference's service logger: lines on
 * stderr (stdout is for `-version` alone), each with the process's `PID` and
 * the `ClusterID`, which log pipelines route and filter by; the cluster's
 * tokens scrubbed from every line.
 */
export function dispatcherLogger(cluster: Cluster, clock?: Clock, stream: Writable = process.stderr): Logger {
  return createLogger({
    level: cluster.SystemLogs.LogLevel,
    format: cluster.SystemLogs.Format,
    secrets: clusterSecrets(cluster),
    defaultMeta: { PID: process.pid, ClusterID: cluster.ClusterID },
    stream,
    clock,
    journalPriority: stream === process.stderr && isJournalStream(2),
  });
}

export async function createDispatcher(cluster: Cluster, deps: DispatcherDeps = {}): Promise<Dispatcher> {
  const clock = deps.clock ?? systemClock;
  const logger = deps.logger ?? dispatcherLogger(cluster, deps.clock);
  const settings = deps.settings ?? defaultSettings();
  const vms = cluster.Containers.CloudVMs;
  const sshPort = resolveSshPort(vms.SSHPort, `Clusters.${cluster.ClusterID}.Containers.CloudVMs.SSHPort`);
  const { privateKey, publicKey } = dispatcherKeys(cluster, logger);
  const runnerBinary = loadRunnerBinary(cluster, logger);
  const instanceSetId = instanceSetIdFor(cluster);
  const metrics = new DispatcherMetrics(cluster);
  // For the cloud and pool hooks, which may fire before the history can be
  // built (it reads the queue, pool and scheduler built below).
  let historyHook: History | undefined;
  const observe = (op: CloudOperation, err: unknown, durationMs: number): void => {
    metrics.observeCloud(op, err);
    historyHook?.observeCloud(err);
    deps.observeCloud?.(op, err, durationMs);
  };
  const instanceSet = deps.instanceSet
    ? wrapInstanceSet(deps.instanceSet, {
        clock,
        logger,
        maxCloudOpsPerSecond: vms.MaxCloudOpsPerSecond,
        resourceTags: vms.ResourceTags,
        observe,
        fence: deps.fence,
      })
    : await newInstanceSet({ cluster, logger, clock, instanceSetId, observe, fence: deps.fence, registry: metrics.registry });

  const newExecutor = (instance: Instance): Executor => fencedExecutor(unfencedExecutor(instance), deps.fence, instance.id);
  // One for every VM's executor: a fleet whose host keys are refused for one reason warns about once a minute.
  const sshWarnings = new RateLimitedLog(logger, clock);
  const unfencedExecutor = (instance: Instance): Executor =>
    instanceSet.executorFor?.(instance) ?? vmSshExecutor(cluster, instance, { sshPort, privateKey, clock, logger, warnings: sshWarnings });

  const client = ControllerClient.fromCluster(cluster, clock, logger.child({ Component: 'controller-client' }), deps.controllerTransport, deps.fence);
  const wasted = new WastedAttemptWatch(clock, logger);
  const timeline = new Timeline({ clock, onEvent: wasted.observe });
  const billing = billingFeatures({ settings: settings.Billing, cluster, instanceSet, timeline, clock, typesOf: (uuid) => queue.instanceTypesOf(uuid) });
  const queue = new ContainerQueueImpl({ client, cluster, clock, logger: logger.child({ Component: 'queue' }), timeline: billing.queueTimeline });
  const eventFeed = new EventFeedLink(cluster, queue, {
    clock,
    logger: logger.child({ Component: 'event-feed' }),
    userAgent: client.userAgent,
    enabled: settings.EventFeed.Enable,
    issuer: new ControllerTokens(client, clock),
    scopedToken: settings.EventFeed.ScopedToken,
  });
  const reclaims = new ReclaimTracker(clock, settings.Reclaims.HalfLife);
  const pool = new WorkerPoolImpl({
    cluster,
    instanceSet,
    newExecutor,
    clock,
    logger: logger.child({ Component: 'pool' }),
    instanceSetId,
    publicKey,
    runnerBinary,
    ...(billing.stretcher ? { idleStretch: billing.stretcher } : {}),
    onEvent: (event) => {
      metrics.observePool(event);
      historyHook?.observePool(event);
      timeline.poolEvent(event);
      estimator.boots.observe(event, (id) => pool.detail(id)?.arvadosInstanceType);
      estimator.leaving.observe(event);
      if (event.type === 'instanceDestroyed') cost.sync();
      reclaims.observe(event);
      if (event.type === 'instanceCreated') {
        placement.spotFallback?.instanceCreated(event.instanceType);
        placement.spendingCap?.renamed(event.pendingId, event.instanceId);
      }
      deps.observePool?.(event);
    },
  });
  // A container's share of its VM follows the VCPUs it asked for (ledger.ts).
  const cost = new CostTracker(pool, clock, (uuid) => queue.get(uuid)?.runtime_constraints.vcpus, billing.billingOf);
  const estimator = new Estimator({
    queue,
    pool,
    cluster,
    clock,
    minIntervalMs: deps.estimateIntervalMs,
    runtimes: new RuntimeHistory({ defaultRuntimeMs: settings.Estimates.DefaultRuntime }),
    boots: new BootTimes(settings.Estimates.DefaultBootTime),
  });
  // Only crunch-run on an ec2 spot VM reports interruption notices (EC2SpotCheck).
  const notices =
    vms.Driver === 'ec2'
      ? new NoticeReader({
          client,
          pool,
          preemptible: (name) => cluster.InstanceTypes[name]?.Preemptible === true,
          clock,
          log: new RateLimitedLog(logger, clock),
        })
      : undefined;
  const placement = placementFeatures({ settings, cluster, client, pool, estimator, clock, logger, reclaims, cost, inQueue: (uuid) => queue.get(uuid) !== undefined });
  const startBreaker = settings.StartBreaker.Enable
    ? new StartBreaker({
        failing: () => wasted.failing(),
        client,
        clock,
        logger: logger.child({ Component: 'scheduler' }),
        timeline,
        maxDispatchAttempts: cluster.Containers.MaxDispatchAttempts,
        tryInterval: settings.StartBreaker.TryInterval,
        lastAttempts: { wait: settings.StartBreaker.LastAttemptWait, startsWorked: () => wasted.ranSinceStart },
      })
    : undefined;
  const scheduler = new Scheduler({
    queue,
    pool,
    client,
    cluster,
    clock,
    logger: logger.child({ Component: 'scheduler' }),
    timeline,
    afterPass: estimator,
    ...placement,
    ...(startBreaker ? { startBreaker } : {}),
  });
  const suggester = new Suggester({
    clock,
    logger: logger.child({ Component: 'suggester' }),
    settings: settings.Suggestions,
    cluster,
    scheduler,
    pool,
    queue,
    estimator,
  });
  const sources: MetricsSources = {
    queueEntries: () => queue.entries().entries.values(),
    workers: () => pool.details(),
    poolStats: () => pool.stats(),
    containersRunning: () => pool.running().size,
    scheduler,
    last503: () => client.last503(),
    controllerRequests: () => client.health.counts,
    eventFeed: () => eventFeed.view(),
    estimatedWaits: () => estimatedWaits(estimator, queue, clock.now()),
    ...placementMetrics(placement),
    cost: () => cost.read(),
    ...(billing.stretcher ? { idleStretch: () => billing.stretcher!.stats } : {}),
    reclaims: () => ({ counts: reclaims, ...(placement.reclaimPlan ? { onDemand: placement.reclaimPlan.counts } : {}) }),
    ...(startBreaker ? { startBreaker: () => startBreaker.snapshot() } : {}),
  };
  metrics.attach(sources);
  const history = new History({ clock, sources, logger: logger.child({ Component: 'history' }) });
  historyHook = history;

  let started = false;
  let stopping: Promise<void> | undefined;
  return {
    cluster,
    clock,
    settings,
    instanceSetId,
    logger,
    client,
    queue,
    eventFeed,
    pool,
    scheduler,
    estimator,
    suggester,
    instanceSet,
    cost,
    metrics,
    capacity: placement.capacity,
    timeline,
    drain: placement.drain,
    billing,
    reclaims,
    reclaimPlan: placement.reclaimPlan,
    history,
    spotFallback: placement.spotFallback,
    spendingCap: placement.spendingCap,
    start() {
      if (started) throw new Error('dispatcher already started');
      started = true;
      logger.info('dispatcher starting', { InstanceSetID: instanceSetId, Driver: vms.Driver });
      queue.start();
      eventFeed.start();
      pool.start();
      cost.start();
      notices?.start();
      scheduler.start();
      suggester.start();
      history.start();
    },
    stop() {
      stopping ??= (async () => {
        history.stop();
        await suggester.stop();
        if (started) await scheduler.stop();
        await eventFeed.stop();
        await queue.stop();
        cost.stop();
        notices?.stop();
        pool.stop();
        instanceSet.stop();
        client.close();
        logger.info('dispatcher stopped');
      })();
      return stopping;
    },
  };
}

/** The median estimated wait (s) of the waiting containers, by their cheapest eligible type, for the metrics. */
function estimatedWaits(estimator: Estimator, queue: ContainerQueueImpl, now: number): Record<string, number> {
  const s = estimator.snapshot();
  if (!s) return {};
  const { entries } = queue.entries();
  const byType = new Map<string, number[]>();
  for (let i = 0; i < s.size; i++) {
    if (!Number.isFinite(s.typical[i])) continue;
    const type = entries.get(s.uuid(i))?.instanceTypes[0]?.Name;
    if (type === undefined) continue;
    let list = byType.get(type);
    if (!list) byType.set(type, (list = []));
    list.push(Math.max(0, s.typical[i] - now) / 1000);
  }
  const out: Record<string, number> = {};
  for (const [type, list] of byType) out[type] = list.sort((a, b) => a - b)[Math.floor(list.length / 2)];
  return out;
}
