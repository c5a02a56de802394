/** The chaos run's figures as text, as `npm run bench:chaos` prints them. */
import type { ChaosFigures } from './chaos.js';
import { formatDuration } from './summary.js';

const MiB = 1024 * 1024;

/** The figures as the bench script prints them. */
export function formatChaosFigures(f: ChaosFigures): string {
  const calls = Object.entries(f.cloudCalls)
    .map(([kind, s]) => {
      const errs = Object.entries(s.errors)
        .map(([k, n]) => `${k} ${n}`)
        .join(', ');
      const failed = Object.values(s.errors).reduce((a, b) => a + b, 0);
      return `  ${kind}: ${s.calls} calls, ${failed} failed (${s.calls ? ((100 * failed) / s.calls).toFixed(1) : '0'}%)${errs ? `: ${errs}` : ''}`;
    })
    .join('\n');
  const heap = f.host.heap;
  const mib = (b: number | undefined): string => (b === undefined ? '?' : `${(b / MiB).toFixed(1)} MiB`);
  const heapLine =
    heap.length === 0
      ? 'heap: not measured'
      : `heap used after gc: start ${mib(heap[0].bytes)}, end ${mib(f.host.heapAtEnd)} (dispatcher still running), ${mib(f.host.heapAfterStop)} once it stopped; ` +
        `hourly min ${mib(Math.min(...heap.map((h) => h.bytes)))} / max ${mib(Math.max(...heap.map((h) => h.bytes)))} over ${heap.length} samples`;
  const c = f.containers;
  return [
    `seed ${f.seed}; digest ${f.digest}; ${f.finished ? 'finished' : 'NOT finished'} after ${formatDuration(f.simulatedMs)} simulated, ${(f.host.wallMs / 1000).toFixed(1)} s wall`,
    `containers: ${c.total} (${c.complete} Complete, ${c.cancelled} Cancelled, ${c.neverSubmitted} never submitted${c.other ? `, ${c.other} OTHER` : ''})`,
    ...f.cancelReasons.slice(0, 8).map(([r, n]) => `  ${n} x ${r}`),
    `attempts: ${f.locks} locks, ${f.crunchRunStarts} crunch-run starts (${f.startedAgain} containers started more than once); ${f.crunchRunsLost} crunch-runs crashed or went with their VM`,
    `VMs: ${f.vms.created} created, ${f.vms.reclaimed} reclaimed by the provider, ${f.vms.neverReady} never ready; most live at once ${f.maxLiveVMs} (MaxInstances ${f.limits.maxInstances}, quota ${f.limits.quota})`,
    `cloud calls:\n${calls}`,
    `controller: ${f.controller.requests} requests; 503s: ${f.controller.refusedInOutage} in ${f.controller.outages} outages, ${f.controller.refusedInOverload} in ${f.controller.overloads} overloads`,
    `dispatcher restarts: ${f.restarts}; crunch-runs alive at a restart: ${f.acrossRestarts.containers}, then ${f.acrossRestarts.complete} Complete, ${f.acrossRestarts.cancelled} Cancelled`,
    `last VM gone ${formatDuration(f.drainMs)} after the last container ended`,
    `clock timers left after the last dispatcher stopped: ${f.timersLeft}`,
    `errors logged: ${f.errorsLogged.map(([m, n]) => `${n} x ${m}`).join(', ') || 'none'}`,
    `cancels not sent, the container having ended since the poll: ${f.cancelsNotSent.map(([s, n]) => `${n} ${s}`).join(', ') || 'none'}`,
    heapLine,
  ].join('\n');
}
