/**
 * The simulator's report: what the run cost and why, computed from the
 * engine's record (`SimResult`), as JSON and as a short text summary.
 *
 * Cost is VM time x the type's price, from the create call to the first
 * successful destroy, as billed: rounded up by the type's billing rule
 * when it has one. The lower bound is what the Complete containers would
 * cost each alone on its cheapest fitting type for exactly its ideal run time
 * (a workflow runner's includes its children's critical path). The extra is
 * split so that the parts add up to the total:
 * - boot: create call to the first successful boot probe (all of a VM's
 *   life if it never got there);
 * - idle: ready, but no container running (this includes the TimeoutIdle
 *   tail before each VM is shut down), plus the time billed beyond a VM's
 *   life where its type has a billing rule (`src/cost/billing.ts`: the rest
 *   of a minimum or of the last increment, paid for and unused);
 * - packing: ready and running containers, but paying more than those
 *   containers' cheapest types would (an oversize VM, a half-empty shared
 *   one); negative when packing several onto one VM is cheaper;
 * - extraRunTime: container run time beyond the ideal, at the cheapest price
 *   (runs later cancelled, runners waiting on children that queued).
 * Every figure except `host` is a function of config, workload and seed.
 */
import type { ReclaimSummary } from './reclaims.js';
import type { CapacityStats } from '../placement/capacity.js';
import type { Settings } from '../config/settings.js';
import { nearestRank, summariseAccuracy, type EstimateAccuracy } from './accuracy.js';
import { figuresByOwner, type OwnerFigures } from './report-owners.js';
import { spendCapFigures, type SpendCapFigures } from './report-spend-cap.js';
import type { ContainerOutcome, SimResult } from './result.js';
import type { TimelineSample } from './plot.js';
import { billedMs } from '../cost/billing.js';
import type { StretchStats } from '../worker/idle-stretch.js';
import { type FallbackFigures, outageArrivalWaits } from './report-spot.js';
import { type WaitSummary, waitSummary } from './accuracy.js';
import { compareCodeUnits } from '../compare.js';

export type { WaitSummary } from './accuracy.js';

const HOUR = 3_600_000;

export interface SimReport {
  workload: { name: string; seed: number; containers: number };
  finished: boolean;
  notes: string[];
  /** The dispatcher's own settings in this run (durations in ms), so that runs with a feature on and off say which is which. */
  settings: Settings;
  simulatedMs: number;
  /** First submission to the last container becoming final. */
  makespanMs: number;
  containers: {
    complete: number;
    cancelled: number;
    /** Final with a nonzero exit code (still Complete). */
    nonzeroExit: number;
    /** Children of runners that were cancelled before submitting them, or arrivals after the limit. */
    neverSubmitted: number;
    /** Not final when the run ended (by state). */
    unfinished: Record<string, number>;
  };
  cost: {
    total: number;
    lowerBound: number;
    /** total / lowerBound. */
    ratio: number;
    extra: { boot: number; idle: number; packing: number; extraRunTime: number };
    byType: Record<string, { vms: number; vmHours: number; cost: number }>;
  };
  queueWait: WaitSummary;
  /** Queue wait and makespan by the workload's `owner`; only when the workload names owners. */
  byOwner?: Record<string, OwnerFigures>;
  /** The same for workflow runners' children alone (ids `<runner>/c<n>`): what pre-warming is for. */
  childrenQueueWait: WaitSummary;
  /** The same by stage (the generator's child group names), in the order the stages first appear; only when the workload names them. */
  childrenQueueWaitByStage?: Record<string, WaitSummary>;
  /** What warm pools and pre-warming did (wasted cost in $); absent when both were off. */
  capacity?: CapacityStats;
  /** Start-time estimates against the real starts (`accuracy.ts`): relative errors, the naive estimate's beside. */
  estimates: EstimateAccuracy;
  vms: { created: number; neverReady: number; peak: number; vmHours: number; bootMedianMs: number };
  cloudCalls: Record<string, { calls: number; errors: Record<string, number> }>;
  /** Controller requests by `METHOD route` (the dispatcher's and crunch-run's). */
  controllerRequests: Record<string, number>;
  cancelled: Array<{ reason: string; count: number; examples: Array<{ id: string; uuid: string }> }>;
  /** Drain to save (only when on): VMs it emptied, containers started on a draining VM (no wait), containers that waited because of it. */
  drain?: { emptied: number; tookDraining: number; waited: number };
  /** Billing.StretchIdle (only when on): idle VMs kept to the end of their paid period, and those of them that got a container. */
  idleStretch?: StretchStats;
  /** Spot reclaims (only when the cloud reclaimed VMs or a `Reclaims` rule was on): see `reclaims.ts`. */
  reclaims?: ReclaimSummary;
  /** The spending cap checked every simulated minute against the bill, and waits by priority; only when the settings give a level. */
  spendCap?: SpendCapFigures;
  /** Clock timers fired: how much simulation work the run took. */
  timersFired: number;
  timeline: TimelineSample[];
  /** The dispatcher process's own figures: these vary from run to run. */
  host: { wallMs: number; cpuUserMs: number; cpuSystemMs: number; peakRssBytes: number; peakHeapBytes: number };
  /** Image pulls and cold input reads summed over containers (0 unless the lame knobs ImagePullTimePerGiB, ColdInputTimePerGiB are set). */
  warmUp: { imagePulls: number; imagePullMs: number; coldInputs: number; coldInputMs: number };
  /** Spot fallback (only when on): containers it ran on demand, and what that cost beyond their spot price (`report-spot.ts`). */
  fallback?: FallbackFigures;
  /** Only when the lame cloud had SpotOutages: queue wait of the preemptible containers submitted during one (never started: wait to the end). */
  spotOutageArrivals?: WaitSummary;
}

/** Dollars to the micro-dollar, so a report reads cleanly and compares exactly. */
function money(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

/** Total length of the union of `intervals`, each clipped to [lo, hi]. */
function unionLength(intervals: Array<[number, number]>, lo: number, hi: number): number {
  const xs = intervals
    .map(([a, b]): [number, number] => [Math.max(a, lo), Math.min(b, hi)])
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let total = 0;
  let curA = -Infinity;
  let curB = -Infinity;
  for (const [a, b] of xs) {
    if (a > curB) {
      if (curB > curA) total += curB - curA;
      curA = a;
      curB = b;
    } else if (b > curB) {
      curB = b;
    }
  }
  if (curB > curA) total += curB - curA;
  return total;
}

export function buildReport(r: SimResult): SimReport {
  const end = r.endedAt;
  const byVM = new Map<string, ContainerOutcome[]>();
  for (const c of r.containers) {
    if (c.vm === undefined || c.runningAt === undefined) continue;
    let list = byVM.get(c.vm);
    if (!list) byVM.set(c.vm, (list = []));
    list.push(c);
  }

  let total = 0;
  let boot = 0;
  let idle = 0;
  let packing = 0;
  let runAtCheapest = 0;
  let vmMs = 0;
  let neverReady = 0;
  const bootTimes: number[] = [];
  const byType: SimReport['cost']['byType'] = {};
  const events: Array<[number, number]> = [];
  for (const vm of r.ledger.vms.values()) {
    const death = vm.destroyedAt ?? end;
    const life = Math.max(0, death - vm.createdAt);
    const rate = vm.price / HOUR;
    const ready = r.readyAt.get(vm.id);
    const readyAt = ready === undefined ? death : Math.min(Math.max(ready, vm.createdAt), death);
    if (ready === undefined) neverReady++;
    else bootTimes.push(readyAt - vm.createdAt);
    const ctrs = byVM.get(vm.id) ?? [];
    // The rest of a billed minimum or increment: paid for, and as unused as idle time.
    const rule = r.billingRules.get(vm.type);
    const billed = rule ? billedMs(rule, life) : life;
    const busy = unionLength(
      ctrs.map((c) => [c.runningAt!, c.finalAt ?? end]),
      readyAt,
      death,
    );
    let cheapest = 0;
    for (const c of ctrs) {
      const ran = Math.max(0, Math.min(c.finalAt ?? end, death) - Math.max(c.runningAt!, readyAt));
      cheapest += ran * ((c.lowerBoundPrice ?? vm.price) / HOUR);
    }
    total += billed * rate;
    boot += (readyAt - vm.createdAt) * rate;
    idle += (death - readyAt - busy + billed - life) * rate;
    packing += busy * rate - cheapest;
    runAtCheapest += cheapest;
    vmMs += life;
    const t = (byType[vm.type] ??= { vms: 0, vmHours: 0, cost: 0 });
    t.vms++;
    t.vmHours += life / HOUR;
    t.cost += billed * rate;
    events.push([vm.createdAt, 1], [death, -1]);
  }
  for (const t of Object.values(byType)) {
    t.vmHours = Math.round(t.vmHours * 1e6) / 1e6;
    t.cost = money(t.cost);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let live = 0;
  let peak = 0;
  for (const [, d] of events) peak = Math.max(peak, (live += d));

  let lowerBound = 0;
  const waits: number[] = [];
  const childWaits: number[] = [];
  const stageWaits = new Map<string, number[]>();
  let complete = 0;
  let cancelled = 0;
  let nonzeroExit = 0;
  let neverSubmitted = 0;
  let lastFinal = r.startedAt;
  let firstSubmit = Infinity;
  const unfinished: Record<string, number> = {};
  const reasons = new Map<string, Array<{ id: string; uuid: string }>>();
  for (const c of r.containers) {
    if (c.submittedAt !== undefined) firstSubmit = Math.min(firstSubmit, c.submittedAt);
    if (c.state === undefined) {
      neverSubmitted++;
      continue;
    }
    if (c.runningAt !== undefined && c.submittedAt !== undefined) {
      waits.push(c.runningAt - c.submittedAt);
      if (c.id.includes('/')) childWaits.push(c.runningAt - c.submittedAt);
      if (c.stage !== undefined) (stageWaits.get(c.stage) ?? stageWaits.set(c.stage, []).get(c.stage)!).push(c.runningAt - c.submittedAt);
    }
    if (c.finalAt !== undefined) lastFinal = Math.max(lastFinal, c.finalAt);
    if (c.state === 'Complete') {
      complete++;
      if ((c.exitCode ?? 0) !== 0) nonzeroExit++;
      if (c.lowerBoundPrice !== undefined) lowerBound += (c.idealMs * c.lowerBoundPrice) / HOUR;
    } else if (c.state === 'Cancelled') {
      cancelled++;
      const reason = c.reason ?? 'no reason recorded';
      let list = reasons.get(reason);
      if (!list) reasons.set(reason, (list = []));
      list.push({ id: c.id, uuid: c.uuid! });
    } else {
      unfinished[c.state] = (unfinished[c.state] ?? 0) + 1;
    }
  }
  waits.sort((a, b) => a - b);
  childWaits.sort((a, b) => a - b);
  bootTimes.sort((a, b) => a - b);
  const byOwner = figuresByOwner(r.containers);
  const spendCap = spendCapFigures(r.settings, r.ledger.vms.values(), r.startedAt, end, r.containers);

  return {
    workload: { name: r.workload, seed: r.seed, containers: r.containers.length },
    finished: r.finished,
    notes: r.notes,
    settings: r.settings,
    simulatedMs: end - r.startedAt,
    makespanMs: firstSubmit === Infinity ? 0 : Math.max(0, lastFinal - firstSubmit),
    containers: { complete, cancelled, nonzeroExit, neverSubmitted, unfinished },
    cost: {
      total: money(total),
      lowerBound: money(lowerBound),
      ratio: lowerBound > 0 ? Math.round((total / lowerBound) * 1e4) / 1e4 : 0,
      extra: { boot: money(boot), idle: money(idle), packing: money(packing), extraRunTime: money(runAtCheapest - lowerBound) },
      byType: Object.fromEntries(Object.entries(byType).sort(([a], [b]) => compareCodeUnits(a, b))),
    },
    queueWait: waitSummary(waits),
    ...(byOwner ? { byOwner } : {}),
    childrenQueueWait: waitSummary(childWaits),
    ...(stageWaits.size > 0 ? { childrenQueueWaitByStage: Object.fromEntries([...stageWaits].map(([k, w]) => [k, waitSummary(w.sort((a, b) => a - b))])) } : {}),
    ...(r.capacity ? { capacity: { ...r.capacity, created: { ...r.capacity.created }, prewarmWastedCost: money(r.capacity.prewarmWastedCost) } } : {}),
    estimates: summariseAccuracy(r.estimates, startedAt(r.containers)),
    vms: {
      created: r.ledger.vms.size,
      neverReady,
      peak,
      vmHours: Math.round((vmMs / HOUR) * 1e6) / 1e6,
      bootMedianMs: nearestRank(bootTimes, 0.5),
    },
    cloudCalls: r.ledger.calls,
    controllerRequests: r.controllerRequests,
    cancelled: [...reasons]
      .map(([reason, list]) => ({ reason, count: list.length, examples: list.slice(0, 5) }))
      .sort((a, b) => b.count - a.count || (a.reason < b.reason ? -1 : 1)),
    ...(r.drain ? { drain: r.drain } : {}),
    ...(r.idleStretch ? { idleStretch: { ...r.idleStretch } } : {}),
    ...(r.reclaims ? { reclaims: r.reclaims } : {}),
    ...(spendCap ? { spendCap } : {}),
    timersFired: r.timersFired,
    timeline: r.timeline,
    host: {
      wallMs: Math.round(r.host.wallMs),
      cpuUserMs: Math.round(r.host.cpuUserMs),
      cpuSystemMs: Math.round(r.host.cpuSystemMs),
      peakRssBytes: r.host.peakRssBytes,
      peakHeapBytes: r.host.peakHeapBytes,
    },
    warmUp: { ...r.warmUp },
    ...(r.fallback ? { fallback: r.fallback } : {}),
    ...(r.spotOutages ? { spotOutageArrivals: waitSummary(outageArrivalWaits(r.containers, r.spotOutages, r.startedAt, end)) } : {}),
  };
}

function startedAt(containers: readonly ContainerOutcome[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const c of containers) if (c.uuid !== undefined && c.runningAt !== undefined) out.set(c.uuid, c.runningAt);
  return out;
}
