/**
 * RuntimeTracker: turns what the pool and the queue show into the runtime
 * history's lessons. A container's run starts when the pool first has a
 * crunch-run for it and ends when that crunch-run is gone; what the run
 * counts as is decided by the container's state once the queue has caught
 * up: final (Complete, or already dropped by the queue) is a runtime;
 * back to Queued is an earlier attempt (a lower bound for the next);
 * Cancelled says nothing about how long the work takes.
 */
import type { Container } from '../arvados/types.js';
import type { RunningRun, RuntimeHistory, RuntimeKey } from './history.js';

/** How long an ended run may wait for the queue to show the container's outcome before it is dropped. */
export const OUTCOME_WAIT_MS = 10 * 60_000;

interface Run {
  startedAt: number;
  key: RuntimeKey | undefined;
}

interface Ended {
  ranMs: number;
  key: RuntimeKey | undefined;
  endedAt: number;
}

export class RuntimeTracker {
  private active = new Map<string, Run>();
  private readonly ended = new Map<string, Ended>();

  constructor(private readonly history: RuntimeHistory) {}

  /**
   * Compares the pool's crunch-runs (`running`: uuid -> start) with the last
   * call's, and settles ended runs whose outcome the queue (`get`) shows.
   * `keyOf` gives a container's runtime key when it is first seen running.
   */
  observe(now: number, running: ReadonlyMap<string, number>, get: (uuid: string) => Container | undefined, keyOf: (uuid: string) => RuntimeKey | undefined): void {
    const next = new Map<string, Run>();
    for (const [uuid, startedAt] of running) {
      next.set(uuid, this.active.get(uuid) ?? { startedAt, key: keyOf(uuid) });
      this.ended.delete(uuid);
    }
    for (const [uuid, run] of this.active) {
      if (!next.has(uuid)) this.ended.set(uuid, { ranMs: now - run.startedAt, key: run.key, endedAt: now });
    }
    this.active = next;
    this.history.setRunning(runningRuns(now, next.values()));
    for (const [uuid, e] of this.ended) {
      const state = get(uuid)?.state;
      if (state === undefined || state === 'Complete') {
        if (e.key) this.history.record(e.key, e.ranMs, e.endedAt);
        this.history.forget(uuid);
      } else if (state === 'Cancelled') {
        this.history.forget(uuid);
      } else if (state === 'Queued') {
        this.history.recordAttempt(uuid, e.ranMs);
      } else if (now - e.endedAt < OUTCOME_WAIT_MS) {
        continue;
      }
      this.ended.delete(uuid);
    }
  }
}

function* runningRuns(now: number, runs: Iterable<Run>): Iterable<RunningRun> {
  for (const r of runs) if (r.key) yield { key: r.key, elapsedMs: Math.max(0, now - r.startedAt) };
}
