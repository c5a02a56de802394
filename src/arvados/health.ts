/**
 * What the controller's answers say about the controller: fed by the client
 * with the outcome of every request, read by the scheduler's concurrency
 * limit (`src/scheduler/limits.ts`), the metrics and the status page.
 *
 * Outcomes:
 * - `ok`: the controller answered (2xx, a 4xx refusal, even a 500): it is up;
 * - `overload`: 503 or 429, the controller (or its request limiter) is
 *   turning work away;
 * - `failed`: no answer from the controller itself: connection refused or
 *   reset, timeout, or a proxy's 502 or 504.
 *
 * An *episode* starts with the first `overload` or `failed` outcome after
 * the controller last answered, and ends with the first `ok` of a request
 * sent after the episode started (a request sent earlier may have been
 * accepted before the trouble began, so its success says nothing). How it
 * ends decides what it was:
 *
 * | episode (S = time from its first failure to its latest)     | verdict                  |
 * | ----------------------------------------------------------- | ------------------------ |
 * | still open, S >= OUTAGE_AFTER_MS                            | outage, now              |
 * | ended, S >= OUTAGE_AFTER_MS                                 | outage over: no overload |
 * | ended, S shorter, two 503s (or 429s) or more in it          | overload, when it ended  |
 * | ended, S shorter, one 503, and another such within LONE_MS  | overload, when it ended  |
 * | ended, S shorter, one 503, the first for LONE_MS            | nothing yet (remembered) |
 * | ended, S shorter, only network errors, timeouts, 502/504    | nothing (a blip)         |
 *
 * So "every request failing for a few seconds" is an outage (a restart, a
 * proxy blip), and "503s while requests sent after them succeed" is
 * overload. S is measured between failures, not to now: a burst of 503s
 * followed by seconds without a request (a slow poll loop) proves nothing
 * about those seconds. One lone 503 is not enough either: a short outage
 * that falls between two sparse requests looks exactly like it.
 * A controller that refuses everything for longer than
 * OUTAGE_AFTER_MS is taken for down, not overloaded; the dispatcher then
 * sends only its polls and whatever fails fast, so it does not pile on.
 */
import type { Clock } from '../clock/index.js';
import type { ControllerSignals } from '../scheduler/interfaces.js';

export type { ControllerSignals } from '../scheduler/interfaces.js';

/** Every request failing for this long (from the first failure to the latest) is an outage. */
export const OUTAGE_AFTER_MS = 1500;

/** Two episodes of a single 503 this close together are overload. */
export const LONE_MS = 4 * OUTAGE_AFTER_MS;

/** Weight of the newest success in the response-time average. */
const RESPONSE_TIME_WEIGHT = 0.2;

export type RequestOutcome = 'ok' | 'overload' | 'failed';

/** Requests by outcome since the start. */
export type OutcomeCounts = Record<RequestOutcome, number>;

/** The outcome of an HTTP status: see the header. */
export function outcomeOfStatus(status: number): RequestOutcome {
  if (status === 503 || status === 429) return 'overload';
  if (status === 502 || status === 504 || status === 408) return 'failed';
  return 'ok';
}

interface Episode {
  /** When its first failure came back. */
  start: number;
  /** When its latest failure came back. */
  last: number;
  overloads: number;
}

export class ControllerHealthTracker {
  private episode: Episode | undefined;
  private last503At = 0;
  private lastOverloadAt = 0;
  private lastOkAt = 0;
  private outageEndedAt = 0;
  /** When the last episode with a single 503 ended, 0 for none since the last verdict. */
  private loneAt = 0;
  private responseTime = 0;
  readonly counts: OutcomeCounts = { ok: 0, overload: 0, failed: 0 };

  constructor(private readonly clock: Clock) {}

  /**
   * One request's outcome, when its answer (or failure) came back.
   * @param sentAt when the request was sent (on the same clock).
   * @param status the HTTP status, when there was one.
   */
  record(outcome: RequestOutcome, sentAt: number, status?: number): void {
    const now = this.clock.now();
    this.counts[outcome]++;
    if (status === 503) this.last503At = now;
    if (outcome !== 'ok') {
      const e = (this.episode ??= { start: now, last: now, overloads: 0 });
      e.last = now;
      if (outcome === 'overload') e.overloads++;
      return;
    }
    this.lastOkAt = now;
    const took = Math.max(0, now - sentAt);
    this.responseTime = this.responseTime === 0 ? took : this.responseTime + RESPONSE_TIME_WEIGHT * (took - this.responseTime);
    const e = this.episode;
    if (!e || sentAt < e.start) return;
    this.episode = undefined;
    if (isOutage(e)) {
      this.outageEndedAt = now;
    } else if (e.overloads > 1 || (e.overloads === 1 && this.loneAt > 0 && now - this.loneAt <= LONE_MS)) {
      this.lastOverloadAt = now;
      this.loneAt = 0;
    } else if (e.overloads === 1) {
      this.loneAt = now;
    }
  }

  /** Epoch ms of the last 503, or 0. */
  last503(): number {
    return this.last503At;
  }

  /** What the concurrency limit and the operator need to know, now. */
  signals(): ControllerSignals {
    const e = this.episode;
    return {
      failingSince: e ? e.start : 0,
      outage: e !== undefined && isOutage(e),
      lastOverload: this.lastOverloadAt,
      outageEnded: this.outageEndedAt,
      lastAnswer: this.lastOkAt,
      responseTimeMs: this.responseTime,
    };
  }
}

/** Failures spanning OUTAGE_AFTER_MS or more. */
function isOutage(e: Episode): boolean {
  return e.last - e.start >= OUTAGE_AFTER_MS;
}
