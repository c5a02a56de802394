/**
 * Runs a dispatcher only while the dispatch lock is held: take the lock,
 * wait out the lease, build and start a dispatcher whose every action is
 * fenced by this tenure of the lock; when the lock is lost, stop that
 * dispatcher (as SIGTERM would: VMs and containers are left alone), take
 * the lock again, and build a fresh one, which adopts everything from the
 * cloud's tags and `crunch-run --list`, as after a restart.
 *
 * The fence closes the moment the lock is lost, before the old dispatcher
 * has even begun to stop; a dispatcher never outlives its tenure's fence.
 */
import type { Logger } from '../log.js';
import type { Fence, FencedAction } from './fence.js';
import { DispatchLockLostError } from './fence.js';
import type { DispatchLock, LockEpoch } from './lock.js';

/** What the supervisor needs of a dispatcher. */
export interface Runnable {
  start(): void;
  stop(): Promise<void>;
}

/**
 * A fence bound to at most one tenure of the lock, later: refuses until
 * bound, then answers as that tenure does, for good. Lets a dispatcher be
 * built (and its config checked) before the lock is taken.
 */
export class TenureFence implements Fence {
  private epoch: LockEpoch | undefined;

  bind(epoch: LockEpoch): void {
    if (this.epoch) throw new Error('fence already bound to a tenure of the lock');
    this.epoch = epoch;
  }

  check(action: FencedAction): void {
    if (!this.epoch) throw new DispatchLockLostError(`not acting (${action.Action}): the dispatch lock is not held yet`);
    this.epoch.check(action);
  }
}

export interface LockedRunOptions<D extends Runnable> {
  lock: DispatchLock;
  logger: Logger;
  /** Builds a dispatcher (not started) whose actions consult `fence`. */
  build(fence: Fence): Promise<D>;
  /** A dispatcher already built, with its fence, to run in the first tenure. */
  first?: { dispatcher: D; fence: TenureFence };
}

export class LockedRun<D extends Runnable> {
  private dispatcher: D | undefined;
  private readonly abort = new AbortController();
  private readonly done: Promise<void>;
  private stopRequested: (() => void) | undefined;
  private readonly stopped: Promise<void>;

  constructor(private readonly opts: LockedRunOptions<D>) {
    this.stopped = new Promise((resolve) => (this.stopRequested = resolve));
    this.done = this.loop();
  }

  /** The running dispatcher; undefined while the lock is not held (or not yet waited out). */
  current(): D | undefined {
    return this.dispatcher;
  }

  /** Resolves if the loop fails (a dispatcher could not be built); it never does otherwise before `stop`. */
  get finished(): Promise<void> {
    return this.done;
  }

  /** Stops the dispatcher (its fence closed first), then releases the lock. */
  async stop(): Promise<void> {
    this.stopRequested?.();
    this.abort.abort();
    await this.done;
  }

  private async loop(): Promise<void> {
    const { lock, logger } = this.opts;
    let first = this.opts.first;
    try {
      for (;;) {
        let epoch: LockEpoch;
        try {
          epoch = await lock.acquire(this.abort.signal);
        } catch (err) {
          if (this.abort.signal.aborted) break;
          throw err;
        }
        const fence = first?.fence ?? new TenureFence();
        const dispatcher = first?.dispatcher ?? (await this.opts.build(fence));
        first = undefined;
        fence.bind(epoch);
        this.dispatcher = dispatcher;
        dispatcher.start();
        const ended = await Promise.race([epoch.ended.then((reason) => reason), this.stopped.then(() => undefined)]);
        this.dispatcher = undefined;
        if (ended === undefined) {
          // Stopping: the fence closes with the release, after the dispatcher has stopped acting.
          await dispatcher.stop();
          break;
        }
        logger.warn('dispatch lock lost: stopping this dispatcher; a fresh one starts once the lock is held again', { Reason: ended });
        await dispatcher.stop();
      }
    } finally {
      await first?.dispatcher.stop();
      await lock.release();
    }
  }
}
