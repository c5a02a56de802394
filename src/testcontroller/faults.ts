/**
 * Load faults of the test controller, on its injected clock:
 *
 * - an outage schedule: every request answered 503 for `forMs` of every
 *   `everyMs` (a controller restarting, a proxy without a backend);
 * - a request limiter like Arvados's `API.MaxConcurrentRequests`: a request
 *   arriving while `maxInFlight` are being handled is refused with 503 at
 *   once. With latency (`TestController.setLatency`) each admitted request
 *   holds its place for that long, so the in-flight count is realistic.
 *
 * Every answer is counted as served or refused (503), by caller: the first
 * product of the request's User-Agent (`arvados-dispatch-cloud`,
 * `crunch-run`), since the dispatcher and its crunch-runs may share a token.
 */

/** Outages at a fixed rhythm: the first starts `everyMs - forMs` after the schedule is set. */
export interface OutageSchedule {
  everyMs: number;
  forMs: number;
}

/** Requests answered, by outcome. */
export interface RequestCounts {
  served: number;
  refused: number;
}

/** How a request was refused, or undefined if admitted. */
export type Refusal = 'outage' | 'overload' | undefined;

export class LoadFaults {
  private outage?: OutageSchedule & { since: number };
  private maxInFlight = 0;
  private inFlightNow = 0;
  private readonly counts = new Map<string, RequestCounts>();
  /** The most requests handled at once. */
  maxInFlightSeen = 0;

  /** Sets (or with undefined, clears) the outage schedule, starting its rhythm at `now`. */
  setOutage(schedule: OutageSchedule | undefined, now: number): void {
    if (schedule && !(schedule.everyMs > 0 && schedule.forMs >= 0 && schedule.forMs <= schedule.everyMs)) {
      throw new Error(`outage schedule needs 0 <= forMs <= everyMs and everyMs > 0, not ${JSON.stringify(schedule)}`);
    }
    this.outage = schedule && { ...schedule, since: now };
  }

  /** Requests handled at once past which more are refused; 0 for no limit. */
  setMaxInFlight(n: number): void {
    this.maxInFlight = Math.max(0, Math.floor(n));
  }

  /** True while the outage schedule says the controller is down. */
  inOutage(now: number): boolean {
    const o = this.outage;
    if (!o || o.forMs === 0) return false;
    const phase = (now - o.since) % o.everyMs;
    return phase >= o.everyMs - o.forMs;
  }

  /** Decides whether a request arriving now is handled; an admitted one must be `leave()`d once answered. */
  admit(now: number): Refusal {
    if (this.inOutage(now)) return 'outage';
    if (this.maxInFlight > 0 && this.inFlightNow >= this.maxInFlight) return 'overload';
    this.inFlightNow++;
    this.maxInFlightSeen = Math.max(this.maxInFlightSeen, this.inFlightNow);
    return undefined;
  }

  leave(): void {
    this.inFlightNow--;
  }

  /** Requests being handled now. */
  get inFlight(): number {
    return this.inFlightNow;
  }

  /** Counts one answer: a 503 is refused, anything else served. */
  count(userAgent: string | undefined, status: number): void {
    const caller = callerOf(userAgent);
    let c = this.counts.get(caller);
    if (!c) this.counts.set(caller, (c = { served: 0, refused: 0 }));
    if (status === 503) c.refused++;
    else c.served++;
  }

  /** Answers by caller, and in total. */
  requestCounts(): { byCaller: Record<string, RequestCounts>; total: RequestCounts } {
    const byCaller: Record<string, RequestCounts> = {};
    const total = { served: 0, refused: 0 };
    for (const [caller, c] of this.counts) {
      byCaller[caller] = { ...c };
      total.served += c.served;
      total.refused += c.refused;
    }
    return { byCaller, total };
  }
}

/** The first product token of a User-Agent (`crunch-run/1.0 (x)` -> `crunch-run`), or `unknown`. */
export function callerOf(userAgent: string | undefined): string {
  const product = (userAgent ?? '').trim().split(/[\s/]/)[0];
  return product === '' ? 'unknown' : product;
}
