/**
 * How a controller call fails, classified by what the caller should do
 * (DESIGN.md rule 4): `ControllerError.temporary` says whether trying again
 * later may help (the controller was unreachable, slow or answered 5xx even
 * after the client's own retries), or not (the controller refused: 4xx).
 */

/** Details of a failed call; never the token or any request header. */
export interface ControllerErrorDetails {
  method: string;
  /** The request path without the query string (filters can be long, and say nothing useful here). */
  path: string;
  /** The HTTP status of the last answer; absent when none came (network error, timeout). */
  status?: number;
  /** The controller's `errors` array, or a description of what went wrong. */
  errors: string[];
  /** Attempts made, the first included. */
  attempts: number;
  /** True when a later try may succeed: network error, timeout, 5xx, 408 or 429. */
  temporary: boolean;
  /** The call's `X-Request-Id` (every attempt of a call sends the same one). */
  requestId?: string;
  cause?: unknown;
}

/**
 * A controller call that failed for good. The message names the method and
 * path, carries the controller's error text and ends with the call's
 * request ID, under which the controller (and a proxy that logs
 * `$http_x_request_id`) logged it, e.g.
 * `POST /arvados/v1/containers/zzzzz-dz642-.../lock: HTTP 422: cannot lock when Locked (request req-0123456789abcdefghij)`.
 */
export class ControllerError extends Error {
  override readonly name = 'ControllerError';
  readonly method: string;
  readonly path: string;
  readonly status?: number;
  readonly errors: string[];
  readonly attempts: number;
  readonly temporary: boolean;
  readonly requestId?: string;

  constructor(d: ControllerErrorDetails) {
    const what = d.status === undefined ? d.errors.join('; ') : `HTTP ${d.status}: ${d.errors.join('; ')}`;
    const tries = d.attempts > 1 ? `giving up after ${d.attempts} attempts: ` : '';
    const id = d.requestId === undefined ? '' : ` (request ${d.requestId})`;
    super(`${d.method} ${d.path}: ${tries}${what}${id}`, d.cause === undefined ? undefined : { cause: d.cause });
    this.method = d.method;
    this.path = d.path;
    if (d.status !== undefined) this.status = d.status;
    this.errors = d.errors;
    this.attempts = d.attempts;
    this.temporary = d.temporary;
    if (d.requestId !== undefined) this.requestId = d.requestId;
  }
}

/** True if `err`, or an error in its `cause` chain, is a `ControllerError`. */
export function isControllerError(err: unknown): err is ControllerError {
  return findControllerError(err) !== undefined;
}

/** The first `ControllerError` in `err`'s `cause` chain, if any. */
export function findControllerError(err: unknown): ControllerError | undefined {
  for (let e = err, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if (e instanceof ControllerError) return e;
  }
  return undefined;
}

/** True for the controller refusing the request (4xx): trying the same call again will not help. */
export function isControllerRefusal(err: unknown): boolean {
  const ce = findControllerError(err);
  return ce !== undefined && ce.status !== undefined && ce.status >= 400 && ce.status < 500 && !ce.temporary;
}
