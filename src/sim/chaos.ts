/**
 * The chaos scenario: a busy cluster's workload through the real dispatcher
 * in simulated time while everything fails at once, with its invariants
 * checked (`chaos-checks.ts`). One seed decides the workload, the cloud's
 * faults, the controller's trouble and the restart instants, so a seed
 * repeats a run exactly (its digest says so).
 *
 * What goes wrong (rates are of all calls of that kind):
 * - cloud: creates fail ~19% (10% plain errors, then 5% quota and 5%
 *   capacity errors of the rest) and also when the quota is really reached;
 *   20% of destroys, lists and tag updates fail; 3% of VMs never boot, 3%
 *   break 10 minutes after boot, 5% are reclaimed (spot-style) within 2 hours
 *   of boot; 3% of crunch-runs crash mid-run, their lock held 30 s longer;
 * - controller: an outage (every request 503) of 10 s to 2 min every two
 *   simulated hours on average, and an overload (30% of requests 503) of 5
 *   to 20 min every three hours, at seeded instants;
 * - dispatcher: stopped and built anew at seeded instants (five by default),
 *   as after a crash: the new one must adopt the VMs and crunch-runs.
 */
import type { Writable } from 'node:stream';
import type { Timer } from '../clock/index.js';
import { loadConfigText } from '../config/index.js';
import type { Cluster } from '../config/types.js';
import type { Settings } from '../config/settings.js';
import { Random } from '../../drivers/lame/random.js';
import type { LameCloud } from '../../drivers/lame/index.js';
import type { TestController } from '../testcontroller/index.js';
import { ChaosWatcher, LogFacts, runDigest } from './chaos-checks.js';
import { ControllerTrouble, planTrouble, type TroubleSpec } from './controller-trouble.js';
import { runSimulation } from './engine.js';
import type { SimResult } from './result.js';
import type { SimPriorities, WorkloadPlayer } from './player.js';
import { parseWorkload, type Workload } from './workload.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** The cloud's fault knobs (lame DriverParameters) of every chaos run; the quota is added per run. */
export const CHAOS_CLOUD_FAULTS = {
  ErrorRateCreate: 0.1,
  QuotaErrorRate: 0.05,
  CapacityErrorRate: 0.05,
  ErrorRateDestroy: 0.2,
  ErrorRateList: 0.2,
  ErrorRateSetTags: 0.2,
  NeverBootRate: 0.03,
  BrokenRate: 0.03,
  BrokenAfter: '10m',
  ReclaimRate: 0.05,
  ReclaimAfter: '2h',
  CrunchRunCrashRate: 0.03,
  StaleLockTime: '30s',
  DestroyDelay: '30s',
} as const;

export interface ChaosOptions {
  /** Top-level containers (workflow runners' children come on top, about 2%). */
  containers: number;
  /** Arrivals spread over this much simulated time, busiest at 14/24 of it. */
  spanMs: number;
  seed: number;
  /** The cluster's MaxInstances, and the cloud's instance quota (below it, so both bind). */
  maxInstances: number;
  quota: number;
  /** Lame DriverParameters over CHAOS_CLOUD_FAULTS (a harsher or gentler cloud). */
  faults?: Record<string, unknown>;
  /** Dispatcher restarts, at seeded instants in the arrival span; default 5. */
  restarts?: number;
  /** Heap used now (the bench script runs gc first); called at the start and every simulated hour. */
  heapProbe?: () => number;
  /** The dispatcher's and the cloud's log lines also go here, at `logLevel` (default info). */
  log?: Writable;
  logLevel?: string;
  /** Called about once a simulated hour. */
  onProgress?: (p: { simMs: number; submitted: number; final: number; vms: number }) => void;
  /** How the controller states container priorities (`SimOptions.priorities`); default '2.6'. */
  priorities?: SimPriorities;
  /** The daemon's own settings (`SimOptions.settings`); default: every setting at its default. */
  settings?: Settings;
}

/** What a chaos run measured; everything but `host` is a function of the options. */
export interface ChaosFigures {
  seed: number;
  containers: { total: number; complete: number; cancelled: number; neverSubmitted: number; other: number };
  cancelReasons: Array<[string, number]>;
  crunchRunStarts: number;
  /** Dispatch attempts: the containers' lock counts, summed (a lock released unused counts too). */
  locks: number;
  /** Containers whose crunch-run was started more than once (one after another: retries after a crash, a lost VM...). */
  startedAgain: number;
  vms: { created: number; reclaimed: number; neverReady: number };
  /** Containers whose crunch-run crashed on its own, or went with a VM reclaimed, broken or never booted. */
  crunchRunsLost: number;
  cloudCalls: SimResult['ledger']['calls'];
  controller: { requests: number; refusedInOutage: number; refusedInOverload: number; outages: number; overloads: number };
  restarts: number;
  /** Containers whose crunch-run was alive at a restart, and how they ended. */
  acrossRestarts: { containers: number; complete: number; cancelled: number };
  /** From the last container final to the last VM gone. */
  drainMs: number;
  /** Error records in the dispatcher's log by message (mostly the faults injected). */
  errorsLogged: Array<[string, number]>;
  /** Cancels decided on a poll's view but not sent: the container had ended since, by the state it had then. */
  cancelsNotSent: Array<[string, number]>;
  maxLiveVMs: number;
  limits: { maxInstances: number; quota: number };
  simulatedMs: number;
  finished: boolean;
  digest: string;
  /** Clock timers left armed after the last dispatcher stopped (a stopped loop that goes on would show here). */
  timersLeft: number;
  host: {
    wallMs: number;
    /** Heap used after gc: at the start, then every simulated hour. */
    heap: Array<{ simMs: number; bytes: number }>;
    /** Heap used after gc once the run is over, the dispatcher still running; then with the dispatcher stopped and the cloud gone. */
    heapAtEnd?: number;
    heapAfterStop?: number;
  };
}

export interface ChaosOutcome {
  figures: ChaosFigures;
  /** Every invariant violated, with details; empty when the run passed. */
  problems: string[];
  result: SimResult;
}

/** The cluster of a chaos run: EC2-like types and prices, reference timings, the chaos faults. */
export function chaosCluster(opts: Pick<ChaosOptions, 'maxInstances' | 'quota' | 'faults'>): Cluster {
  const params = { MinBootTime: '1m', MaxBootTime: '2m', ...CHAOS_CLOUD_FAULTS, QuotaMaxInstances: opts.quota, ...opts.faults };
  const yaml = `
Clusters:
  zzzzz:
    SystemRootToken: chaosRootTokenXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX
    ManagementToken: chaosManagementTokenXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX
    Services:
      Controller:
        ExternalURL: http://controller.sim.invalid
    Containers:
      MaximumPriceFactor: 1.5
      PreemptiblePriceFactor: 0.4
      LocalKeepBlobBuffersPerVCPU: 1
      CloudVMs:
        Driver: lame
        DriverParameters: ${JSON.stringify(params)}
        MaxInstances: ${opts.maxInstances}
        PollInterval: 10s
        ProbeInterval: 10s
        SyncInterval: 1m
        TimeoutIdle: 1m
        TimeoutBooting: 10m
    InstanceTypes:
      m5.large:    {VCPUs: 2,  RAM: 8GiB,   IncludedScratch: 32GB,  Price: 0.096}
      m5.xlarge:   {VCPUs: 4,  RAM: 16GiB,  IncludedScratch: 64GB,  Price: 0.192}
      m5.2xlarge:  {VCPUs: 8,  RAM: 32GiB,  IncludedScratch: 128GB, Price: 0.384}
      m5.4xlarge:  {VCPUs: 16, RAM: 64GiB,  IncludedScratch: 256GB, Price: 0.768}
      m5.16xlarge: {VCPUs: 64, RAM: 256GiB, IncludedScratch: 1TB,   Price: 3.072}
      c5.large:    {VCPUs: 2,  RAM: 4GiB,   IncludedScratch: 32GB,  Price: 0.085}
      c5.xlarge:   {VCPUs: 4,  RAM: 8GiB,   IncludedScratch: 64GB,  Price: 0.17}
      r5.xlarge:   {VCPUs: 4,  RAM: 32GiB,  IncludedScratch: 64GB,  Price: 0.252}
`;
  return loadConfigText(yaml).cluster;
}

/**
 * The workload: the mix of `bench/workloads/day-10k.json` (small and medium
 * steps, some preemptible; a few 64-VCPU jobs; workflow runners with
 * children) scaled to `containers` over `spanMs`.
 */
export function chaosWorkload(opts: Pick<ChaosOptions, 'containers' | 'spanMs' | 'seed'>): Workload {
  const n = opts.containers;
  const span = `${opts.spanMs}ms`;
  const arrival = { diurnal: { from: '0s', until: span, peak: `${Math.round((opts.spanMs * 14) / 24)}ms`, period: span, trough: 0.2 } };
  const workflows = Math.max(1, Math.round(n / 1000));
  const big = Math.max(1, Math.round(n / 100));
  const medium = Math.round(n / 4);
  const small = n - workflows - big - medium;
  const spec = {
    name: `chaos-${n}`,
    seed: opts.seed,
    groups: [
      {
        name: 'small',
        count: small,
        arrival,
        vcpus: { choice: [[1, 6], [2, 3], [4, 1]] },
        ram: { perVCPU: { choice: [['1GiB', 3], ['2GiB', 4], ['3GiB', 2]] } },
        runtime: { lognormal: { median: '8m', sigma: 1.0 }, min: '30s', max: '4h' },
        priority: { choice: [[500, 8], [1000, 1], [100, 1]] },
        preemptible: 0.3,
      },
      {
        name: 'medium',
        count: medium,
        arrival,
        vcpus: { choice: [[4, 2], [8, 2], [16, 1]] },
        ram: { perVCPU: '2GiB' },
        runtime: { lognormal: { median: '25m', sigma: 0.8 }, min: '2m', max: '4h' },
        priority: 500,
        preemptible: 0.2,
      },
      {
        name: 'big',
        count: big,
        arrival: { uniform: { from: '0s', until: span } },
        vcpus: 64,
        ram: '96GiB',
        runtime: { lognormal: { median: '1h', sigma: 0.5 }, min: '15m', max: '4h' },
        priority: 800,
      },
      {
        name: 'workflows',
        count: workflows,
        arrival: { uniform: { from: '0s', until: span } },
        vcpus: 1,
        ram: '1GiB',
        priority: 500,
        supervisor: {
          children: [
            {
              name: 'scatter',
              count: 20,
              arrival: { burst: { at: '30s' } },
              vcpus: { choice: [[1, 1], [2, 1]] },
              ram: { perVCPU: '2GiB' },
              runtime: { lognormal: { median: '10m', sigma: 0.5 }, min: '1m', max: '1h' },
              priority: 500,
            },
            {
              name: 'merge',
              count: 1,
              arrival: { afterPrevious: { gap: '30s' } },
              vcpus: 8,
              ram: '16GiB',
              runtime: '10m',
              priority: 500,
            },
          ],
        },
      },
    ],
  };
  return parseWorkload(spec);
}

/** Controller trouble scaled to the span: an outage every 2 h and an overload every 3 h on average. */
export function chaosTrouble(spanMs: number): TroubleSpec {
  return {
    spanMs,
    outages: Math.max(2, Math.round(spanMs / (2 * HOUR))),
    outageMs: [10_000, 120_000],
    overloads: Math.max(2, Math.round(spanMs / (3 * HOUR))),
    overloadMs: [5 * 60_000, 20 * 60_000],
    overloadShare: 0.3,
  };
}

/** Runs the scenario and checks it; never throws for a violated invariant (see `problems`). */
export async function runChaos(opts: ChaosOptions): Promise<ChaosOutcome> {
  const limits = { maxInstances: opts.maxInstances, quota: opts.quota };
  const cluster = chaosCluster({ ...limits, faults: opts.faults });
  const workload = chaosWorkload(opts);
  const troubleSpec = chaosTrouble(opts.spanMs);
  // The restart instants and the trouble windows come from streams of their own, so neither moves the other.
  const rnd = new Random(opts.seed ^ 0x7e57_a27);
  const restartsAt = Array.from({ length: opts.restarts ?? 5 }, () => Math.round(opts.spanMs * (0.05 + 0.9 * rnd.next())));
  const logs = new LogFacts(opts.log);
  const acrossRestarts = new Set<string>();
  let heapTimer: Timer | undefined;
  let heapAtEnd: number | undefined;
  const heap: Array<{ simMs: number; bytes: number }> = [];
  let trouble: ControllerTrouble | undefined;
  let watcher: ChaosWatcher | undefined;
  let world: { cloud: LameCloud; controller: TestController; player: WorkloadPlayer } | undefined;
  // A rejection nobody handles would crash a daemon: here it is a violation, with its stack.
  const rejections: string[] = [];
  const onRejection = (reason: unknown): void => {
    rejections.push(reason instanceof Error ? (reason.stack ?? reason.message) : String(reason));
  };
  process.on('unhandledRejection', onRejection);
  let result: SimResult;
  try {
    result = await runSimulation({
      cluster,
      workload,
      seed: opts.seed,
      limitMs: opts.spanMs + 2 * DAY,
      restartsAt,
      log: { stream: logs, level: opts.logLevel ?? 'info' },
      onProgress: opts.onProgress,
      priorities: opts.priorities,
      ...(opts.settings ? { settings: opts.settings } : {}),
      atEnd: () => {
        heapTimer?.cancel();
        heapAtEnd = opts.heapProbe?.();
      },
      setup: ({ clock, controller, cloud, ledger, player }) => {
        const start = clock.now();
        world = { cloud, controller, player };
        trouble = new ControllerTrouble(clock, start, planTrouble(opts.seed, troubleSpec), opts.seed, troubleSpec.overloadShare);
        trouble.install(controller);
        watcher = new ChaosWatcher(limits, clock);
        watcher.attach(cloud, ledger, controller);
        // The crunch-runs alive as each dispatcher stops: the next one must adopt them.
        for (const at of restartsAt) {
          clock.setTimer(at, () => {
            for (const vm of cloud.listVMs()) for (const uuid of vm.runningContainers()) acrossRestarts.add(uuid);
          });
        }
        // Armed whether or not heap is measured: the timer is part of the run, and a seed must repeat it.
        const probe = (): void => {
          if (opts.heapProbe) heap.push({ simMs: clock.now() - start, bytes: opts.heapProbe() });
        };
        probe();
        heapTimer = clock.setRepeatingTimer(HOUR, probe);
      },
    });
  } finally {
    process.off('unhandledRejection', onRejection);
  }
  const w = world!;
  // The world (controller records, player, ledger) is still held here; the dispatcher and the VMs are gone.
  const heapAfterStop = opts.heapProbe?.();
  const reasons = new Map<string, number>();
  const problems = watcher!.verdict(result, w.player, w.controller, logs, reasons);
  for (const r of rejections.slice(0, 10)) problems.push(`unhandled rejection: ${r}`);
  const count = (state: string | undefined): number => result.containers.filter((c) => c.state === state).length;
  const refused = trouble!.refused;
  const extra = { refused, starts: watcher!.crunchRunStarts, reclaimed: w.cloud.reclaimed, maxLive: watcher!.maxLive };
  const figures: ChaosFigures = {
    seed: opts.seed,
    containers: {
      total: result.containers.length,
      complete: count('Complete'),
      cancelled: count('Cancelled'),
      neverSubmitted: count(undefined),
      other: result.containers.length - count('Complete') - count('Cancelled') - count(undefined),
    },
    cancelReasons: [...reasons].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)),
    crunchRunStarts: watcher!.crunchRunStarts,
    locks: result.containers.reduce((n, c) => n + (c.uuid === undefined ? 0 : (w.controller.get(c.uuid)?.lock_count ?? 0)), 0),
    startedAgain: [...watcher!.startsByContainer.values()].filter((n) => n > 1).length,
    vms: {
      created: result.ledger.vms.size,
      reclaimed: w.cloud.reclaimed,
      neverReady: [...result.ledger.vms.keys()].filter((id) => !result.readyAt.has(id)).length,
    },
    crunchRunsLost: new Set([...logs.crunchRunDied, ...watcher!.lostWithVM]).size,
    cloudCalls: result.ledger.calls,
    controller: {
      requests: Object.values(result.controllerRequests).reduce((a, b) => a + b, 0),
      refusedInOutage: refused.outage,
      refusedInOverload: refused.overload,
      outages: troubleSpec.outages,
      overloads: troubleSpec.overloads,
    },
    restarts: result.restarts,
    acrossRestarts: {
      containers: acrossRestarts.size,
      complete: result.containers.filter((c) => c.uuid !== undefined && acrossRestarts.has(c.uuid) && c.state === 'Complete').length,
      cancelled: result.containers.filter((c) => c.uuid !== undefined && acrossRestarts.has(c.uuid) && c.state === 'Cancelled').length,
    },
    drainMs: result.endedAt - Math.max(result.startedAt, ...result.containers.map((c) => c.finalAt ?? 0)),
    errorsLogged: [...logs.errors].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)),
    cancelsNotSent: [...logs.cancelsNotSent].sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    maxLiveVMs: watcher!.maxLive,
    limits,
    simulatedMs: result.endedAt - result.startedAt,
    finished: result.finished,
    digest: runDigest(result, extra),
    timersLeft: result.timersLeft,
    host: { wallMs: result.host.wallMs, heap, heapAtEnd, heapAfterStop },
  };
  return { figures, problems, result };
}
