/**
 * What the suggester's simulated runs cost (`src/suggest/`; docs/operators.md,
 * "Suggestions"): the wall time of one baseline run over the horizon, and of
 * the whole work for one waiting container (the baseline and each candidate
 * run), on live states of N containers ahead of it and M running.
 *
 *   node --import tsx bench/suggest.ts [--runs N] [--containers N] [--sizes 100x100,1000x100] [--no-price-cap]
 *
 * Per size (AHEADxRUNNING): `--runs` baseline runs alone (default 3; the
 * first in the process runs cold), then `--containers` containers' whole
 * work (default 1).
 * The defaults take about 90 s of CPU; `--sizes 1000x1000 --runs 1
 * --containers 0` (a busier cloud's baseline) about 40 s more, and its
 * whole container some minutes.
 *
 * The live state: `bench/sim-config.yml`'s instance types with MaxInstances
 * at the running count, so the container waits on the MaxInstances quota
 * (two candidates: MaxInstances raised by what the containers ahead need,
 * and by half that); by default an idle VM of a type MaximumPriceFactor
 * leaves out adds the third, MaximumPriceFactor, as many as a container
 * gets. Containers of 1-16 VCPUs (1, 2 or 3 GiB each) and three images whose learnt runtimes
 * are about 10 min, 45 min and 3 h; the running ones started up to 2 h ago;
 * boots learnt at 60-120 s. Fixed seed.
 *
 * It drives a real `Suggester` (one round for the one container past
 * `Suggestions.After`) over the default settings but MaxCPUFraction 1, so
 * no rest is taken: the round's wall time is the work. Each simulator run
 * is the daemon's `runSimulation`, timed around the call; peak heap is the
 * simulator's own sample (every simulated minute).
 */
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { Random } from '../drivers/lame/random.js';
import type { Container } from '../src/arvados/types.js';
import { holdProcessOpen, systemClock } from '../src/clock/index.js';
import { copyCluster } from '../src/config/copy.js';
import { loadConfigFile } from '../src/config/index.js';
import { defaultSettings } from '../src/config/settings.js';
import { BootTimes } from '../src/estimate/boot.js';
import { RuntimeHistory } from '../src/estimate/history.js';
import { silentLogger } from '../src/log.js';
import { chooseInstanceTypes, instanceResourcesNeeded, rejectReason } from '../src/queue/instance-types.js';
import { Interner } from '../src/queue/interner.js';
import type { Blocker } from '../src/scheduler/blocker.js';
import type { QueueEntry } from '../src/scheduler/interfaces.js';
import type { QueueViewEntry } from '../src/scheduler/pass-view.js';
import type { WhyBuilder } from '../src/scheduler/why.js';
import { runSimulation, type SimOptions } from '../src/sim/engine.js';
import type { SimResult } from '../src/sim/result.js';
import { TARGET_ID } from '../src/suggest/live-workload.js';
import { Suggester } from '../src/suggest/suggester.js';

const MIN = 60_000;
const GiB = 2 ** 30;
const IMAGES: Array<[image: string, typicalMs: number]> = [
  ['img-short+1', 10 * MIN],
  ['img-mid+2', 45 * MIN],
  ['img-long+3', 180 * MIN],
];
const VCPUS = [1, 1, 2, 2, 4, 4, 8, 16];
/** GiB per VCPU: sizes come in a few steps, as requests do (a real backlog has a few dozen shapes). */
const RAM_PER_VCPU = [1, 2, 3];

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const RUNS = Number(flag('--runs') ?? 3);
const CONTAINERS = Number(flag('--containers') ?? 1);
const SIZES = (flag('--sizes') ?? '100x100,1000x100').split(',').map((s) => s.split('x').map(Number) as [number, number]);
const PRICE_CAP = !args.includes('--no-price-cap');

const base = loadConfigFile(fileURLToPath(new URL('sim-config.yml', import.meta.url))).cluster;

/** One simulator run as the bench saw it. */
export interface RunFigures {
  wallMs: number;
  /** The process's CPU time over the run (user + system, every thread), ms. */
  cpuMs: number;
  /** Simulated time covered, ms: the horizon unless the container started earlier. */
  simMs: number;
  started: boolean;
  peakHeapBytes: number;
}

/** One container's work: its runs, baseline first, and the round's wall and CPU time. */
export interface ContainerFigures {
  runs: RunFigures[];
  totalMs: number;
  cpuMs: number;
}

/** The live state: the queue view (running first, then waiting in scheduling order, the target last) and what the suggester reads. */
function liveState(ahead: number, running: number, seed: number) {
  const rnd = new Random(seed);
  const cluster = copyCluster(base, { Containers: { ...base.Containers, CloudVMs: { ...base.Containers.CloudVMs, MaxInstances: running } } });
  const now = systemClock.now();
  let seq = 0;
  const interned = new Interner();
  const make = (state: Container['state'], priority: number, vcpus = VCPUS[Math.floor(rnd.next() * VCPUS.length)]): QueueEntry => {
    const container: Container = {
      uuid: `zzzzz-dz642-${String(seq++).padStart(15, '0')}`,
      state,
      priority,
      runtime_constraints: { vcpus, ram: vcpus * RAM_PER_VCPU[Math.floor(rnd.next() * RAM_PER_VCPU.length)] * GiB },
      scheduling_parameters: {},
      container_image: IMAGES[Math.floor(rnd.next() * IMAGES.length)][0],
      created_at: new Date(now - 3 * 3_600_000).toISOString(),
    };
    // Shared objects among equal shapes, as the daemon's queue hands them out.
    return {
      container,
      instanceTypes: interned.types(chooseInstanceTypes(cluster, container)),
      instanceResources: interned.resources(instanceResourcesNeeded(cluster, container)),
      firstSeenAt: now - 2 * MIN + seq,
    };
  };
  const runningEntries = Array.from({ length: running }, () => make('Running', 500));
  const startedAt = new Map(runningEntries.map((e) => [e.container.uuid, now - Math.floor(rnd.next() * 120 * MIN)]));
  const waiting = Array.from({ length: ahead }, () => make('Locked', 1 + Math.floor(rnd.next() * 1000))).sort((a, b) => b.container.priority - a.container.priority);
  // The target (4 VCPUs) comes last and has waited longest; only it gets a blocker, so the round looks at it alone.
  const target = make('Queued', 0, 4);
  target.container.priority = 1;
  target.firstSeenAt = now - 10 * MIN;
  const view: QueueViewEntry[] = [...runningEntries, ...waiting, target].map((entry, listIndex) => ({ entry, schedulingStatus: '', listIndex }));

  const runtimes = new RuntimeHistory();
  for (const [image, typical] of IMAGES) {
    for (const vcpus of new Set(VCPUS)) {
      for (let i = 0; i < 20; i++) runtimes.record({ image, vcpus, ram: vcpus * 2 * GiB }, typical * (0.5 + rnd.next()), now - i * MIN);
    }
  }
  const boots = new BootTimes();
  for (const t of Object.keys(cluster.InstanceTypes)) for (let i = 0; i < 5; i++) boots.record(t, 60_000 + rnd.next() * 60_000);

  let vcpus = 0;
  let ram = 0;
  for (const w of waiting) (vcpus += w.container.runtime_constraints.vcpus), (ram += w.container.runtime_constraints.ram);
  const blocker: Blocker = { reason: 'quota', position: ahead + 1, bucket: 'MaxInstances', in_use: running, limit: running, ahead: { containers: ahead, vcpus, ram_bytes: ram } };
  if (PRICE_CAP) {
    // The cheapest type that fits but is left out by MaximumPriceFactor, an idle VM of it there.
    const out = Object.values(cluster.InstanceTypes)
      .filter((t) => !t.Preemptible && !target.instanceTypes.includes(t) && rejectReason(t, target.instanceResources, target.container) === undefined)
      .sort((a, b) => a.Price - b.Price)[0];
    if (out) blocker.price_cap = { maximum_price_factor: cluster.Containers.MaximumPriceFactor, types: [{ name: out.Name, price: out.Price, now: 'idle instance' }] };
  }
  const byUuid = new Map(view.map((v) => [v.entry.container.uuid, v.entry.container]));
  return { cluster, view, startedAt, runtimes, boots, blocker, target: target.container.uuid, get: (uuid: string) => byUuid.get(uuid) };
}

/**
 * One round of a fresh Suggester over the live state: the one container's
 * baseline and candidate runs, or with `baselineOnly` the baseline alone
 * (the round is stopped once it is done, as the daemon's stop would).
 */
export async function measureContainer(ahead: number, running: number, opts: { baselineOnly?: boolean; seed?: number } = {}): Promise<ContainerFigures> {
  const seed = opts.seed ?? 7;
  const stop = new AbortController();
  const s = liveState(ahead, running, seed);
  const runs: RunFigures[] = [];
  const simulate = async (o: SimOptions): Promise<SimResult> => {
    const t0 = performance.now();
    const r = await runSimulation(o);
    const wallMs = performance.now() - t0;
    const t = r.containers.find((c) => c.id === TARGET_ID);
    if (opts.baselineOnly) stop.abort();
    runs.push({ wallMs, cpuMs: r.host.cpuUserMs + r.host.cpuSystemMs, simMs: r.endedAt - r.startedAt, started: t?.runningAt !== undefined, peakHeapBytes: r.host.peakHeapBytes });
    return r;
  };
  const targetIndex = s.view.length - 1;
  const suggester = new Suggester({
    clock: systemClock,
    logger: silentLogger(),
    // No rest between runs: the round's wall time is the work.
    settings: { ...defaultSettings().Suggestions, Enable: true, MaxCPUFraction: 1 },
    cluster: s.cluster,
    scheduler: {
      queueView: () => s.view,
      why: () => ({ blockerAt: (i: number) => (i === targetIndex ? s.blocker : undefined) }) as unknown as WhyBuilder,
    },
    pool: { running: () => s.startedAt, atCapacity: () => false },
    queue: { get: s.get },
    estimator: { runtimes: s.runtimes, boots: s.boots },
    simulate,
  });
  // The system clock's timers (the rests, of 0 ms here) are unref'd: something must keep the process up meanwhile, as the daemon's own hold does.
  const release = holdProcessOpen();
  try {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    await suggester.round(stop.signal);
    const cpu = process.cpuUsage(cpu0);
    return { runs, totalMs: performance.now() - t0, cpuMs: (cpu.user + cpu.system) / 1000 };
  } finally {
    release();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];
const max = (xs: number[]): number => Math.max(...xs);
const s1 = (ms: number): string => (ms / 1000).toFixed(1);

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(
    `Suggestions: per size ${RUNS} baseline runs, then ${CONTAINERS} container(s)' whole work, horizon ${defaultSettings().Suggestions.Horizon / MIN} min${PRICE_CAP ? '' : ', no price cap'}`,
  );
  console.log('| ahead | running | baseline s (median / max) | baseline CPU s | container s (median / max) | container CPU s | last container: each run s (simulated min) | peak heap MiB |');
  console.log('|---:|---:|---:|---:|---:|---:|---|---:|');
  for (const [ahead, running] of SIZES) {
    // Baselines first: the first run in the process is the cold one (its max), and the containers' whole work comes warm, as in a daemon that has run some.
    const baselines: RunFigures[] = [];
    for (let i = 0; i < RUNS; i++) baselines.push((await measureContainer(ahead, running, { baselineOnly: true })).runs[0]);
    const whole: ContainerFigures[] = [];
    for (let i = 0; i < CONTAINERS; i++) whole.push(await measureContainer(ahead, running));
    const walls = baselines.map((r) => r.wallMs);
    const each = whole.length ? whole.at(-1)!.runs.map((r) => `${s1(r.wallMs)} (${Math.round(r.simMs / MIN)}${r.started ? '*' : ''})`).join(', ') : '-';
    const totals = whole.map((c) => c.totalMs);
    const heap = max([...baselines, ...whole.flatMap((c) => c.runs)].map((r) => r.peakHeapBytes)) / 2 ** 20;
    console.log(
      `| ${ahead.toLocaleString('en')} | ${running.toLocaleString('en')} | ${s1(median(walls))} / ${s1(max(walls))} | ${s1(median(baselines.map((r) => r.cpuMs)))} | ` +
        `${whole.length ? `${s1(median(totals))} / ${s1(max(totals))} | ${s1(median(whole.map((c) => c.cpuMs)))}` : '- | -'} | ${each} | ${heap.toFixed(0)} |`,
    );
  }
  console.log("CPU: the process's, median; each run: baseline first, then the candidates; * the container started (the run stops there)");
}
