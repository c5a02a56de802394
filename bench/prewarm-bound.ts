/**
 * How far pre-warming could cut the wait of `workflow.json`'s children if
 * it also forecast when each stage ends, from the runtimes of the stage's
 * running children (bench/README.md, "Warm pools and pre-warming").
 *
 * Pre-warming starts VMs for a runner's first burst of children when the
 * runner appears, and for a stage's first burst when the stage before it has
 * ended. In `workflow.json` a runner submits its "process" and "merge"
 * stages on a timetable: 30 s after the scatter (then the process stage)
 * would have ended had nothing waited. Those 580 children get no VM ahead.
 * This bench asks what a forecaster of the stage's end would give them, in
 * the best case: it knows each stage's true runtime distribution (the
 * workload's log-normal, where the dispatcher would have to learn it) and
 * the learnt offset of the next stage's arrival from the previous stage's
 * last end (the median over earlier runners).
 *
 * It runs the workload with pre-warming off and on (the README's settings).
 * Then, for each later stage of each runner, it steps through the on-run's
 * timeline every 10 s and starts the stage's VMs at the first moment when
 * the odds that the stage arrives within a boot plus `Lead` reach `q`. The
 * odds: every child of the earlier stages has ended by then (independent
 * runs, each conditioned on how long it has run; one not started yet is
 * taken as starting now). A VM then boots for the on-run's measured boot
 * times (spread over the stage's children by quantile) and idles, at its
 * type's price, until the stage arrives. A child whose VM is ready waits 0
 * s (the best case); a stage not forecast before it arrives keeps the
 * on-run's waits. First-burst children keep the on-run's waits.
 *
 * Printed per q: the children's median and p95 wait, the extra cost against
 * off (the on-run's extra plus the VMs' idle time ahead), and the share of
 * later-stage children with a VM ready on arrival. The "oracle" row starts
 * every VM exactly one boot + Lead before its stage arrives.
 *
 *     node --import tsx bench/prewarm-bound.ts      # two simulations, about a minute
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../src/config/index.js';
import { defaultSettings, loadSettingsFile } from '../src/config/settings.js';
import { parseDuration } from '../src/config/units.js';
import type { Spread } from '../src/estimate/stats.js';
import { normalQuantile } from '../src/estimate/survival.js';
import { runEndOdds } from '../src/placement/warm-odds.js';
import { nearestRank as rank } from '../src/sim/accuracy.js';
import { runSimulation } from '../src/sim/engine.js';
import { buildReport } from '../src/sim/report.js';
import type { ContainerOutcome, SimResult } from '../src/sim/result.js';
import { loadWorkload, type SimContainer } from '../src/sim/workload.js';

const bench = (path: string): string => fileURLToPath(new URL(path, import.meta.url));
const HOUR = 3_600_000;
const STEP_MS = 10_000;
const WORKLOAD = bench('workloads/workflow.json');

const { cluster } = loadConfigFile(bench('sim-config.yml'));
const prewarm = loadSettingsFile(bench('settings/prewarm.yml'), { explicit: true }).settings;
const lead = prewarm.PreWarm.Lead;

/** The true runtime spread of each child group (p10, median, p90 of its log-normal), in group order. */
function groupSpreads(): Spread[] {
  const spec = JSON.parse(readFileSync(WORKLOAD, 'utf8')) as { groups: Array<{ supervisor?: { children: Array<{ runtime: unknown }> } }> };
  const children = spec.groups.find((g) => g.supervisor)?.supervisor?.children ?? [];
  const z = normalQuantile(0.9);
  return children.map(({ runtime }) => {
    if (typeof runtime === 'string') {
      const ms = parseDuration(runtime);
      return { low: ms, typical: ms, high: ms };
    }
    const { median, sigma } = (runtime as { lognormal: { median: string; sigma: number } }).lognormal;
    const m = parseDuration(median);
    return { low: m * Math.exp(-z * sigma), typical: m, high: m * Math.exp(z * sigma) };
  });
}

interface Stage {
  children: ContainerOutcome[];
  arrival: number;
  spread: Spread;
}

/** Each runner's stages (children grouped by their offset from the runner's start), in the order the runners started. */
function stagesOf(r: SimResult, runners: readonly SimContainer[], spreads: readonly Spread[]): Stage[][] {
  const byId = new Map(r.containers.map((c) => [c.id, c]));
  const out: Array<{ start: number; stages: Stage[] }> = [];
  for (const runner of runners) {
    const start = byId.get(runner.id)?.runningAt;
    if (start === undefined || !runner.children) continue;
    const offsets = [...new Set(runner.children.map((c) => c.at))].sort((a, b) => a - b);
    const stages = offsets.map((at, i): Stage => {
      const children = runner.children!.filter((c) => c.at === at).map((c) => byId.get(c.id)!);
      return { children, arrival: Math.min(...children.map((c) => c.submittedAt ?? Infinity)), spread: spreads[i] };
    });
    out.push({ start, stages });
  }
  return out.sort((a, b) => a.start - b.start).map((o) => o.stages);
}

/** Boot times the on-run measured, sorted (create to first ready). */
function bootTimes(r: SimResult): number[] {
  const out: number[] = [];
  for (const vm of r.ledger.vms.values()) {
    const ready = r.readyAt.get(vm.id);
    if (ready !== undefined) out.push(ready - vm.createdAt);
  }
  return out.sort((a, b) => a - b);
}

/** The odds that every child of `earlier` has ended by `at`, seen from `now`. */
function allEndedBy(earlier: readonly Stage[], now: number, at: number): number {
  let p = 1;
  for (const s of earlier) {
    for (const c of s.children) {
      if (c.finalAt !== undefined && c.finalAt <= now) continue;
      const started = c.runningAt !== undefined && c.runningAt <= now;
      p *= runEndOdds(s.spread, started ? now - c.runningAt! : 0)(at - now);
      if (p === 0) return 0;
    }
  }
  return p;
}

const lastEnd = (stages: readonly Stage[]): number => Math.max(...stages.flatMap((s) => s.children.map((c) => c.finalAt ?? Infinity)));
const wait = (c: ContainerOutcome): number => (c.runningAt ?? Infinity) - (c.submittedAt ?? 0);

/** `q`: the forecast's confidence; 'oracle': start each stage's VMs one boot + Lead before it arrives. */
function bound(runs: readonly Stage[][], boots: readonly number[], q: number | 'oracle'): { waits: number[]; idleCost: number; ready: number; later: number } {
  const waits: number[] = [];
  const offsets: number[][] = [];
  const bootMs = rank(boots, 0.5);
  let idleCost = 0;
  let ready = 0;
  let later = 0;
  for (const stages of runs) {
    for (const c of stages[0]?.children ?? []) waits.push(wait(c));
    for (let j = 1; j < stages.length; j++) {
      const stage = stages[j];
      const earlier = stages.slice(0, j);
      later += stage.children.length;
      const seen = (offsets[j] ??= []);
      const offset = seen.length >= 2 ? [...seen].sort((a, b) => a - b)[Math.floor((seen.length - 1) / 2)] : undefined;
      let start = Infinity;
      if (q === 'oracle') start = stage.arrival - bootMs - lead;
      else if (offset !== undefined) {
        for (let t = earlier.at(-1)!.arrival; t < stage.arrival; t += STEP_MS) {
          if (allEndedBy(earlier, t, t + bootMs + lead - offset) >= q) {
            start = t;
            break;
          }
        }
      }
      seen.push(stage.arrival - lastEnd(earlier));
      stage.children.forEach((c, k) => {
        if (start >= stage.arrival) {
          waits.push(wait(c));
          return;
        }
        const at = start + rank(boots, (k + 0.5) / stage.children.length);
        waits.push(Math.max(0, at - stage.arrival));
        if (at <= stage.arrival) ready++;
        idleCost += (Math.max(0, stage.arrival - at) * (c.lowerBoundPrice ?? 0)) / HOUR;
      });
    }
  }
  return { waits: waits.sort((a, b) => a - b), idleCost, ready, later };
}

const load = () => loadWorkload(WORKLOAD);
const off = buildReport(await runSimulation({ cluster, workload: load(), settings: defaultSettings() }));
const onRun = await runSimulation({ cluster, workload: load(), settings: prewarm });
const on = buildReport(onRun);
const runs = stagesOf(onRun, load().containers, groupSpreads());
const boots = bootTimes(onRun);
const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const offCost = off.cost.total;
console.log(`off: children's wait p50 ${s(off.childrenQueueWait.p50Ms)} p95 ${s(off.childrenQueueWait.p95Ms)}, cost $${offCost.toFixed(2)}; the target is a p50 of ${s(off.childrenQueueWait.p50Ms / 2)} for at most $${(offCost * 1.05).toFixed(2)}`);
console.log(`on (first bursts only): p50 ${s(on.childrenQueueWait.p50Ms)} p95 ${s(on.childrenQueueWait.p95Ms)}, cost $${on.cost.total.toFixed(2)} (${pct(on.cost.total)}); boot p50 ${s(rank(boots, 0.5))}`);
console.log('forecast q | children p50 | p95 | extra cost | later-stage children with a VM ready on arrival');
for (const q of [0.9, 0.7, 0.5, 0.3, 0.2, 0.1, 0.05, 'oracle'] as const) {
  const b = bound(runs, boots, q);
  const cost = on.cost.total + b.idleCost;
  console.log(`${q} | ${s(rank(b.waits, 0.5))} | ${s(rank(b.waits, 0.95))} | $${(cost - offCost).toFixed(2)} (${pct(cost)}) | ${b.ready} of ${b.later}`);
}

function pct(cost: number): string {
  const d = ((cost - offCost) / offCost) * 100;
  return `${d >= 0 ? '+' : ''}${d.toFixed(1)} %`;
}
