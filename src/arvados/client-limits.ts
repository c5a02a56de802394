/**
 * How hard the controller client tries and how much it asks of the
 * controller at once: retries, the per-attempt limit and the cap on
 * requests in flight, the last two from the cluster config every Arvados
 * service shares (see client.ts's header for the policy).
 */

/** How hard to try. */
export interface RetryOptions {
  /** Attempts per call, the first included. */
  attempts: number;
  /** Wait before the second attempt; multiplied by `backoffFactor` for each later one. */
  firstBackoffMs: number;
  /** Growth of the wait from one retry to the next. Default 2. */
  backoffFactor?: number;
  /** Retry 503 and 429 too (a crunch-run's client, not the dispatcher's). Default false. */
  retryOverload?: boolean;
  /** The wait between attempts never exceeds this. */
  maxBackoffMs: number;
  /** One attempt with no complete answer after this long is abandoned, and the call fails (no retry: see the header). */
  requestTimeoutMs: number;
}

/**
 * Two quick retries (after 250 ms, then 1 s) of failures that are not
 * overload; see the header. The 60 s limit per attempt is for clients built
 * in code (tests, the lame crunch-run); the daemon's own takes its limit
 * from the cluster config (`controllerRequestTimeoutMs`).
 */
export const DEFAULT_RETRY: RetryOptions = { attempts: 3, firstBackoffMs: 250, backoffFactor: 4, maxBackoffMs: 1000, requestTimeoutMs: 60_000 };

/** The controller asking for less load: retried only with `retryOverload`. */
const OVERLOAD_STATUSES = new Set([503, 429]);

/**
 * The statuses retried inside a call: a request timeout, and the errors a
 * proxy gives while the controller restarts. Other 5xx (501, 505, 507, ...)
 * are temporary for the caller's own schedule but would only come back again.
 */
const RETRY_IN_CALL = new Set([408, 500, 502, 504]);

/** An error answer worth trying again later: any 5xx, a request timeout (408), throttling (429). */
export function isTemporaryStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** Whether an answer with this (temporary) status is sent again inside the call. */
export function retriedInCall(status: number, retry: Pick<RetryOptions, 'retryOverload'>): boolean {
  return RETRY_IN_CALL.has(status) || (OVERLOAD_STATUSES.has(status) && retry.retryOverload === true);
}

/** The shortest per-attempt limit the daemon's client uses. */
const MIN_ATTEMPT_LIMIT_MS = 60_000;
/** How much longer than the controller's own deadline an attempt waits: its 503 still has to travel back through a proxy. */
const DEADLINE_MARGIN_MS = 10_000;
/** The per-attempt limit when the controller has no deadline (`API.RequestTimeout: 0`). */
const NO_DEADLINE_ATTEMPT_LIMIT_MS = 10 * 60_000;

/** The window of the daemon's client starts here (the reference's request limiter starts at 8 too). */
export const INITIAL_WINDOW = 8;
/**
 * The cap when the controller's `API.MaxConcurrentRequests` is 0 (no limit
 * at the controller). The reference's client then has none either, but
 * house rule 5 wants one: the window grows past its start only while
 * answers come back and nothing fails, so this bound only matters under a
 * controller that keeps up, and it keeps one dispatcher's sockets (one per
 * request in flight over HTTP/1.1) well below the unit's LimitNOFILE and an
 * nginx worker's default 768 connections. It is what the reference's cap
 * would be at MaxConcurrentRequests 1024; at the default 64 it is 16.
 */
const NO_CONTROLLER_LIMIT_CAP = 256;

/**
 * The most requests the daemon's client has in flight at once, from the
 * cluster's `API.MaxConcurrentRequests` (the controller's own limit, in the
 * config every service shares): a quarter of it, as the reference's client
 * caps its request limiter, so one dispatcher never takes more than a
 * quarter of the controller's slots. At least 1: the reference's integer
 * division gives 0, which means no cap at all, for a limit of 1 to 3. A
 * limit of 0 (none) gives `NO_CONTROLLER_LIMIT_CAP`.
 */
export function controllerConcurrencyCap(maxConcurrentRequests: number): number {
  if (maxConcurrentRequests === 0) return NO_CONTROLLER_LIMIT_CAP;
  return Math.max(1, Math.floor(maxConcurrentRequests / 4));
}

/**
 * The per-attempt limit of the daemon's controller client, from the
 * cluster's `API.RequestTimeout` (ms): the controller answers 503 to a
 * request still waiting for its turn at that deadline, so waiting a margin
 * longer lets that answer arrive, as the reference's client (no limit at
 * all) would see it; and never less than a minute. With 0 the controller
 * has no deadline and may hold a request as long as its queue is long; the
 * reference would wait forever, but a connection whose peer vanished
 * without a reset (a host gone, a NAT entry dropped) would then hang a poll
 * or a lock for good, so the limit is a fixed 10 minutes: twice the default
 * deadline, and past the 300 s `proxy_read_timeout` Arvados's nginx
 * examples use, so a proxy in front answers first. A negative
 * RequestTimeout (every waiting request gets 503 at once) gives the minute.
 */
export function controllerRequestTimeoutMs(requestTimeoutMs: number): number {
  if (requestTimeoutMs === 0) return NO_DEADLINE_ATTEMPT_LIMIT_MS;
  return Math.max(MIN_ATTEMPT_LIMIT_MS, requestTimeoutMs + DEADLINE_MARGIN_MS);
}
