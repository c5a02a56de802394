/**
 * The spot fallback figures of bench/README.md ("Spot fallback (issue 16)"):
 * `preemptible-heavy.json` on its own seed, three runs: without an outage
 * (`bench/sim-config.yml`), and with spot capacity out for an hour
 * (`bench/sim-config-spot-outage.yml`) with the fallback off and on
 * (`bench/settings/spot-fallback.yml`). For the preemptible containers
 * submitted during the outage it prints their waits and, per container, how
 * much longer each waited than the same container in the run without an
 * outage: the wait spot being out caused.
 *
 *     node --import tsx bench/spot-fallback.ts      # three simulations, a few minutes
 */
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../src/config/index.js';
import { defaultSettings, loadSettingsFile, type Settings } from '../src/config/settings.js';
import { runSimulation } from '../src/sim/engine.js';
import type { SimResult } from '../src/sim/result.js';
import { buildReport } from '../src/sim/report.js';
import { formatDuration } from '../src/sim/summary.js';
import { loadWorkload } from '../src/sim/workload.js';

const bench = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

async function run(config: string, settings: Settings = defaultSettings()): Promise<SimResult> {
  const { cluster } = loadConfigFile(bench(config));
  return runSimulation({ cluster, workload: loadWorkload(bench('workloads/preemptible-heavy.json')), settings });
}

/** Submitted to Running (to the end for one that never ran), by workload id, with whether it was preemptible and when it came (ms since the start). */
function waits(r: SimResult): Map<string, { preemptible: boolean; at: number; wait: number }> {
  const out = new Map<string, { preemptible: boolean; at: number; wait: number }>();
  for (const c of r.containers) {
    if (c.submittedAt === undefined) continue;
    out.set(c.id, { preemptible: c.preemptible === true, at: c.submittedAt - r.startedAt, wait: (c.runningAt ?? r.endedAt) - c.submittedAt });
  }
  return out;
}

const base = await run('sim-config.yml');
const runs: Array<[string, SimResult]> = [
  ['no outage', base],
  ['outage, fallback off', await run('sim-config-spot-outage.yml')],
  ['outage, fallback on', await run('sim-config-spot-outage.yml', loadSettingsFile(bench('settings/spot-fallback.yml'), { explicit: true }).settings)],
];
const outage = runs[1][1].spotOutages ?? [];
const baseWaits = waits(base);
for (const [name, r] of runs) {
  const rep = buildReport(r);
  let spot = 0;
  let onDemand = 0;
  for (const [type, t] of Object.entries(rep.cost.byType)) {
    if (type.endsWith('.preemptible')) spot += t.cost;
    else onDemand += t.cost;
  }
  let worst = 0;
  const during: number[] = [];
  for (const [id, w] of waits(r)) {
    if (!w.preemptible || !outage.some((o) => w.at >= o.from && w.at < o.until)) continue;
    during.push(w.wait);
    worst = Math.max(worst, w.wait - (baseWaits.get(id)?.wait ?? 0));
  }
  during.sort((a, b) => a - b);
  const rank = (p: number): number => during[Math.max(0, Math.ceil(p * during.length) - 1)] ?? 0;
  const q = rep.queueWait;
  console.log(
    `${name}: cost $${rep.cost.total.toFixed(2)} (spot $${spot.toFixed(2)}, on-demand $${onDemand.toFixed(2)}); ` +
      `wait p50 ${formatDuration(q.p50Ms)} p95 ${formatDuration(q.p95Ms)} max ${formatDuration(q.maxMs)}; ` +
      `${during.length} preemptible arrivals during the outage: p50 ${formatDuration(rank(0.5))} p95 ${formatDuration(rank(0.95))} max ${formatDuration(rank(1))}, ` +
      `at most ${formatDuration(worst)} longer than without the outage; ` +
      `fallbacks ${rep.fallback ? `${rep.fallback.containers}, extra cost $${rep.fallback.extraCostDollars.toFixed(2)}` : '-'}`,
  );
}
