/**
 * How many of the client's requests may be in flight at once: a window that
 * backs off when the controller is overloaded, so a burst of work (the
 * scheduler locking two dozen containers in one pass) waits its turn in the
 * client instead of being refused by the controller's request limiter and
 * sent again at the next pass. Requests past the window wait, in order.
 *
 * | event (verdicts from `health.ts`)                   | window becomes                             |
 * | --------------------------------------------------- | ------------------------------------------ |
 * | start                                               | `start` (default the cap), at most the cap |
 * | overload verdict, the last cut over one spacing ago | max(1, floor(min(window, in flight) / 2))  |
 * | overload verdict within one spacing of the last cut | unchanged                                  |
 * | a request answered while nothing is failing         | + 1 / window, up to the cap                |
 * | outage, a blip, a lone 503                          | unchanged                                  |
 *
 * The spacing is twice the controller's recent response time, at least
 * 250 ms: the requests already sent when the first cut is made come back
 * refused too, and must not cut again. Growth by 1 / window per answer is
 * about one more request in flight per round trip of a full window, as TCP
 * grows its congestion window; an outage leaves the window where it was, so
 * work resumes at the old pace when the controller is back. The daemon's
 * client starts below its cap (at 8, as the reference's request limiter
 * does), so a burst at start-up does not hit the controller with the whole
 * cap before any answer has said how it copes.
 */

/** The least time between two cuts. */
export const MIN_CUT_SPACING_MS = 250;

export class RequestWindow {
  private size: number;
  private inFlight = 0;
  private lastCut = 0;
  private readonly waiting: Array<{ go: () => void }> = [];

  /**
   * @param cap the most requests ever allowed in flight (at least 1)
   * @param start the window at first; growth takes it to `cap`. Default `cap`.
   */
  constructor(
    readonly cap: number,
    start: number = cap,
  ) {
    this.size = Math.max(1, Math.min(cap, start));
  }

  /** The current window (requests allowed in flight). */
  get current(): number {
    return Math.floor(this.size);
  }

  /** Requests in flight now. */
  get active(): number {
    return this.inFlight;
  }

  /** Requests waiting for room. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Resolves when the request may be sent; rejects if `signal` aborts first. Each success must be `release`d. */
  acquire(signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (this.waiting.length === 0 && this.inFlight < this.current) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const entry = {
        go: () => {
          signal?.removeEventListener('abort', onAbort);
          this.inFlight++;
          resolve();
        },
      };
      const onAbort = (): void => {
        const i = this.waiting.indexOf(entry);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(entry);
    });
  }

  /** A request is done (answered or failed): let the next one go. */
  release(): void {
    this.inFlight--;
    this.pump();
  }

  /** An overload verdict at `now`; `responseTimeMs` sets the spacing between cuts. */
  cut(now: number, responseTimeMs: number): void {
    if (now - this.lastCut < Math.max(MIN_CUT_SPACING_MS, 2 * responseTimeMs)) return;
    this.lastCut = now;
    this.size = Math.max(1, Math.floor(Math.min(this.size, this.inFlight) / 2));
  }

  /** A request answered while nothing is failing. */
  grow(): void {
    if (this.size >= this.cap) return;
    this.size = Math.min(this.cap, this.size + 1 / this.size);
    this.pump();
  }

  private pump(): void {
    while (this.waiting.length > 0 && this.inFlight < this.current) this.waiting.shift()!.go();
  }
}
