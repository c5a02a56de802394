/**
 * What the real worker pool's reads cost a scheduling pass, which calls each
 * once: `instances()` (every worker's view; the management API's list too),
 * `running()` (every crunch-run process) and `countWorkers()`, with 1k and
 * 10k running workers holding 1.5 containers each on average. `running()`
 * keeps its map until a record changes, so it is measured twice: read again
 * with nothing changed (`running`), and just after a container was started
 * (`running, changed`: the map is rebuilt).
 * `bench/scheduling-pass.ts` runs the pass against a fake pool whose reads
 * are plain copies, so this part of a real pass is measured here.
 *
 *   node --import tsx bench/pool-instances.ts [--calls N]
 *
 * Each figure is the median and p95 of N calls (default 200) after 20 calls
 * to warm up, in ms; GC pauses inside a call count.
 */
import { performance } from 'node:perf_hooks';
import { FakeCloud, lockedContainer, ok } from '../test/worker/fake-cloud.js';

const args = process.argv.slice(2);
const callsArg = args.indexOf('--calls');
const calls = callsArg >= 0 ? Number(args[callsArg + 1]) : 200;
if (!Number.isInteger(calls) || calls < 1) throw new Error('--calls: a positive integer');

type Read = 'instances' | 'running' | 'running, changed' | 'countWorkers';
const READS: Read[] = ['instances', 'running', 'running, changed', 'countWorkers'];

async function measure(workers: number): Promise<{ containers: number; times: Record<Read, { median: number; p95: number }> }> {
  // No pacing of probes: all of them run in one round.
  const f = new FakeCloud({ MaxProbesPerSecond: 1_000_000 });
  let next = 0;
  for (let i = 0; i < workers; i++) {
    const id = f.seed();
    const lines = Array.from({ length: 1 + (i % 2) }, () => `zzzzz-dz642-${String(next++).padStart(15, '0')}`);
    f.script(id, { list: ok(`${lines.reverse().join('\n')}\n`) });
  }
  f.pool.start();
  while (!f.pool.loaded()) await f.tick(1000);
  await f.probe();
  const running = f.pool.countWorkers().running;
  if (running !== workers) throw new Error(`${running} of ${workers} workers running after the probe round`);
  const size: Record<Read, () => number> = {
    instances: () => f.pool.instances().length,
    running: () => f.pool.running().size,
    'running, changed': () => f.pool.running().size,
    countWorkers: () => f.pool.countWorkers().running,
  };
  const want: Record<Read, number> = { instances: workers, running: next, 'running, changed': next, countWorkers: workers };
  // Where the starts of `running, changed` go: every worker may run more than one.
  const ids = f.pool.instances().map((v) => v.instance);
  const times = {} as Record<Read, { median: number; p95: number }>;
  for (const read of READS) {
    const ms: number[] = [];
    for (let i = 0; i < calls + 20; i++) {
      if (read === 'running, changed') {
        // Outside the timed call: one more record, so the next read rebuilds the map.
        if (!f.pool.startContainer(ids[i % ids.length], lockedContainer(1_000_000 + i))) throw new Error('a start was declined');
        want[read]++;
      }
      const start = performance.now();
      const n = size[read]();
      const elapsed = performance.now() - start;
      if (n !== want[read]) throw new Error(`${read}() gave ${n}, not ${want[read]}`);
      if (i >= 20) ms.push(elapsed);
    }
    ms.sort((a, b) => a - b);
    times[read] = { median: ms[ms.length >> 1], p95: ms[Math.min(ms.length - 1, Math.floor(ms.length * 0.95))] };
  }
  f.pool.stop();
  return { containers: next, times };
}

console.log(`node ${process.version}; ${calls} calls per figure; median / p95 ms`);
console.log(`workers  containers  ${READS.map((r) => r.padStart(16)).join('  ')}`);
for (const workers of [1000, 10_000]) {
  const r = await measure(workers);
  const cells = READS.map((read) => `${r.times[read].median.toFixed(2)} / ${r.times[read].p95.toFixed(2)}`.padStart(16));
  console.log(`${String(workers).padStart(7)}  ${String(r.containers).padStart(10)}  ${cells.join('  ')}`);
}
process.exit(0);
