/**
 * Start-up: what the scheduler waits for before its first decision, and the
 * stale-lock fix.
 *
 * First the pool must have listed the cloud (`loaded()`): before that it
 * knows of no instance, so every Running container would look orphaned and
 * every Locked one stale. The reference's pool blocks its callers the same
 * way; here the scheduler waits, for as long as it takes.
 *
 * Then containers may be Locked by this dispatcher's token from before a
 * restart. Those whose crunch-run still runs show up as the pool probes its
 * workers; the rest are stale and get unlocked, so they are scheduled
 * afresh in priority order. The fix waits while any worker is unknown (not
 * probed yet: it may be running one of them), for at most
 * StaleLockTimeout, then unlocks every Locked container that runs nowhere,
 * judged at that moment.
 *
 * As the reference: when no worker is unknown at the first look, it
 * unlocks nothing. Those Locked containers are ours, and the scheduler
 * starts them where they are; unlocking them would cost each one of its
 * MaxDispatchAttempts (every lock counts) for nothing.
 */
import { type Clock, untilAborted } from '../clock/index.js';
import { unlockContainer } from './actions.js';
import { crunchRunRecords, type PassContext, unlistedWorkers } from './deps.js';

/** Resolves once the pool has loaded the cloud's instance list; rejects if `signal` aborts first. */
export async function waitForPoolLoaded(ctx: PassContext, signal: AbortSignal): Promise<void> {
  const { pool } = ctx;
  if (!pool.loaded || pool.loaded()) return;
  ctx.logger.info('waiting for the worker pool to list the cloud instances');
  const changes = new PoolChanges(ctx);
  try {
    while (!pool.loaded()) await changes.next(undefined, signal);
  } finally {
    changes.close();
  }
}

export async function fixStaleLocks(ctx: PassContext, signal: AbortSignal): Promise<void> {
  const { clock, logger } = ctx;
  const deadline = clock.now() + ctx.cluster.Containers.StaleLockTimeout;
  if (unknownWorkers(ctx) === 0) return;
  const changes = new PoolChanges(ctx);
  try {
    while (unknownWorkers(ctx) > 0) {
      if (staleLocks(ctx).length === 0) return;
      const remaining = deadline - clock.now();
      if (remaining <= 0) {
        logger.info('stale locks: gave up waiting for unknown workers to be probed', { Unknown: unknownWorkers(ctx) });
        break;
      }
      await changes.next(remaining, signal);
    }
  } finally {
    changes.close();
  }
  // Judged now, not before the last wait: the probe that ended it may have
  // found some of them running.
  for (const uuid of staleLocks(ctx)) {
    if (signal.aborted) return;
    // One at a time: there are few, and the controller is busy enough with
    // everything else a restart brings.
    const done = unlockContainer(ctx, uuid, 'stale lock from a previous dispatcher process');
    if (done) await untilAborted(done, signal);
  }
}

function unknownWorkers(ctx: PassContext): number {
  return unlistedWorkers(ctx.pool);
}

function staleLocks(ctx: PassContext): string[] {
  const records = crunchRunRecords(ctx.pool);
  const out: string[] = [];
  for (const [uuid, ent] of ctx.queue.entries().entries) {
    if (ent.container.state === 'Locked' && !records.has(uuid)) out.push(uuid);
  }
  return out;
}

/** Pool notifications as something to await, with an optional timeout on the clock. */
class PoolChanges {
  private changed = false;
  private wake: (() => void) | undefined;
  private readonly unsubscribe: () => void;
  private readonly clock: Clock;

  constructor(ctx: PassContext) {
    this.clock = ctx.clock;
    this.unsubscribe = ctx.pool.subscribe(() => {
      this.changed = true;
      this.wake?.();
    });
  }

  /** Resolves at the next change (at once if one came since the last call), or after `ms` if given. */
  next(ms: number | undefined, signal: AbortSignal): Promise<void> {
    if (this.changed) {
      this.changed = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const timer = ms === undefined ? undefined : this.clock.setTimer(ms, () => done());
      const done = (): void => {
        timer?.cancel();
        signal.removeEventListener('abort', onAbort);
        this.wake = undefined;
        this.changed = false;
        resolve();
      };
      const onAbort = (): void => {
        timer?.cancel();
        this.wake = undefined;
        reject(signal.reason);
      };
      this.wake = done;
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  close(): void {
    this.unsubscribe();
  }
}
