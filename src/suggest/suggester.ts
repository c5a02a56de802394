/**
 * The Suggester: for containers that have waited longer than
 * `Suggestions.After`, the one or two config changes that would start them
 * soonest, each with its effect, found by running the simulator forward
 * from the live state (`live-workload.ts`) with and without each candidate
 * change (`candidates.ts`), never by a rule of thumb.
 *
 * Every ROUND_MS it picks the longest-waiting containers without a fresh
 * result (ROUND_SIZE of them), runs the baseline and each candidate for
 * `Suggestions.Horizon` of simulated time, and keeps the changes that start
 * the container sooner than the baseline: "MaxInstances 80 (+16)" with
 * the effect "would start it in ~3 min instead of ~40 min" (the status page
 * and `containers why` print them as "change: effect"). A result holds until the
 * container's blocker changes or CACHE_MS pass.
 *
 * CPU: the runs are synchronous work on the daemon's event loop; after a run
 * of wall time w it waits w x (1/MaxCPUFraction - 1) before the next, so
 * the simulator uses at most that share of one CPU over time.
 */
import { type Clock, isAbortError, systemClock } from '../clock/index.js';
import type { Settings } from '../config/settings.js';
import type { Cluster } from '../config/types.js';
import type { Estimator } from '../estimate/estimator.js';
import { type Logger, RateLimitedLog } from '../log.js';
import type { ContainerQueue, WorkerPool } from '../scheduler/interfaces.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { Blocker } from '../scheduler/blocker.js';
import { runSimulation, type SimOptions } from '../sim/engine.js';
import type { SimEnvironment, SimResult } from '../sim/result.js';
import type { SimContainer } from '../sim/workload.js';
import { applyChange, type Candidate, candidatesFor } from './candidates.js';
import { type LiveInput, type LiveWaiting, liveWorkload, TARGET_ID } from './live-workload.js';

/** One suggestion as the API shows it. */
export interface Suggestion {
  change: string;
  effect: string;
}

/** How often a round starts, ms. */
export const ROUND_MS = 30_000;
/** Containers looked at per round, at most. */
export const ROUND_SIZE = 2;
/** A result is recomputed after this long even if the blocker stays the same, ms. */
export const CACHE_MS = 5 * 60_000;
/** Suggestions kept per container, at most. */
export const MAX_SUGGESTIONS = 2;
/**
 * A change must start the container this much sooner than the baseline to
 * be suggested: smaller gains are within the simulation's own noise.
 */
export const MIN_GAIN_MS = 60_000;

export interface SuggesterDeps {
  clock: Clock;
  logger: Logger;
  settings: Settings['Suggestions'];
  cluster: Cluster;
  scheduler: Pick<Scheduler, 'queueView' | 'why'>;
  pool: Pick<WorkerPool, 'running' | 'atCapacity'>;
  queue: Pick<ContainerQueue, 'get'>;
  estimator: Pick<Estimator, 'runtimes' | 'boots'>;
  /** The simulator; default `runSimulation` (tests count or time the runs). */
  simulate?: (opts: SimOptions) => Promise<SimResult>;
  /** Wall time for the CPU bound, ms; default the system clock (the simulated runs have their own clock). */
  wallNow?: () => number;
}

interface Cached {
  key: string;
  at: number;
  suggestions: Suggestion[];
}

/** A waiting container the round may look at. */
interface WaitingTarget {
  uuid: string;
  since: number;
  blocker: Blocker;
}

export class Suggester {
  private readonly cache = new Map<string, Cached>();
  private readonly warn: RateLimitedLog;
  private abort = new AbortController();
  private running: Promise<void> | undefined;

  constructor(private readonly deps: SuggesterDeps) {
    this.warn = new RateLimitedLog(deps.logger, deps.clock);
  }

  /** Starts the rounds; does nothing when `Suggestions.Enable` is false. */
  start(): void {
    if (!this.deps.settings.Enable || this.running) return;
    this.abort = new AbortController();
    this.running = this.loop(this.abort.signal);
  }

  /** Stops the rounds, waiting for a run in progress to end. */
  async stop(): Promise<void> {
    this.abort.abort();
    await this.running;
    this.running = undefined;
  }

  /** The suggestions for a container, if it has any. */
  suggestions(uuid: string): Suggestion[] | undefined {
    const c = this.cache.get(uuid);
    return c && c.suggestions.length > 0 ? c.suggestions : undefined;
  }

  /** One round: looks at up to ROUND_SIZE containers, pausing after each run for the CPU bound. */
  async round(signal: AbortSignal = this.abort.signal): Promise<void> {
    if (!this.deps.settings.Enable) return;
    const picks = this.pick();
    for (const p of picks) {
      if (signal.aborted) return;
      try {
        await this.suggestFor(p, signal);
      } catch (err) {
        if (isAbortError(err)) return;
        this.warn.warn('suggestions failed', { ContainerUUID: p.uuid, error: (err as Error).message }, 'suggestions failed');
        // Not retried until the blocker changes or the cache time passes, like a result.
        this.cache.set(p.uuid, { key: blockerKey(p.blocker), at: this.deps.clock.now(), suggestions: [] });
      }
    }
  }

  private async loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        await this.deps.clock.sleep(ROUND_MS, signal);
        await this.round(signal);
      } catch (err) {
        if (isAbortError(err)) return;
        this.warn.error('suggestion round failed', { error: (err as Error).message }, 'suggestion round failed');
      }
    }
  }

  /** The waiting containers past `After` without a fresh result, longest waiting first; forgets those no longer waiting. */
  private pick(): WaitingTarget[] {
    const { clock, scheduler, pool, settings } = this.deps;
    const now = clock.now();
    const why = scheduler.why();
    if (!why) return [];
    const running = pool.running();
    const seen = new Set<string>();
    const out: WaitingTarget[] = [];
    for (const v of scheduler.queueView()) {
      const uuid = v.entry.container.uuid;
      // Young ones first: nothing is cached for them (a result is only made past After), and their blockers need not be built.
      if (running.has(uuid) || now - v.entry.firstSeenAt <= settings.After) continue;
      const blocker = why.blockerAt(v.listIndex);
      if (!blocker || !('position' in blocker)) continue;
      seen.add(uuid);
      const c = this.cache.get(uuid);
      if (c && c.key === blockerKey(blocker) && now - c.at < CACHE_MS) continue;
      out.push({ uuid, since: v.entry.firstSeenAt, blocker });
    }
    for (const uuid of this.cache.keys()) if (!seen.has(uuid)) this.cache.delete(uuid);
    return out.sort((a, b) => a.since - b.since).slice(0, ROUND_SIZE);
  }

  private async suggestFor(p: WaitingTarget, signal: AbortSignal): Promise<void> {
    const { clock, cluster, scheduler, pool, queue, estimator, logger } = this.deps;
    // A pass may have come between the pick and now: find it again.
    const view = scheduler.queueView();
    const index = view.findIndex((v) => v.entry.container.uuid === p.uuid);
    if (index < 0) return;
    const entry = view[index].entry;
    const found = candidatesFor({ blocker: p.blocker, cluster, container: entry.container, instanceTypes: entry.instanceTypes, instanceResources: entry.instanceResources });
    const key = blockerKey(p.blocker);
    if (found.candidates.length === 0) {
      logger.debug('no config change would help', { ContainerUUID: p.uuid, Reason: found.none });
      this.cache.set(p.uuid, { key, at: clock.now(), suggestions: [] });
      return;
    }
    const running = pool.running();
    const ahead: LiveWaiting[] = [];
    for (let i = 0; i < index; i++) {
      const e = view[i].entry;
      if (running.has(e.container.uuid) || e.container.priority <= 0) continue;
      if (e.container.state !== 'Queued' && e.container.state !== 'Locked') continue;
      ahead.push({ container: e.container, instanceTypes: e.instanceTypes });
    }
    const atCapacity = new Set<string>();
    for (const t of Object.values(cluster.InstanceTypes)) if (pool.atCapacity(t)) atCapacity.add(t.ProviderType);
    const input: LiveInput = {
      now: clock.now(),
      cluster,
      ahead,
      target: { container: entry.container, instanceTypes: entry.instanceTypes },
      running: [...running].map(([uuid, startedAt]) => ({ uuid, container: queue.get(uuid), startedAt })),
      runtimes: estimator.runtimes,
      boots: estimator.boots,
      atCapacity: [...atCapacity],
    };
    const live = liveWorkload(input);
    const baseline = await this.startAfter(live.cluster, live.workload.containers, signal);
    const results: Array<{ candidate: Candidate; ms: number }> = [];
    for (const candidate of found.candidates) {
      const changed = applyChange(candidate.change, live.cluster, live.workload.containers, TARGET_ID);
      const ms = await this.startAfter(changed.cluster, changed.containers, signal);
      if (ms !== undefined && (baseline === undefined || ms <= baseline - MIN_GAIN_MS)) results.push({ candidate, ms });
    }
    results.sort((a, b) => a.ms - b.ms);
    const horizon = this.deps.settings.Horizon;
    const suggestions = results.slice(0, MAX_SUGGESTIONS).map((r) => ({
      change: r.candidate.text,
      effect: `would start it in ${duration(r.ms)} instead of ${baseline === undefined ? `not within the ${duration(horizon, '')} horizon` : duration(baseline)}`,
    }));
    logger.debug('suggestions computed', { ContainerUUID: p.uuid, BaselineMs: baseline ?? null, Candidates: found.candidates.length, Suggestions: suggestions.length });
    this.cache.set(p.uuid, { key, at: clock.now(), suggestions });
  }

  /**
   * Runs the simulation and returns when the target started (ms after the
   * start), or undefined when it did not within the horizon; then waits out
   * the CPU bound.
   */
  private async startAfter(cluster: Cluster, containers: SimContainer[], signal: AbortSignal): Promise<number | undefined> {
    signal.throwIfAborted();
    const wallNow = this.deps.wallNow ?? (() => systemClock.now());
    const simulate = this.deps.simulate ?? runSimulation;
    const w0 = wallNow();
    // Once the target runs the rest of the run tells nothing more; once stopping, nothing at all.
    let player: SimEnvironment['player'] | undefined;
    let target: SimResult['containers'][number] | undefined;
    let result: SimResult;
    try {
      result = await simulate({
        cluster,
        // Only when the target starts is read, never the forecasts.
        forecasts: false,
        workload: { name: 'live', seed: 1, containers },
        limitMs: this.deps.settings.Horizon,
        setup: (env) => (player = env.player),
        stopWhen: () => {
          target ??= player?.tracked.find((t) => t.outcome.id === TARGET_ID)?.outcome;
          return signal.aborted || target?.runningAt !== undefined;
        },
      });
    } finally {
      // The rest follows a failed run too: a run that fails every time must not take more CPU than one that works.
      const wall = Math.max(0, wallNow() - w0);
      await this.deps.clock.sleep(wall * (1 / this.deps.settings.MaxCPUFraction - 1), signal);
    }
    const ran = result.containers.find((c) => c.id === TARGET_ID)?.runningAt;
    return ran === undefined ? undefined : ran - result.startedAt;
  }
}

/** What identifies a blocker for the cache: its reason and limits, not the moving figures (position, ahead, times). */
function blockerKey(b: Blocker): string {
  const parts: unknown[] = [b.reason];
  if (b.reason === 'quota') parts.push(b.bucket, b.limit);
  if (b.reason === 'types_at_capacity') parts.push(b.types.map((t) => t.name));
  if (b.price_cap) parts.push(b.price_cap.maximum_price_factor, b.price_cap.types.map((t) => t.name));
  return JSON.stringify(parts);
}

/** "~3 min", "~40 s", "~2.5 h"; `approx` '' drops the tilde. */
function duration(ms: number, approx = '~'): string {
  if (ms < 60_000) return `${approx}${Math.round(ms / 1000)} s`;
  if (ms < 2 * 3_600_000) return `${approx}${Math.round(ms / 60_000)} min`;
  return `${approx}${(ms / 3_600_000).toFixed(1)} h`;
}
