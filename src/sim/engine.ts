/**
 * The simulator: the real dispatcher (controller client, container queue,
 * worker pool, scheduler, metrics, all from `createDispatcher`) under a
 * `ManualClock`, against the test controller's rules reached in-process and
 * the lame cloud in its in-process transport. No sockets and no real time:
 * the same workload, config and seed give the same run, event for event.
 *
 * What the engine does besides wiring and driving the clock:
 * - plays the workload through `WorkloadPlayer` (`player.ts`): submissions
 *   at their times, workflow runners, each container's outcome;
 * - records what the report needs: VM lives (`cloud.ts`), boot readiness
 *   and where each container ran (pool events), and a timeline.
 *
 * - when asked, stops the dispatcher at given instants and builds a new one
 *   on the same controller and cloud, as after a crash: it must adopt the
 *   VMs and crunch-runs the old one left.
 *
 * The run ends when every container is final and every VM is gone, or at
 * the simulated-time limit. VMs are not drained at the end: they leave the
 * way they would in production (TimeoutIdle), and that idle tail is cost.
 */
import type { SimEnvironment, SimResult } from './result.js';
import type { Writable } from 'node:stream';
import { TestController } from '../testcontroller/index.js';
import { dropLameCloud, getLameCloud, type LameCloud, lameDriver } from '../../drivers/lame/index.js';
import { systemClock } from '../clock/index.js';
import { ManualClock } from '../clock/manual.js';
import type { Cluster } from '../config/types.js';
import { copyCluster } from '../config/copy.js';
import { type CapacityStats, sumCapacityStats } from '../placement/capacity.js';
import { clusterSecrets } from '../config/cluster.js';
import { defaultSettings, type Settings } from '../config/settings.js';
import { createDispatcher, type Dispatcher } from '../dispatcher.js';
import type { CostLedger } from '../cost/ledger.js';
import { createLogger, silentLogger } from '../log.js';
import { instanceSetIdFor } from '../cloud/registry.js';
import type { InstanceSet } from '../cloud/types.js';
import type { PoolEvent } from '../worker/pool.js';
import type { DrainPlanner } from '../placement/drain.js';
import type { BillingRules } from '../cost/billing.js';
import type { StretchStats } from '../worker/idle-stretch.js';
import { runnerBinaryToDeploy } from '../worker/pool-config.js';
import { AccuracyRecorder } from './accuracy.js';
import { CloudLedger } from './cloud.js';
import { ReclaimWatch } from './reclaims.js';
import { type SimPriorities, WorkloadPlayer } from './player.js';
import type { TimelineSample } from './plot.js';
import type { Workload } from './workload.js';
import { type FallbackSource, fallbackFigures } from './report-spot.js';
import { compareCodeUnits } from '../compare.js';

/** The controller's address as the dispatcher and crunch-run see it; it resolves nowhere. */
export const SIM_CONTROLLER_URL = 'http://controller.sim.invalid';

/** Simulated start: a fixed instant, so timestamps (and uuids' created_at) repeat. */
export const SIM_EPOCH = Date.UTC(2026, 0, 1);

const DAY = 24 * 3600 * 1000;

/**
 * The simulator recomputes start estimates every 10 s of simulated time, not
 * every second as a daemon does: at 1 s the estimates cost the day-10k run
 * a third more wall time, at 5 s a fifth, at 10 s about a tenth. A first
 * estimate made up to 10 s after the container is seen misses some of the
 * containers that start within seconds (easy ones to estimate).
 */
const ESTIMATE_INTERVAL_MS = 10_000;

export interface SimOptions {
  /** The loaded config. Its controller, driver transport and runner deploy are replaced (see `simCluster`). */
  cluster: Cluster;
  workload: Workload;
  /** Seed of the lame cloud; default the workload's. */
  seed?: number;
  /** Give up after this much simulated time; default 7 days. */
  limitMs?: number;
  /** Timeline sample spacing; default 60 s. */
  sampleMs?: number;
  /** Where the dispatcher's JSON log lines go (timestamps in simulated time); default nowhere. */
  log?: { stream: Writable; level: string };
  /**
   * Simulated instants (ms after the start) at which the dispatcher object is
   * stopped and a new one built on the same controller and cloud.
   */
  restartsAt?: number[];
  /** Called once everything is built, before the first dispatcher starts: fault schedules and invariant checks hook in here. */
  setup?: (env: SimEnvironment) => void;
  /** Called once the run is over (every container final and every VM gone, or the limit), while the last dispatcher still runs. */
  atEnd?: () => void;
  /** Ends the run early once this holds, checked every simulated second (the suggester stops once its container has started). */
  stopWhen?: () => boolean;
  /** This daemon's own settings for the simulated dispatcher; default: every setting at its default. Suggestions are always off. */
  settings?: Settings;
  /** Called about once a simulated hour, for progress output. */
  onProgress?: (p: { simMs: number; submitted: number; final: number; vms: number }) => void;
  /** How the simulated controller states container priorities; default '2.6', the request's own. */
  priorities?: SimPriorities;
  /**
   * False: the dispatcher makes no start-time forecasts. They change no
   * decision (only the management API and the metrics read them), so a run
   * whose report's `estimates` nobody reads (the suggester's) saves their
   * cost, about a fifth of its CPU. Default true.
   */
  forecasts?: boolean;
}

/** What `SimOptions.setup` gets: the simulated world around the dispatcher. */
let runCounter = 0;

/**
 * The cluster the simulation runs: the controller at SIM_CONTROLLER_URL, the
 * lame driver in-process with `seed` (another driver is replaced by lame with
 * its default knobs, keeping the instance types and prices), nothing to
 * deploy to the VMs. Notes say what was replaced.
 */
export function simCluster(cluster: Cluster, seed: number, cloudName: string, notes: string[]): Cluster {
  const vms = cluster.Containers.CloudVMs;
  let params: Record<string, unknown> = { ...vms.DriverParameters };
  if (vms.Driver !== 'lame') {
    notes.push(`Driver ${vms.Driver} replaced by the lame cloud with its default behaviour (boot 1-3 s, no faults); instance types and prices kept`);
    params = {};
  }
  delete params.CloudURL;
  if (runnerBinaryToDeploy(vms) !== undefined) notes.push('DeployRunnerBinary ignored: the simulated VMs have crunch-run');
  if (cluster.Services.Websocket.ExternalURL !== '') notes.push('Services.Websocket.ExternalURL ignored: the simulated controller has no event feed, so containers are seen at polls');
  return copyCluster(cluster, {
    Services: { ...cluster.Services, Controller: { ExternalURL: SIM_CONTROLLER_URL }, Websocket: { ExternalURL: '' } },
    Containers: {
      ...cluster.Containers,
      CloudVMs: {
        ...vms,
        Driver: 'lame',
        DeployRunnerBinary: '',
        DriverParameters: { ...params, Transport: 'inprocess', Seed: seed, CloudName: cloudName },
      },
    },
  });
}

export async function runSimulation(opts: SimOptions): Promise<SimResult> {
  // The host's own time, for the report's host section only: nothing simulated reads it.
  const wall0 = systemClock.now();
  const cpu0 = process.cpuUsage();
  const seed = opts.seed ?? opts.workload.seed;
  const limitMs = opts.limitMs ?? 7 * DAY;
  const sampleMs = opts.sampleMs ?? 60_000;
  const settings = withoutSuggestions(opts.settings ?? defaultSettings());
  const notes: string[] = [];
  const clock = new ManualClock(SIM_EPOCH);
  const start = clock.now();
  const cloudName = `sim-${process.pid}-${++runCounter}`;
  const cluster = simCluster(opts.cluster, seed, cloudName, notes);
  const logger = opts.log
    ? createLogger({ level: opts.log.level, stream: opts.log.stream, secrets: clusterSecrets(cluster), clock })
    : silentLogger();
  const controller = new TestController({
    clusterId: cluster.ClusterID,
    rootToken: cluster.SystemRootToken,
    maxDispatchAttempts: cluster.Containers.MaxDispatchAttempts,
    clock,
    maxRequestLog: 1,
  });
  const transport = controller.inProcessTransport();
  const ledger = new CloudLedger(clock);
  const readyAt = new Map<string, number>();
  const startedOn = new Map<string, string>();
  const observePool = (e: PoolEvent): void => {
    if (e.type === 'readyForContainer' && !readyAt.has(e.instanceId)) readyAt.set(e.instanceId, clock.now());
    else if (e.type === 'crunchRunStarted') startedOn.set(e.containerUUID, e.instanceId);
  };

  // The lame instance set is built here (not by the dispatcher) so the ledger sits under the dispatcher's wrapper.
  const driverCtx = { instanceSetId: instanceSetIdFor(cluster), cluster, logger: logger.child({ Component: 'lame' }), clock };
  const lameSet = await lameDriver(cluster.Containers.CloudVMs.DriverParameters, driverCtx);
  const cloud = getLameCloud(cloudName) as LameCloud;
  cloud.controllerTransports.set(SIM_CONTROLLER_URL, transport);
  // A VM the provider took back is no longer paid for, though nobody destroyed it.
  cloud.onReclaim((vm) => ledger.destroyed(vm.id));
  const reclaims = new ReclaimWatch(cloud, controller, () => clock.now());

  const player = new WorkloadPlayer(clock, controller, cluster, cloud, opts.workload.containers, notes, opts.workload.containerCountMax, opts.priorities);
  player.play();

  let dispatcher: Dispatcher | undefined;
  const timeline: TimelineSample[] = [];
  let peakHeap = 0;
  let timersFired = 0;
  let finished = false;
  let restarts = 0;
  const restartsAt = [...(opts.restartsAt ?? [])].sort((a, b) => a - b);
  // Stopping may wait on in-flight calls: keep the clock moving a little meanwhile.
  const stopTicking = async (d: Dispatcher): Promise<void> => {
    const stopping = d.stop();
    let done = false;
    void stopping.finally(() => (done = true));
    for (let i = 0; i < 600 && !done; i++) timersFired += await clock.runTo(clock.now() + 1000);
    await stopping;
    d.cost.ledger.close();
  };
  // A new dispatcher gets a new instance set on the same lame cloud (the old one is stopped with its dispatcher).
  const accuracy = new AccuracyRecorder();
  // What the run keeps of each dispatcher: figures and objects that do not point back into it, so
  // that a restart does not keep every earlier dispatcher alive to the end of the run.
  const capacityStats: CapacityStats[] = [];
  const drains: DrainPlanner[] = [];
  const costLedgers: CostLedger[] = [];
  const stretchStats: StretchStats[] = [];
  let billingRules: BillingRules = new Map();
  const fallbacks: FallbackSource[] = [];
  const newDispatcher = async (set: InstanceSet): Promise<Dispatcher> => {
    const d = await createDispatcher(cluster, {
      clock,
      logger,
      instanceSet: ledger.wrap(set),
      controllerTransport: transport,
      observePool,
      estimateIntervalMs: opts.forecasts === false ? Infinity : ESTIMATE_INTERVAL_MS,
      settings,
    });
    accuracy.attach(d.estimator);
    if (d.capacity) capacityStats.push(d.capacity.stats);
    if (d.drain) drains.push(d.drain);
    reclaims.addPlan(d.reclaimPlan);
    costLedgers.push(d.cost.ledger);
    billingRules = d.billing.rules;
    if (d.billing.stretcher) stretchStats.push(d.billing.stretcher.stats);
    // The fallback's own list of records, kept up to date in place.
    if (d.spotFallback) fallbacks.push({ records: d.spotFallback.fallbacks(), ledger: d.cost.ledger });
    return d;
  };
  try {
    opts.setup?.({ clock, controller, cloud, ledger, cluster, player });
    dispatcher = await newDispatcher(lameSet);
    const sample = (): void => {
      const vms: Record<string, number> = {};
      let known = 0;
      for (const v of dispatcher!.pool.instances()) {
        vms[v.workerState] = (vms[v.workerState] ?? 0) + 1;
        if (!v.instance.startsWith('pending-')) known++;
      }
      // Destroy requested but not done yet: the pool no longer lists them, the bill does.
      const shuttingDown = ledger.liveCount - known;
      if (shuttingDown > 0) vms.shutdown = (vms.shutdown ?? 0) + shuttingDown;
      const counts = player.stateCounts;
      timeline.push({ t: clock.now() - start, vms, queued: counts.Queued + counts.Locked, running: counts.Running });
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    };
    const sampler = clock.setRepeatingTimer(sampleMs, sample);
    sample();
    dispatcher.start();
    const end = start + limitMs;
    let lastProgress = start;
    // Steps of a simulated second: small enough to stop soon after the end, large enough to cost nothing.
    while (clock.now() < end) {
      const restartAt = restarts < restartsAt.length ? start + restartsAt[restarts] : Infinity;
      timersFired += await clock.runTo(Math.min(end, clock.now() + 1000, Math.max(clock.now(), restartAt)));
      if (clock.now() >= restartAt) {
        restarts++;
        // The old one stays `dispatcher` while it stops (the sampler reads its pool); stop() is idempotent.
        await stopTicking(dispatcher);
        dispatcher = await newDispatcher(await lameDriver(cluster.Containers.CloudVMs.DriverParameters, driverCtx));
        dispatcher.start();
        continue;
      }
      if (opts.stopWhen?.()) break;
      if (player.done && ledger.liveCount === 0 && cloud.listVMs().length === 0) {
        finished = true;
        break;
      }
      if (opts.onProgress && clock.now() - lastProgress >= 3_600_000) {
        lastProgress = clock.now();
        opts.onProgress({ simMs: clock.now() - start, submitted: player.submitted, final: player.settled, vms: ledger.liveCount });
      }
    }
    sample();
    sampler.cancel();
    opts.atEnd?.();
  } finally {
    player.stop();
    reclaims.stop();
    if (dispatcher) await stopTicking(dispatcher);
    // The world's listeners share this scope: let the stopped dispatcher go while the caller keeps the world.
    dispatcher = undefined;
    await dropLameCloud(cloudName);
  }
  const timersLeft = clock.pendingTimers();
  const endedAt = clock.now();

  for (const t of player.tracked) {
    const uuid = t.outcome.uuid;
    if (uuid === undefined) continue;
    t.outcome.vm = startedOn.get(uuid);
    if (t.outcome.runningAt === undefined) {
      const h = controller.history(uuid).find((e) => e.state === 'Running');
      if (h) t.outcome.runningAt = h.at;
    }
  }
  const cpu = process.cpuUsage(cpu0);
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  return {
    workload: opts.workload.name,
    seed,
    startedAt: start,
    endedAt,
    finished,
    containers: player.tracked.map((t) => t.outcome),
    ledger,
    readyAt,
    timeline,
    restarts,
    settings,
    ...(capacityStats.length > 0 ? { capacity: sumCapacityStats(capacityStats) } : {}),
    drain: drains.length === 0 ? undefined : sumDrains(drains),
    billingRules,
    ...(stretchStats.length > 0 ? { idleStretch: sumStretch(stretchStats) } : {}),
    reclaims: reclaims.summary(),
    costLedgers,
    timersLeft,
    timersFired,
    estimates: accuracy.samples,
    controllerRequests: Object.fromEntries(Object.entries(controller.stats).sort(([a], [b]) => compareCodeUnits(a, b))),
    notes,
    host: {
      wallMs: systemClock.now() - wall0,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      peakHeapBytes: peakHeap,
    },
    warmUp: { ...cloud.warmUpTotals },
    ...(fallbacks.length > 0 ? { fallback: fallbackFigures(fallbacks) } : {}),
    ...(cloud.params.SpotOutages.length > 0 ? { spotOutages: cloud.params.SpotOutages.map((o) => ({ from: o.From, until: o.Until })) } : {}),
  };
}

/** A simulated dispatcher suggests nothing: its suggester would run simulations inside this one. */
function withoutSuggestions(settings: Settings): Settings {
  return { ...settings, Suggestions: { ...settings.Suggestions, Enable: false } };
}

/** The waits and fallbacks of every dispatcher in the run (a restart starts a new one). */
function sumDrains(drains: readonly DrainPlanner[]): NonNullable<SimResult['drain']> {
  const out = { emptied: 0, tookDraining: 0, waited: 0 };
  for (const d of drains) {
    const s = d.stats();
    out.emptied += s.emptied;
    out.tookDraining += s.tookDraining;
    out.waited += s.waited;
  }
  return out;
}

function sumStretch(all: readonly StretchStats[]): StretchStats {
  const out: StretchStats = { kept: 0, reused: 0 };
  for (const s of all) {
    out.kept += s.kept;
    out.reused += s.reused;
  }
  return out;
}
