/**
 * The simulator: the real dispatcher (controller client, container queue,
 * worker pool, scheduler, metrics, all from `createDispatcher`) under a
 * `ManualClock`, against the test controller's rules reached in-process and
 * the lame cloud in its in-process transport. No sockets and no real time:
 * the same workload, config and seed give the same run, event for event.
 *
 * What the engine does besides wiring:
 * - submits each workload container to the controller at its `at`, as a
 *   record sized the way the queue sizes containers (ARVADOS.md section 5);
 * - plays the workflow runners: a container with children sleeps "forever";
 *   its children are submitted `child.at` after it starts Running, and once
 *   they are all final and its own runtime has passed, the engine tells its
 *   crunch-run to finish (Complete). A runner that ends Cancelled takes its
 *   outstanding children with it, and unsubmitted ones are never submitted;
 * - records what the report needs: VM lives (`cloud.ts`), boot readiness
 *   and where each container ran (pool events), state counts and a timeline.
 *
 * The run ends when every container is final and every VM is gone, or at
 * the simulated-time limit. VMs are not drained at the end: they leave the
 * way they would in production (TimeoutIdle), and that idle tail is cost.
 */
import { Writable } from 'node:stream';
import { type ControllerContainer, TestController } from '../testcontroller/index.js';
import { dropLameCloud, getLameCloud, type LameCloud, lameDriver } from '../../drivers/lame/index.js';
import type { Container } from '../arvados/types.js';
import { systemClock } from '../clock/index.js';
import { ManualClock } from '../clock/manual.js';
import type { Cluster } from '../config/types.js';
import { createDispatcher, type Dispatcher } from '../dispatcher.js';
import { createLogger } from '../log.js';
import { instanceSetIdFor } from '../cloud/registry.js';
import { chooseInstanceTypes } from '../queue/instance-types.js';
import type { PoolEvent } from '../worker/pool.js';
import { runnerBinaryToDeploy } from '../worker/pool-config.js';
import { CloudLedger } from './cloud.js';
import type { TimelineSample } from './plot.js';
import type { SimContainer, Workload } from './workload.js';

/** The controller's address as the dispatcher and crunch-run see it; it resolves nowhere. */
export const SIM_CONTROLLER_URL = 'http://controller.sim.invalid';

/** Simulated start: a fixed instant, so timestamps (and uuids' created_at) repeat. */
export const SIM_EPOCH = Date.UTC(2026, 0, 1);

/** A runner sleeps this long (s) unless the engine finishes it: longer than any limit. */
const FOREVER_S = 10 * 365 * 24 * 3600;

const DAY = 24 * 3600 * 1000;

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
  /** Called about once a simulated hour, for progress output. */
  onProgress?: (p: { simMs: number; submitted: number; final: number; vms: number }) => void;
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
  /** Timers fired by the clock: a measure of the simulation's work. */
  timersFired: number;
  /** Requests the controller answered, by `METHOD route`, from the dispatcher and crunch-run alike. */
  controllerRequests: Record<string, number>;
  notes: string[];
  host: { wallMs: number; cpuUserMs: number; cpuSystemMs: number; peakRssBytes: number; peakHeapBytes: number };
}

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
  return {
    ...cluster,
    Services: { ...cluster.Services, Controller: { ExternalURL: SIM_CONTROLLER_URL } },
    Containers: {
      ...cluster.Containers,
      CloudVMs: {
        ...vms,
        Driver: 'lame',
        DeployRunnerBinary: '',
        DriverParameters: { ...params, Transport: 'inprocess', Seed: seed, CloudName: cloudName },
      },
    },
  };
}

/** The controller record for a workload container; `command` decides its run time and exit code on the lame VM. */
export function containerSeed(cluster: Cluster, c: SimContainer): Partial<ControllerContainer> {
  const runner = (c.children?.length ?? 0) > 0;
  const seconds = String(Math.max(0, Math.round(c.runtimeMs)) / 1000);
  const command = runner
    ? ['sleep', String(FOREVER_S)]
    : c.exitCode === 0
      ? ['sleep', seconds]
      : ['sh', '-c', `sleep ${seconds}; exit ${c.exitCode}`];
  const rc: Container['runtime_constraints'] = { vcpus: c.vcpus, ram: c.ram };
  if (c.gpus > 0) rc.gpu = gpuRequest(cluster, c);
  return {
    command,
    priority: c.priority,
    runtime_constraints: rc,
    scheduling_parameters: { preemptible: c.preemptible, ...(c.supervisor ? { supervisor: true } : {}) },
    mounts: c.scratch > 0 ? { '/tmp': { kind: 'tmp', capacity: c.scratch } } : {},
  };
}

/**
 * A GPU request any configured GPU type of the stack can meet: the stack of
 * the cheapest GPU type (CUDA if none), driver version 0, and for CUDA the
 * lowest compute capability; ROCm wants exact targets, so every configured one.
 */
function gpuRequest(cluster: Cluster, c: SimContainer): NonNullable<Container['runtime_constraints']['gpu']> {
  const gpuTypes = Object.values(cluster.InstanceTypes)
    .filter((t) => t.GPU.DeviceCount > 0)
    .sort((a, b) => a.Price - b.Price);
  const stack = gpuTypes[0]?.GPU.Stack || 'cuda';
  const targets = stack === 'rocm' ? [...new Set(gpuTypes.filter((t) => t.GPU.Stack === 'rocm').map((t) => t.GPU.HardwareTarget))] : ['0'];
  return { stack, driver_version: '0', hardware_target: targets, device_count: c.gpus, vram: c.gpuVRAM };
}

/** Ideal run time: a runner lasts at least until its last child could have finished. */
function idealMs(c: SimContainer): number {
  let ms = c.runtimeMs;
  for (const ch of c.children ?? []) ms = Math.max(ms, ch.at + idealMs(ch));
  return ms;
}

interface Tracked {
  spec: SimContainer;
  outcome: ContainerOutcome;
  parent?: Tracked;
  /** Children not final yet (runners only), and whether the runner's own time is up. */
  openChildren: number;
  ownTimeUp: boolean;
  children: Tracked[];
  finishing: boolean;
}

export async function runSimulation(opts: SimOptions): Promise<SimResult> {
  // The host's own time, for the report's host section only: nothing simulated reads it.
  const wall0 = systemClock.now();
  const cpu0 = process.cpuUsage();
  const seed = opts.seed ?? opts.workload.seed;
  const limitMs = opts.limitMs ?? 7 * DAY;
  const sampleMs = opts.sampleMs ?? 60_000;
  const notes: string[] = [];
  const clock = new ManualClock(SIM_EPOCH);
  const start = clock.now();
  const cloudName = `sim-${process.pid}-${++runCounter}`;
  const cluster = simCluster(opts.cluster, seed, cloudName, notes);
  const logger = createLogger({
    level: opts.log?.level ?? 'error',
    stream: opts.log?.stream ?? nullStream(),
    secrets: [cluster.SystemRootToken, cluster.ManagementToken],
    clock,
  });
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

  const tracked: Tracked[] = [];
  const byUuid = new Map<string, Tracked>();
  const track = (spec: SimContainer, parent?: Tracked): Tracked => {
    const t: Tracked = {
      spec,
      parent,
      outcome: { id: spec.id, idealMs: idealMs(spec) },
      openChildren: 0,
      ownTimeUp: false,
      children: [],
      finishing: false,
    };
    const probe = { uuid: '', state: 'Queued', created_at: '', container_image: '', ...containerSeed(cluster, spec) } as Container;
    try {
      const best = chooseInstanceTypes(cluster, probe)[0];
      t.outcome.lowerBoundPrice = best.Price;
      t.outcome.lowerBoundType = best.Name;
    } catch {
      // No type fits: the dispatcher will cancel it, and it adds nothing to the bound.
    }
    tracked.push(t);
    for (const ch of spec.children ?? []) t.children.push(track(ch, t));
    return t;
  };
  const top = opts.workload.containers.map((c) => track(c));

  let submitted = 0;
  let finalCount = 0;
  const stateCounts: Record<string, number> = { Queued: 0, Locked: 0, Running: 0, Complete: 0, Cancelled: 0 };
  const submit = (t: Tracked): void => {
    const rec = controller.addContainer(containerSeed(cluster, t.spec));
    t.outcome.uuid = rec.uuid;
    t.outcome.state = rec.state;
    t.outcome.submittedAt = clock.now();
    byUuid.set(rec.uuid, t);
    stateCounts[rec.state]++;
    submitted++;
  };

  // A runner finishes once its children are final and its own time is up.
  const maybeFinish = (t: Tracked): void => {
    if (t.finishing || t.openChildren > 0 || !t.ownTimeUp || t.outcome.state !== 'Running') return;
    t.finishing = true;
    const uuid = t.outcome.uuid!;
    for (const vm of cloud.listVMs()) {
      const proc = vm.processes.get(uuid);
      if (proc?.alive) {
        proc.finishNow();
        return;
      }
    }
    notes.push(`runner ${t.spec.id} (${uuid}) could not be finished: its crunch-run was not found`);
  };

  // A container is settled once final, or once it can never be submitted
  // (a child of a runner that was cancelled); the run ends when all are.
  const abandon = (t: Tracked): void => {
    finalCount++;
    for (const ch of t.children) abandon(ch);
  };
  const onFinal = (t: Tracked): void => {
    finalCount++;
    const p = t.parent;
    if (p) {
      p.openChildren--;
      maybeFinish(p);
    }
    if (t.children.length === 0) return;
    if (t.outcome.runningAt === undefined) {
      for (const ch of t.children) abandon(ch);
    } else if (t.outcome.state === 'Cancelled') {
      // The runner is gone: so are its children's requests. Unsubmitted ones are abandoned when their time comes.
      for (const ch of t.children) {
        if (ch.outcome.uuid !== undefined) controller.cancel(ch.outcome.uuid, `workflow runner ${t.outcome.uuid} was cancelled`);
      }
    }
  };

  const unsubscribe = controller.onChange((next, prev) => {
    if (next.state === prev.state) return;
    const t = byUuid.get(next.uuid);
    if (!t) return;
    stateCounts[prev.state]--;
    stateCounts[next.state]++;
    t.outcome.state = next.state;
    const now = clock.now();
    if (next.state === 'Running') {
      t.outcome.runningAt ??= now;
      if (t.children.length > 0) {
        t.openChildren = t.children.length;
        for (const ch of t.children) {
          clock.setTimer(ch.spec.at, () => {
            if (t.outcome.state === 'Running') {
              submit(ch);
            } else {
              abandon(ch);
              t.openChildren--;
            }
          });
        }
        clock.setTimer(t.spec.runtimeMs, () => {
          t.ownTimeUp = true;
          maybeFinish(t);
        });
      }
    }
    if (next.state === 'Complete' || next.state === 'Cancelled') {
      t.outcome.finalAt = now;
      t.outcome.exitCode = next.exit_code;
      if (next.state === 'Cancelled') {
        const err = next.runtime_status?.error;
        t.outcome.reason = typeof err === 'string' && err !== '' ? err : (controller.history(next.uuid).at(-1)?.reason ?? 'no reason recorded');
      }
      onFinal(t);
    }
  });

  // Arrivals, one timer at a time (the workload is sorted by `at`).
  let nextArrival = 0;
  const armArrival = (): void => {
    if (nextArrival >= top.length) return;
    const due = start + top[nextArrival].spec.at;
    clock.setTimer(Math.max(0, due - clock.now()), () => {
      while (nextArrival < top.length && start + top[nextArrival].spec.at <= clock.now()) submit(top[nextArrival++]);
      armArrival();
    });
  };
  armArrival();

  let dispatcher: Dispatcher | undefined;
  const timeline: TimelineSample[] = [];
  let peakHeap = 0;
  let timersFired = 0;
  let finished = false;
  const expected = tracked.length;
  try {
    dispatcher = await createDispatcher(cluster, {
      clock,
      logger,
      instanceSet: ledger.wrap(lameSet),
      controllerTransport: transport,
      observePool,
    });
    const d = dispatcher;
    const sample = (): void => {
      const vms: Record<string, number> = {};
      let known = 0;
      for (const v of d.pool.instances()) {
        vms[v.workerState] = (vms[v.workerState] ?? 0) + 1;
        if (!v.instance.startsWith('pending-')) known++;
      }
      // Destroy requested but not done yet: the pool no longer lists them, the bill does.
      const shuttingDown = ledger.liveCount - known;
      if (shuttingDown > 0) vms.shutdown = (vms.shutdown ?? 0) + shuttingDown;
      timeline.push({ t: clock.now() - start, vms, queued: stateCounts.Queued + stateCounts.Locked, running: stateCounts.Running });
      peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
    };
    const sampler = clock.setRepeatingTimer(sampleMs, sample);
    sample();
    d.start();
    const end = start + limitMs;
    let lastProgress = start;
    // Steps of a simulated second: small enough to stop soon after the end, large enough to cost nothing.
    while (clock.now() < end) {
      timersFired += await clock.runTo(Math.min(end, clock.now() + 1000));
      if (finalCount >= expected && ledger.liveCount === 0 && cloud.listVMs().length === 0) {
        finished = true;
        break;
      }
      if (opts.onProgress && clock.now() - lastProgress >= 3_600_000) {
        lastProgress = clock.now();
        opts.onProgress({ simMs: clock.now() - start, submitted, final: finalCount, vms: ledger.liveCount });
      }
    }
    sample();
    sampler.cancel();
  } finally {
    unsubscribe();
    const stopping = dispatcher?.stop();
    // Stopping may wait on in-flight calls: keep the clock moving a little meanwhile.
    if (stopping) {
      let done = false;
      void stopping.finally(() => (done = true));
      for (let i = 0; i < 600 && !done; i++) await clock.runTo(clock.now() + 1000);
      await stopping;
    }
    await dropLameCloud(cloudName);
  }
  const endedAt = clock.now();

  for (const t of tracked) {
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
    containers: tracked.map((t) => t.outcome),
    ledger,
    readyAt,
    timeline,
    timersFired,
    controllerRequests: Object.fromEntries(Object.entries(controller.stats).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
    notes,
    host: {
      wallMs: systemClock.now() - wall0,
      cpuUserMs: cpu.user / 1000,
      cpuSystemMs: cpu.system / 1000,
      peakRssBytes: process.resourceUsage().maxRSS * 1024,
      peakHeapBytes: peakHeap,
    },
  };
}

function nullStream(): Writable {
  return new Writable({ write: (_chunk, _enc, cb) => cb() });
}
