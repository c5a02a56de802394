/**
 * The queue's poll loop: polls every PollInterval, or as slowly as the
 * controller answers. If a poll took longer than the interval, the
 * controller is probably overloaded, so the next one waits that long
 * instead. A failed poll is tried again at the next PollInterval (1 s when
 * PollInterval is 0): the client has already retried what was worth
 * retrying, and backing off from an overloaded controller is the
 * concurrency limit's job; waiting as long again as a timed-out poll took
 * would only leave the queue stale.
 *
 * With the event feed connected the loop goes on unchanged: events only
 * add refreshes between polls (`hints.ts`), and polling is what catches
 * whatever the feed missed.
 */
import { isAbortError, untilAborted, type Clock } from '../clock/index.js';
import { RateLimitedLog, type Logger } from '../log.js';

/** With PollInterval 0 (poll as fast as the controller answers), how soon a failed poll is tried again. */
const FAILED_POLL_RETRY_MS = 1000;

export class PollLoop {
  private readonly errors: RateLimitedLog;
  private loop?: { abort: AbortController; done: Promise<void> };

  constructor(
    private readonly clock: Clock,
    logger: Logger,
    private readonly intervalMs: number,
    private readonly poll: () => Promise<void>,
  ) {
    this.errors = new RateLimitedLog(logger, clock, 60_000);
  }

  start(): void {
    if (this.loop) throw new Error('container queue already started');
    const abort = new AbortController();
    this.loop = { abort, done: this.run(abort.signal) };
  }

  /** Stops the loop at once (a poll in flight finishes in the background). */
  async stop(): Promise<void> {
    const loop = this.loop;
    if (!loop) return;
    loop.abort.abort();
    await loop.done;
    this.loop = undefined;
  }

  private async run(signal: AbortSignal): Promise<void> {
    const interval = this.intervalMs;
    while (!signal.aborted) {
      const started = this.clock.now();
      let failed = false;
      try {
        // Not a race with one long-lived aborted promise: each race would leave a reaction on it until stop.
        await untilAborted(this.poll(), signal);
      } catch (err) {
        if (signal.aborted) break;
        failed = true;
        // The reference's message and level (an error, every poll there), so
        // log alerts written for it match; here at most once a minute.
        this.errors.error('error updating queue', { error: err instanceof Error ? err.message : String(err) });
      }
      const took = this.clock.now() - started;
      try {
        await this.clock.sleep(failed ? (interval > 0 ? interval : FAILED_POLL_RETRY_MS) : Math.max(interval, took), signal);
      } catch (err) {
        if (!isAbortError(err) && !signal.aborted) throw err;
        break;
      }
    }
  }
}
