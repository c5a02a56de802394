/**
 * Micro-benchmark of the start-time estimator (`src/estimate/`): one
 * `Estimator.update` (read the pass's view and the pool, learn, forecast) at 10k queued / 1k VMs and 100k queued /
 * 10k VMs, MaxInstances at the VM count (so the exact part has to wait for
 * running containers and the coarse part works through the backlog).
 *
 *   node --import tsx bench/estimate-forecast.ts [--runs N]
 *
 * The estimator runs after a pass, at most once a second, never inside the
 * timed pass of `npm run bench:pass`; this figure is its own cost.
 */
import { performance } from 'node:perf_hooks';
import { Random } from '../drivers/lame/random.js';
import type { ContainerState } from '../src/arvados/types.js';
import { ManualClock } from '../src/clock/index.js';
import { loadConfigText } from '../src/config/index.js';
import type { Cluster, InstanceType } from '../src/config/types.js';
import { Estimator } from '../src/estimate/estimator.js';
import { crunchRunRecords } from '../src/scheduler/deps.js';
import type { QueueEntry } from '../src/scheduler/interfaces.js';
import { PassView } from '../src/scheduler/pass-view.js';
import { BenchPool, BenchQueue, GiB, makeEntry, type WorkerSpec } from './fakes.js';

const args = process.argv.slice(2);
const runsArg = args.indexOf('--runs');
const RUNS = runsArg >= 0 ? Number(args[runsArg + 1]) : 15;

function cluster(maxInstances: number): Cluster {
  const lines = ['Clusters:', '  zzzzz:', '    Containers:', '      MaximumPriceFactor: 1.5', '      CloudVMs:', `        MaxInstances: ${maxInstances}`, '    InstanceTypes:'];
  for (const [fam, ramPer, pricePer] of [
    ['c', 2, 0.042],
    ['m', 4, 0.05],
  ] as const) {
    for (const v of [1, 2, 4, 8, 12, 16, 24, 32, 48, 64]) {
      lines.push(`      ${fam}${v}: {VCPUs: ${v}, RAM: ${v * ramPer}GiB, IncludedScratch: ${v * 32}GiB, Price: ${(v * pricePer).toFixed(3)}}`);
    }
  }
  return loadConfigText(lines.join('\n') + '\n').cluster;
}

async function run(queued: number, vms: number): Promise<{ update: number[]; exact: number }> {
  const rnd = new Random(7 + queued + vms);
  const r = (): number => rnd.next();
  const c = cluster(vms);
  const clock = new ManualClock();
  const t0 = clock.now() - 3_600_000;
  const entries: QueueEntry[] = [];
  const specs: WorkerSpec[] = [];
  let seq = 0;
  const uuid = (): string => `zzzzz-dz642-${String(seq++).padStart(15, '0')}`;
  const need = (): { vcpus: number; ram: number; scratch: number } => {
    const vcpus = [1, 1, 1, 2, 2, 4, 8, 16][Math.floor(r() * 8)];
    return { vcpus, ram: Math.round(vcpus * 1.5 * GiB), scratch: vcpus * 8 * GiB };
  };
  for (let i = 0; i < vms; i++) {
    const e = makeEntry(c, uuid(), 'Running', 500, need(), t0 + seq);
    const type: InstanceType = e.instanceTypes[0];
    const state = r() < 0.9 ? 'running' : 'booting';
    if (state === 'running') entries.push(e);
    specs.push({ type, state, containers: state === 'running' ? [e.container.uuid] : [] });
  }
  for (let i = 0; i < queued; i++) {
    const state: ContainerState = r() < 0.9 ? 'Locked' : 'Queued';
    entries.push(makeEntry(c, uuid(), state, 1 + Math.floor(r() * 1000), need(), t0 + seq));
  }
  const queue = new BenchQueue(entries, clock.now());
  const pool = new BenchPool(specs, clock, new Set(), 0);
  const view = new PassView(queue.entries().entries, crunchRunRecords(pool));
  const est = new Estimator({ queue, pool, cluster: c, clock });
  // Some history, so the runtimes come from samples.
  for (let i = 0; i < 500; i++) est.runtimes.record({ image: 'd41d8cd98f00b204e9800998ecf8427e+0', vcpus: [1, 2, 4, 8, 16][i % 5], ram: 0 }, (5 + (i % 30)) * 60_000, clock.now() - (500 - i) * 1000);
  const update: number[] = [];
  let exact = 0;
  for (let i = 0; i < RUNS + 3; i++) {
    await clock.advance(1000);
    const a = performance.now();
    est.update(view, 0);
    const b = performance.now();
    if (i >= 3) update.push(b - a);
    exact = Math.min(2000, est.snapshot()!.size);
  }
  return { update: update.sort((x, y) => x - y), exact };
}

const median = (xs: number[]): number => xs[Math.floor(xs.length / 2)];
console.log('| queued | VMs | exact | update median ms | update max ms |');
console.log('|---:|---:|---:|---:|---:|');
for (const [q, v] of [
  [10_000, 1_000],
  [100_000, 10_000],
]) {
  const res = await run(q, v);
  console.log(`| ${q.toLocaleString('en')} | ${v.toLocaleString('en')} | ${res.exact} | ${median(res.update).toFixed(1)} | ${res.update.at(-1)!.toFixed(1)} |`);
}
