/**
 * Scale benchmark of one scheduling pass (`runQueue(); sync();`) with 1k,
 * 10k and 100k queued containers against 100, 1k and 10k VMs across 20
 * instance types. See bench/README.md for what it measures and the figures.
 *
 *   npm run bench
 *   node --import tsx bench/scheduling-pass.ts [--quick] [--only Q/V] [--mode arrival|steady] [--budget-ms N]
 *       [--priorities 2.7|2.6]
 *
 * Re-executes itself with --expose-gc (for the allocation figure) unless
 * that is already on.
 */
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { containerPriorityOf } from '../src/arvados/priority.js';
import { ManualClock } from '../src/clock/index.js';
import { loadConfigText } from '../src/config/index.js';
import type { ContainerState } from '../src/arvados/types.js';
import type { Cluster, InstanceType } from '../src/config/types.js';
import { silentLogger } from '../src/log.js';
import type { QueueEntry } from '../src/scheduler/interfaces.js';
import { Scheduler } from '../src/scheduler/scheduler.js';
import { BenchPool, BenchQueue, GiB, makeEntry, type WorkerSpec } from './fakes.js';
import { exposedGc } from './gc.js';
import { Random } from '../drivers/lame/random.js';

const gc = exposedGc(import.meta.url);

// ---- arguments -------------------------------------------------------------
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const onlyArg = args.indexOf('--only');
const only = onlyArg >= 0 ? args[onlyArg + 1] : undefined;
const budgetArg = args.indexOf('--budget-ms');
const modeArg = args.indexOf('--mode');
const MODES: Mode[] = modeArg >= 0 ? [args[modeArg + 1] as Mode] : ['arrival', 'steady'];
const prioritiesArg = args.indexOf('--priorities');
/**
 * How the controller states priorities: '2.7' (Arvados 2.7 and later: the
 * request's priority x 2^50 less its creation time in ms, so nearly every
 * container's is its own) or '2.6' (the request's priority, 1-1000).
 */
const PRIORITIES = prioritiesArg >= 0 ? args[prioritiesArg + 1] : '2.7';
if (PRIORITIES !== '2.7' && PRIORITIES !== '2.6') throw new Error('--priorities: 2.7 or 2.6');
if (!MODES.every((m) => m === 'arrival' || m === 'steady')) throw new Error('--mode: arrival or steady');
/** Wall time budget for the timed passes of one (queued, VMs) pair. */
const BUDGET_MS = budgetArg >= 0 ? Number(args[budgetArg + 1]) : quick ? 1500 : 8000;
const MIN_PASSES = 3;
/** A first pass slower than this is the only sample (the JIT is warm from the smaller pairs). */
const SINGLE_PASS_MS = 10_000;
const MAX_PASSES = quick ? 10 : 40;

// ---- deterministic randomness ----------------------------------------------
function pick<T>(rnd: () => number, weighted: Array<[T, number]>): T {
  const total = weighted.reduce((s, [, w]) => s + w, 0);
  let x = rnd() * total;
  for (const [v, w] of weighted) {
    x -= w;
    if (x < 0) return v;
  }
  return weighted[weighted.length - 1][0];
}

// ---- the cluster: 20 instance types ----------------------------------------
const SIZES = [1, 2, 4, 8, 12, 16, 24, 32, 48, 64];
function benchCluster(): Cluster {
  const lines = [
    'Clusters:',
    '  zzzzz:',
    '    Containers:',
    '      MaximumPriceFactor: 1.5',
    '      CloudVMs:',
    // High enough that the dynamic concurrency limit never skips a container:
    // the benchmark measures the full pass.
    '        MaxInstances: 1000000',
    '        SupervisorFraction: 0.3',
    '    InstanceTypes:',
  ];
  for (const [fam, ramPer, pricePer] of [
    ['c', 2, 0.042],
    ['m', 4, 0.05],
  ] as const) {
    for (const v of SIZES) {
      lines.push(
        `      ${fam}${v}: {ProviderType: ${fam}6.${v}x, VCPUs: ${v}, RAM: ${v * ramPer}GiB, IncludedScratch: ${v * 32}GiB, Price: ${(v * pricePer).toFixed(3)}}`,
      );
    }
  }
  return loadConfigText(lines.join('\n') + '\n').cluster;
}

/** A container size: mostly small, a tail of big ones. */
function containerNeed(rnd: () => number): { vcpus: number; ram: number; scratch: number } {
  const vcpus = pick(rnd, [
    [1, 40],
    [2, 25],
    [4, 15],
    [8, 10],
    [16, 6],
    [32, 3],
    [64, 1],
  ]);
  const ramPer = pick(rnd, [
    [1, 50],
    [1.75, 35],
    [3.5, 15],
  ]);
  return { vcpus, ram: Math.round(vcpus * ramPer * GiB * 0.9), scratch: vcpus * 8 * GiB };
}

/**
 * arrival: 90% of the backlog is Queued, as when it has just arrived, so the
 * pass locks it all; steady: 99% is Locked already (the passes before locked
 * it), as on every later pass while the backlog waits for instances.
 */
type Mode = 'arrival' | 'steady';

interface Scenario {
  queued: number;
  vms: number;
  cluster: Cluster;
  clock: ManualClock;
  queue: BenchQueue;
  pool: BenchPool;
  sch: Scheduler;
  entries: number;
  runningContainers: number;
  states: Record<string, number>;
}

/**
 * `queued` Queued/Locked containers (see Mode for the Queued/Locked split; 0.5% priority
 * 0, 2% supervisors, request priorities 1..1000 as `PRIORITIES` states them) plus the Running ones on the VMs;
 * `vms` instances: 80% running 1-2 containers, 10% idle, 10% booting (half
 * of those already given a container).
 */
function buildScenario(queued: number, vms: number, mode: Mode, seed = 42): Scenario {
  const random = new Random(seed + queued * 7 + vms);
  const rnd = (): number => random.next();
  const cluster = benchCluster();
  const clock = new ManualClock();
  const t0 = clock.now() - 3600_000;
  const entries: QueueEntry[] = [];
  let seq = 0;
  const uuid = (): string => `zzzzz-dz642-${String(seq++).padStart(15, '0')}`;
  // A request priority of 1-1000 as the controller states it for a container created at `createdMs`.
  const priorityOf = (p: number, createdMs: number): number => (PRIORITIES === '2.6' ? p : containerPriorityOf(p, createdMs));

  const specs: WorkerSpec[] = [];
  let runningContainers = 0;
  const states: Record<string, number> = {};
  for (let i = 0; i < vms; i++) {
    const state = pick(rnd, [
      ['running', 80],
      ['idle', 10],
      ['booting', 10],
    ] as Array<[WorkerSpec['state'], number]>);
    // The instance's type: cheapest fit for a first container.
    const first = containerNeed(rnd);
    const entryFirst = makeEntry(cluster, uuid(), 'Running', priorityOf(1 + Math.floor(rnd() * 1000), t0 + seq), first, t0 + seq);
    const type: InstanceType = entryFirst.instanceTypes[0];
    const containers: string[] = [];
    const onIt = state === 'running' ? (rnd() < 0.6 ? 1 : 2) : state === 'booting' && rnd() < 0.5 ? 1 : 0;
    if (onIt > 0) {
      // On a booting instance the container is Locked and waits for it.
      if (state === 'booting') entryFirst.container = { ...entryFirst.container, state: 'Locked' };
      entries.push(entryFirst);
      containers.push(entryFirst.container.uuid);
      let freeV = type.VCPUs - first.vcpus;
      let freeR = type.RAM - first.ram;
      if (onIt > 1) {
        const n2 = { vcpus: Math.max(1, Math.floor(freeV / 2)), ram: Math.floor(freeR / 2), scratch: 0 };
        if (freeV >= 1 && freeR > GiB) {
          const e2 = makeEntry(cluster, uuid(), 'Running', priorityOf(1 + Math.floor(rnd() * 1000), t0 + seq), n2, t0 + seq);
          entries.push(e2);
          containers.push(e2.container.uuid);
          freeV -= n2.vcpus;
          freeR -= n2.ram;
        }
      }
    }
    if (state !== 'booting') runningContainers += containers.length;
    states[state] = (states[state] ?? 0) + 1;
    specs.push({ type, state, containers });
  }
  // Running containers only live on running instances; a booting one holds Locked ones.
  for (let i = 0; i < queued; i++) {
    const r = rnd();
    const state: ContainerState = r < (mode === 'arrival' ? 0.1 : 0.99) ? 'Locked' : 'Queued';
    const priority = priorityOf(rnd() < 0.005 ? 0 : 1 + Math.floor(rnd() * 1000), t0 + seq);
    entries.push(makeEntry(cluster, uuid(), state, priority, containerNeed(rnd), t0 + seq, rnd() < 0.02));
  }
  // Locked containers with a crunch-run on a booting instance count as records: fine, they are "preparing".
  const queue = new BenchQueue(entries, clock.now());
  const full = new Set([cluster.InstanceTypes.m64.ProviderType]);
  const pool = new BenchPool(specs, clock, full, 50);
  const sch = new Scheduler({ queue, pool, client: { last503: () => 0 }, cluster, clock, logger: silentLogger() });
  return { queued, vms, cluster, clock, queue, pool, sch, entries: entries.length, runningContainers, states };
}

// ---- measuring --------------------------------------------------------------
let gcEvents: number[] = [];
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcEvents.push(e.startTime);
});
obs.observe({ entryTypes: ['gc'] });

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface PassSample {
  ms: number;
  alloc: number;
  start: number;
  end: number;
}

async function onePass(sc: Scenario): Promise<PassSample> {
  // Untimed: put back what the last pass changed, let its lock calls settle, collect garbage.
  sc.pool.reset();
  sc.queue.reset();
  await tick();
  await tick();
  gc();
  const h0 = process.memoryUsage().heapUsed;
  const start = performance.now();
  sc.sch.runQueue();
  sc.sch.sync();
  const end = performance.now();
  const h1 = process.memoryUsage().heapUsed;
  return { ms: end - start, alloc: h1 - h0, start, end };
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/** Least-squares slope of log(y) against log(x). */
function exponent(points: Array<[number, number]>): number {
  const xs = points.map(([x]) => Math.log(x));
  const ys = points.map(([, y]) => Math.log(y));
  const mx = xs.reduce((a, b) => a + b, 0) / xs.length;
  const my = ys.reduce((a, b) => a + b, 0) / ys.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < xs.length; i++) {
    num += (xs[i] - mx) * (ys[i] - my);
    den += (xs[i] - mx) ** 2;
  }
  return num / den;
}

interface Row {
  mode: Mode;
  queued: number;
  vms: number;
  entries: number;
  passes: number;
  median: number;
  p95: number;
  allocMiB: number;
  allocExact: boolean;
  gcsPerPass: number;
  rssMiB: number;
  locks: number;
  starts: number;
  creates: number;
}

async function measure(queued: number, vms: number, mode: Mode): Promise<Row> {
  const sc = buildScenario(queued, vms, mode);
  // Warm up: enough passes for the JIT, at least one.
  gcEvents = [];
  const warm = await onePass(sc);
  if (warm.ms > SINGLE_PASS_MS) {
    await tick();
    const gcs = gcEvents.filter((t) => t > warm.start && t < warm.end).length;
    return {
      mode,
      queued,
      vms,
      entries: sc.entries,
      passes: 1,
      median: warm.ms,
      p95: warm.ms,
      allocMiB: warm.alloc / 2 ** 20,
      allocExact: gcs === 0,
      gcsPerPass: gcs,
      rssMiB: process.memoryUsage().rss / 2 ** 20,
      locks: sc.queue.locks,
      starts: sc.pool.starts,
      creates: sc.pool.creates,
    };
  }
  const warmups = Math.max(3, Math.min(5, Math.floor(BUDGET_MS / 10 / Math.max(warm.ms, 1))));
  let last = warm;
  for (let i = 1; i < warmups; i++) last = await onePass(sc);
  const passes = Math.max(MIN_PASSES, Math.min(MAX_PASSES, Math.floor(BUDGET_MS / Math.max(last.ms, 0.01))));
  const samples: PassSample[] = [];
  gcEvents = [];
  for (let i = 0; i < passes; i++) samples.push(await onePass(sc));
  await tick();
  // GC entries are delivered asynchronously; count those inside each pass.
  const gcsIn = samples.map((s) => gcEvents.filter((t) => t > s.start && t < s.end).length);
  const clean = samples.filter((_, i) => gcsIn[i] === 0);
  const allocs = (clean.length > 0 ? clean : samples).map((s) => s.alloc);
  const ms = samples.map((s) => s.ms);
  const row: Row = {
    mode,
    queued,
    vms,
    entries: sc.entries,
    passes,
    median: quantile(ms, 0.5),
    p95: quantile(ms, 0.95),
    allocMiB: quantile(allocs, 0.5) / 2 ** 20,
    allocExact: clean.length > 0,
    gcsPerPass: gcsIn.reduce((a, b) => a + b, 0) / samples.length,
    rssMiB: process.memoryUsage().rss / 2 ** 20,
    locks: sc.queue.locks,
    starts: sc.pool.starts,
    creates: sc.pool.creates,
  };
  return row;
}

// ---- main ---------------------------------------------------------------------
const QUEUED = quick ? [1000, 10_000] : [1000, 10_000, 100_000];
const VMS = quick ? [100, 1000] : [100, 1000, 10_000];

const pad = (s: string | number, n: number): string => String(s).padStart(n);
const fmt = (x: number): string => (x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));

console.log(`node ${process.version}, ${process.arch}; budget ${BUDGET_MS} ms of timed passes per pair; 20 instance types; Arvados ${PRIORITIES} priorities`);
console.log(
  `${pad('mode', 7)} ${pad('queued', 7)} ${pad('VMs', 6)} ${pad('entries', 8)} ${pad('passes', 6)} ${pad('median ms', 10)} ${pad('p95 ms', 9)} ${pad('alloc MiB', 10)} ${pad('GCs/pass', 8)} ${pad('RSS MiB', 8)} ${pad('locks', 7)} ${pad('starts', 6)} ${pad('creates', 7)}`,
);
const rows: Row[] = [];
const wall0 = performance.now();
for (const mode of MODES) {
  for (const vms of VMS) {
    for (const queued of QUEUED) {
      if (only && only !== `${queued}/${vms}`) continue;
      const r = await measure(queued, vms, mode);
      rows.push(r);
      console.log(
        `${pad(r.mode, 7)} ${pad(r.queued, 7)} ${pad(r.vms, 6)} ${pad(r.entries, 8)} ${pad(r.passes, 6)} ${pad(fmt(r.median), 10)} ${pad(fmt(r.p95), 9)} ${pad((r.allocExact ? '' : '>=') + fmt(r.allocMiB), 10)} ${pad(r.gcsPerPass.toFixed(1), 8)} ${pad(r.rssMiB.toFixed(0), 8)} ${pad(r.locks, 7)} ${pad(r.starts, 6)} ${pad(r.creates, 7)}`,
      );
      gc();
    }
  }
}
console.log('');
for (const mode of MODES) {
  for (const vms of VMS) {
    const pts = rows.filter((r) => r.mode === mode && r.vms === vms);
    if (pts.length < 2) continue;
    const kt = exponent(pts.map((r) => [r.queued, r.median]));
    const ka = exponent(pts.map((r) => [r.queued, Math.max(r.allocMiB, 1e-3)]));
    console.log(`${mode}: growth vs queued at ${vms} VMs: time ~ n^${kt.toFixed(2)}, allocation ~ n^${ka.toFixed(2)}`);
  }
  for (const queued of QUEUED) {
    const pts = rows.filter((r) => r.mode === mode && r.queued === queued);
    if (pts.length < 2) continue;
    console.log(`${mode}: growth vs VMs at ${queued} queued: time ~ m^${exponent(pts.map((r) => [r.vms, r.median])).toFixed(2)}`);
  }
}
const ru = process.resourceUsage();
console.log(
  `\npeak RSS ${(ru.maxRSS / 1024).toFixed(0)} MiB; wall ${((performance.now() - wall0) / 1000).toFixed(1)} s; CPU ${((ru.userCPUTime + ru.systemCPUTime) / 1e6).toFixed(1)} s`,
);
obs.disconnect();
