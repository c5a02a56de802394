/**
 * The simulator's report in words: the summary `simulate` prints on stdout
 * (the JSON report itself is `report.ts`).
 */
import type { SimReport } from './report.js';
import type { EstimateAccuracy } from './accuracy.js';

/** `1h02m`, `3m10s`, `12.5s`, `800ms`. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Math.round(ms / 100) / 10}s`;
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  return `${m}m${String(sec).padStart(2, '0')}s`;
}

function dollars(x: number): string {
  const sign = x < 0 ? '-' : '';
  return `${sign}$${Math.abs(x).toFixed(2)}`;
}

function pct(part: number, whole: number): string {
  return whole > 0 ? `${((part / whole) * 100).toFixed(1)}%` : '-';
}

/** The human summary printed on stdout. */
export function formatSummary(rep: SimReport): string {
  const c = rep.cost;
  const lines: string[] = [];
  const h = rep.host;
  lines.push(
    `Simulated "${rep.workload.name}" (seed ${rep.workload.seed}): ${rep.workload.containers} containers, ` +
      `${formatDuration(rep.simulatedMs)} simulated in ${(h.wallMs / 1000).toFixed(1)} s wall ` +
      `(CPU ${((h.cpuUserMs + h.cpuSystemMs) / 1000).toFixed(1)} s, peak RSS ${Math.round(h.peakRssBytes / 2 ** 20)} MiB).`,
  );
  if (!rep.finished) lines.push('NOT FINISHED: the simulated-time limit came first.');
  const un = Object.entries(rep.containers.unfinished).map(([s, n]) => `${n} ${s}`);
  lines.push(
    `Containers: ${rep.containers.complete} complete (${rep.containers.nonzeroExit} with a nonzero exit), ` +
      `${rep.containers.cancelled} cancelled, ${rep.containers.neverSubmitted} never submitted` +
      (un.length > 0 ? `, unfinished: ${un.join(', ')}` : '') +
      '.',
  );
  lines.push(
    `Cost: ${dollars(c.total)}; lower bound ${dollars(c.lowerBound)} (cost/bound ${c.ratio.toFixed(3)}). ` +
      `Extra: boot ${dollars(c.extra.boot)} (${pct(c.extra.boot, c.total)}), idle ${dollars(c.extra.idle)} (${pct(c.extra.idle, c.total)}), ` +
      `packing ${dollars(c.extra.packing)} (${pct(c.extra.packing, c.total)}), extra run time ${dollars(c.extra.extraRunTime)}.`,
  );
  const q = rep.queueWait;
  lines.push(`Queue wait (Queued to Running, ${q.count} containers): p50 ${formatDuration(q.p50Ms)}, p95 ${formatDuration(q.p95Ms)}, max ${formatDuration(q.maxMs)}.`);
  const cq = rep.childrenQueueWait;
  if (cq.count > 0) lines.push(`Workflow children's queue wait (${cq.count}): p50 ${formatDuration(cq.p50Ms)}, p95 ${formatDuration(cq.p95Ms)}, max ${formatDuration(cq.maxMs)}.`);
  const byStage = Object.entries(rep.childrenQueueWaitByStage ?? {});
  if (byStage.length > 0) lines.push(`  by stage: ${byStage.map(([k, w]) => `${k} (${w.count}) p50 ${formatDuration(w.p50Ms)}, p95 ${formatDuration(w.p95Ms)}`).join('; ')}.`);
  const sc = rep.spendCap;
  if (sc) {
    lines.push(
      `Spending cap ${sc.enabled ? 'on' : 'off'} (hard ${dollars(sc.cap)}/h, soft ${dollars(sc.soft)}/h): burn max ${dollars(sc.maxBurn)}/h, mean ${dollars(sc.meanBurn)}/h; ` +
        `${sc.minutesOver} of ${sc.minutes} minutes over the hard level, ${sc.minutesOverSoft} over the soft one.`,
    );
  }
  const cap = rep.capacity;
  if (cap) {
    lines.push(
      `Created ahead of work: ${cap.created.warm_pool} by warm pools, ${cap.created.prewarm} pre-warmed ` +
        `(${cap.prewarmUsed} used, ${cap.prewarmWasted} wasted, costing ${dollars(cap.prewarmWastedCost)}).`,
    );
  }
  const e = rep.estimates;
  const errs = (x: EstimateAccuracy['all']): string =>
    `median ${pct(x.median, 1)}, p90 ${pct(x.p90, 1)} (naive ${pct(x.naiveMedian, 1)}, ${pct(x.naiveP90, 1)}; ${pct(x.withinBand, 1)} within the band)`;
  lines.push(`Start estimates (${e.containers} containers): error when first seen ${errs(e.firstSeen)}; over all ${e.all.count} estimates ${errs(e.all)}.`);
  lines.push(
    `Makespan ${formatDuration(rep.makespanMs)}. VMs: ${rep.vms.created} created (peak ${rep.vms.peak} at once, ${rep.vms.neverReady} never ready, ` +
      `median boot ${formatDuration(rep.vms.bootMedianMs)}), ${rep.vms.vmHours.toFixed(1)} VM-hours.`,
  );
  const calls = Object.entries(rep.cloudCalls).map(([k, v]) => {
    const errs = Object.entries(v.errors).map(([e, n]) => `${n} ${e}`);
    return `${k} ${v.calls}${errs.length > 0 ? ` (${errs.join(', ')})` : ''}`;
  });
  lines.push(`Cloud API calls: ${calls.join(', ')}.`);
  const w = rep.warmUp;
  if (w.imagePulls + w.coldInputs > 0) {
    lines.push(`Image pulls: ${w.imagePulls} taking ${formatDuration(w.imagePullMs)} in all; cold input reads: ${w.coldInputs} taking ${formatDuration(w.coldInputMs)}.`);
  }
  const d = rep.drain;
  const st = rep.idleStretch;
  if (st) lines.push(`Idle stretch: ${st.kept} idle VMs kept to the end of their paid period, ${st.reused} of them got a container meanwhile.`);
  if (d) lines.push(`Drain to save: ${d.emptied} VMs emptied; ${d.tookDraining} containers started on a draining VM (nothing else ready); ${d.waited} waited for a new VM because of drain.`);
  const rc = rep.reclaims;
  if (rc) lines.push(`Reclaims: ${rc.vms} VMs taken back with ${rc.containers} containers on them, ${rc.containerHoursLost} container-hours lost; ${rc.escalations} containers sent on demand after reclaims, ${rc.longRuntimeOnDemand} for their expected runtime.`);
  const f = rep.fallback;
  if (f) lines.push(`Spot fallback: ${f.containers} containers ran on demand, costing ${dollars(f.extraCostDollars)} more than at their spot types' prices.`);
  const o = rep.spotOutageArrivals;
  if (o) lines.push(`Preemptible containers submitted while spot was out: ${o.count}, queue wait p50 ${formatDuration(o.p50Ms)}, p95 ${formatDuration(o.p95Ms)}, max ${formatDuration(o.maxMs)}.`);
  for (const r of rep.cancelled.slice(0, 10)) lines.push(`Cancelled x${r.count}: ${r.reason} (e.g. ${r.examples[0].id} ${r.examples[0].uuid})`);
  if (rep.cancelled.length > 10) lines.push(`... and ${rep.cancelled.length - 10} more cancellation reasons (see the report).`);
  for (const n of rep.notes) lines.push(`Note: ${n}`);
  return lines.join('\n') + '\n';
}
