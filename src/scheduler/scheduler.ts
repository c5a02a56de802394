/**
 * The scheduler: maps queued containers onto the worker pool in priority
 * order, creating instances when needed, and keeps queue and pool in
 * agreement. It locks containers it can place, starts locked ones on ready
 * instances, unlocks what cannot run while the cloud is at quota, and
 * cancels or kills what the queue and the pool disagree about.
 *
 * Lifecycle: `new` -> `start()` -> running -> `stop()` -> stopped.
 * Running: wait for the queue's first poll and the pool's first cloud
 * listing, fix stale locks once, then loop `runQueue(); sync();` and wait
 * for a queue change, a pool change, a retry of a container whose operation
 * was busy, or PollInterval. Changes arriving during a pass cause one more
 * pass, however many there were.
 */
import { WhyBuilder } from './why.js';
import { type Timer, untilAborted } from '../clock/index.js';
import { RateLimitedLog } from '../log.js';
import { formatDuration } from '../config/units.js';
import { OnceLog, type PassContext, type SchedulerDeps } from './deps.js';
import { fixStaleLocks, waitForPoolLoaded } from './fix-stale-locks.js';
import { ConcurrencyLimit, limitGrows, type ControllerState } from './limits.js';
import { UUIDOps } from './ops.js';
import { runQueue, type QueueViewEntry, type RunQueueResult } from './run-queue.js';
import { sync } from './sync.js';

export type { SchedulerDeps } from './deps.js';
export type { QueueViewEntry } from './run-queue.js';

/** How soon to look again at a container whose previous operation was still in flight. */
export const RETRY_DELAY_MS = 250;

/** The pass interval when nothing changes and PollInterval is 0 or less (PollInterval's own default). */
export const DEFAULT_PASS_INTERVAL_MS = 10_000;

type LifecycleState = 'new' | 'running' | 'stopped';

export class Scheduler {
  private readonly ctx: PassContext;
  private readonly limit: ConcurrencyLimit;
  private last: RunQueueResult = { view: undefined, allocatedNotStarted: 0, notAllocatedOverQuota: 0 };

  private state: LifecycleState = 'new';
  private readonly abort = new AbortController();
  private loopDone: Promise<void> = Promise.resolve();
  private pending = false;
  private wakeLoop: (() => void) | undefined;
  private retryTimer: { timer: Timer; at: number } | undefined;

  constructor(deps: SchedulerDeps) {
    const ops = new UUIDOps(deps.logger, () => this.wakeAfter(RETRY_DELAY_MS));
    this.ctx = { ...deps, ops, once: new OnceLog(deps.logger), rateLimited: new RateLimitedLog(deps.logger, deps.clock) };
    this.limit = new ConcurrencyLimit(deps.cluster.Containers.CloudVMs);
  }

  /** Starts the loop in the background. Throws if already started. */
  start(): void {
    if (this.state !== 'new') throw new Error(`scheduler: start() when ${this.state}`);
    this.state = 'running';
    this.loopDone = this.loop();
  }

  /**
   * Stops the loop; resolves once it has exited and its timers are gone.
   * Controller calls already under way finish in the background.
   */
  async stop(): Promise<void> {
    this.state = 'stopped';
    this.abort.abort();
    this.wakeLoop?.();
    await this.loopDone;
    this.retryTimer?.timer.cancel();
    this.retryTimer = undefined;
  }

  /** One run-queue pass (the loop calls it; tests and the simulator may too). */
  runQueue(): void {
    this.last = runQueue(this.ctx, this.limit);
  }

  /** One sync pass (see `sync.ts`). */
  sync(): void {
    sync(this.ctx, this.last.view);
  }

  /** The start-up stale-lock fix (see `fix-stale-locks.ts`). */
  fixStaleLocks(signal: AbortSignal = this.abort.signal): Promise<void> {
    return fixStaleLocks(this.ctx, signal);
  }

  /** Every queue entry with its scheduling status, in scheduling order, as of the last pass. */
  queueView(): QueueViewEntry[] {
    return [...(this.last.view?.entries() ?? [])];
  }

  /**
   * Why each container of the last pass waits (`why.ts`): a builder over
   * that pass and the pool as it is now. One per question: it caches what
   * it reads.
   */
  why(): WhyBuilder | undefined {
    const view = this.last.view;
    if (!view) return undefined;
    return new WhyBuilder({ view, cluster: this.ctx.cluster, pool: this.ctx.pool, controller: { state: this.limit.state, last503: this.ctx.client.last503() } });
  }

  /** The dynamic concurrency limit; 0 = none. */
  get maxContainers(): number {
    return this.limit.maxContainers;
  }

  /** The controller as the concurrency limit last saw it: why fewer containers may run. */
  get controllerState(): ControllerState {
    return this.limit.state;
  }

  /** Containers placed on an instance that is not ready for them yet. */
  get containersAllocatedNotStarted(): number {
    return this.last.allocatedNotStarted;
  }

  /** Containers waiting because of the cloud quota or the supervisor cap. */
  get containersNotAllocatedOverQuota(): number {
    return this.last.notAllocatedOverQuota;
  }

  /** How long the longest-waiting queued or locked container (not started yet) has existed. */
  get longestWaitTimeSeconds(): number {
    const earliest = this.last.view?.earliestWaiting();
    return earliest === undefined ? 0 : Math.max(0, (this.ctx.clock.now() - earliest) / 1000);
  }

  get atQuota(): boolean {
    return this.ctx.pool.atQuota();
  }

  /** Number of lock/unlock/cancel calls in flight. */
  get operationsInFlight(): number {
    return this.ctx.ops.size();
  }

  private readonly notify = (): void => {
    this.pending = true;
    this.wakeLoop?.();
  };

  /** Arms (or brings forward) the one retry timer. */
  private wakeAfter(ms: number): void {
    if (this.state !== 'running') return;
    const at = this.ctx.clock.now() + ms;
    if (this.retryTimer && this.retryTimer.at <= at) return;
    this.retryTimer?.timer.cancel();
    const timer = this.ctx.clock.setTimer(ms, () => {
      this.retryTimer = undefined;
      this.notify();
    });
    this.retryTimer = { timer, at };
  }

  private async loop(): Promise<void> {
    const { queue, pool, logger, clock } = this.ctx;
    const signal = this.abort.signal;
    const unsubscribe = [queue.subscribe(this.notify), pool.subscribe(this.notify)];
    // A trial approved between passes is locked at once, not at the next poll.
    const gate = this.ctx.startBreaker?.subscribe?.(this.notify);
    if (gate) unsubscribe.push(gate);
    try {
      await this.firstQueueUpdate(signal);
      await waitForPoolLoaded(this.ctx, signal);
      const t0 = clock.now();
      logger.info('FixStaleLocks starting.');
      try {
        await fixStaleLocks(this.ctx, signal);
        logger.info(`FixStaleLocks finished (${formatDuration(clock.now() - t0)}), starting scheduling.`, { ElapsedMs: clock.now() - t0 });
      } catch (err) {
        if (signal.aborted) return;
        // A bug in the fix must not stop scheduling: a Locked container it
        // did not unlock is ours, and the passes below start it or, if it
        // runs nowhere, leave it to the usual handling of our locks.
        logger.error('fixing stale locks failed; starting scheduling anyway', { error: err, ElapsedMs: clock.now() - t0 });
      }
      // With PollInterval 0 (the queue then polls as fast as the controller
      // answers, as the reference's does) a pass must still wait for a change.
      const configured = this.ctx.cluster.Containers.CloudVMs.PollInterval;
      const pollInterval = configured > 0 ? configured : DEFAULT_PASS_INTERVAL_MS;
      while (!signal.aborted) {
        this.pending = false;
        try {
          this.runQueue();
          this.sync();
          this.ctx.afterPass?.afterPass(this.last.view, this.limit.maxContainers, limitGrows(this.limit));
        } catch (err) {
          // A bug in one pass; the next pass (at the next change) may well
          // get through, and a bug hit on every pass logs once a minute.
          this.ctx.rateLimited.error('scheduling pass failed', { error: err });
        }
        await this.waitForChange(pollInterval, signal);
      }
    } catch (err) {
      if (!signal.aborted) logger.error('scheduler loop failed', { error: err });
    } finally {
      for (const u of unsubscribe) u();
    }
  }

  /** Nothing can be decided on an empty picture: poll until the queue has been read once. */
  private async firstQueueUpdate(signal: AbortSignal): Promise<void> {
    const { queue, clock, logger } = this.ctx;
    const retry = Math.max(this.ctx.cluster.Containers.CloudVMs.PollInterval / 10, 1000);
    while (queue.entries().updated === 0) {
      try {
        await untilAborted(queue.update(), signal);
        return;
      } catch (err) {
        // Stopped while the poll was in flight: nothing failed.
        if (signal.aborted) throw err;
        logger.error('error updating queue, will retry', { error: err, RetryMs: retry });
        await clock.sleep(retry, signal);
      }
    }
  }

  /** Resolves at the next notification (at once if one came during the pass), after `ms`, or on stop. */
  private async waitForChange(ms: number, signal: AbortSignal): Promise<void> {
    if (this.pending || signal.aborted) {
      // Let I/O and timers run between back-to-back passes.
      await new Promise<void>((resolve) => setImmediate(resolve));
      return;
    }
    await new Promise<void>((resolve) => {
      const timer = this.ctx.clock.setTimer(ms, () => this.wakeLoop?.());
      this.wakeLoop = () => {
        timer.cancel();
        this.wakeLoop = undefined;
        resolve();
      };
    });
  }
}
