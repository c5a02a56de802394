/**
 * What a Compute API error means for the dispatcher (ARVADOS.md section 8):
 * 429 / rateLimitExceeded -> RateLimitError, quotaExceeded / QUOTA_EXCEEDED
 * -> QuotaError, ZONE_RESOURCE_POOL_EXHAUSTED(_WITH_DETAILS) -> CapacityError
 * for the type. HTTP errors arrive from @google-cloud/compute 6.x as raw
 * GaxiosErrors (status, and the Google error JSON in the message); failures
 * of an accepted create arrive later in the zone operation's `error`.
 */
import { CapacityError, QuotaError, RateLimitError } from '../../src/cloud/errors.js';
import type { Clock } from '../../src/clock/index.js';

/** An operation that finished with errors; `codes` are the `error.errors[].code` values. */
export class GceOperationError extends Error {
  override name = 'GceOperationError';
  constructor(
    message: string,
    readonly codes: string[],
  ) {
    super(message);
  }
}

/**
 * An API error that came without a message of its own (an empty body: the
 * client library makes the body the message), given one that says what
 * failed; `status` keeps the HTTP status for the checks above.
 */
export class GceCallError extends Error {
  override name = 'GceCallError';
  constructor(
    message: string,
    readonly status: number,
    options: { cause: unknown },
  ) {
    super(message, options);
  }
}

export const RATE_LIMIT_REASONS: ReadonlySet<string> = new Set(['rateLimitExceeded', 'userRateLimitExceeded']);
export const QUOTA_REASONS: ReadonlySet<string> = new Set(['quotaExceeded', 'QUOTA_EXCEEDED']);
export const ZONE_CAPACITY_CODES: ReadonlySet<string> = new Set(['ZONE_RESOURCE_POOL_EXHAUSTED', 'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS']);

const NETWORK_ERROR_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_SOCKET']);

interface ErrorLike {
  message?: unknown;
  status?: unknown;
  code?: unknown;
  reason?: unknown;
  response?: { status?: unknown };
  errors?: Array<{ reason?: unknown }>;
}

const asObj = (err: unknown): ErrorLike | undefined => (typeof err === 'object' && err !== null ? (err as ErrorLike) : undefined);

/** The HTTP status of an API error, 0 when it has none (network errors, operation errors). */
export function httpStatus(err: unknown): number {
  const e = asObj(err);
  if (!e) return 0;
  for (const s of [e.status, e.response?.status]) if (typeof s === 'number') return s;
  return 0;
}

/** Every `reason` (HTTP errors) and `code` (operation errors) the error carries. */
export function reasons(err: unknown): string[] {
  if (err instanceof GceOperationError) return err.codes;
  const e = asObj(err);
  if (!e) return [];
  const out: string[] = [];
  if (typeof e.reason === 'string') out.push(e.reason);
  for (const x of e.errors ?? []) if (typeof x?.reason === 'string') out.push(x.reason);
  // GaxiosError's message is the response body: {"error": {"errors": [{"reason": ...}]}}.
  if (typeof e.message === 'string' && e.message.trimStart().startsWith('{')) {
    try {
      const body = JSON.parse(e.message) as { error?: { errors?: Array<{ reason?: unknown }>; status?: unknown } };
      for (const x of body.error?.errors ?? []) if (typeof x?.reason === 'string') out.push(x.reason);
    } catch {
      // Not JSON after all: no reasons.
    }
  }
  return out;
}

export function isThrottle(err: unknown): boolean {
  return httpStatus(err) === 429 || reasons(err).some((r) => RATE_LIMIT_REASONS.has(r));
}

export function isQuota(err: unknown): boolean {
  return reasons(err).some((r) => QUOTA_REASONS.has(r));
}

/** This zone has none of this machine type right now: another zone may. */
export function isZoneCapacity(err: unknown): boolean {
  return reasons(err).some((r) => ZONE_CAPACITY_CODES.has(r));
}

export function isNotFound(err: unknown): boolean {
  return httpStatus(err) === 404;
}

/** 400 resourceNotReady: another operation (a delete under way) holds the resource. */
export function isNotReady(err: unknown): boolean {
  return reasons(err).includes('resourceNotReady');
}

/** 412: the metadata fingerprint we sent is stale. */
export function isPreconditionFailed(err: unknown): boolean {
  return httpStatus(err) === 412 || reasons(err).includes('conditionNotMet');
}

/** A failure the same (idempotent) request may not repeat: a 5xx or a dropped connection. */
export function isTransient(err: unknown): boolean {
  if (err instanceof GceOperationError) return false;
  if (httpStatus(err) >= 500) return true;
  const code = asObj(err)?.code;
  if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return true;
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  return cause !== undefined && cause !== err && isTransient(cause);
}

/** Short text for messages: the reasons if any, else the error's message (never a request body). */
function describe(err: unknown): string {
  const r = reasons(err);
  const status = httpStatus(err);
  const msg = err instanceof Error ? err.message : String(err);
  return `${status ? `HTTP ${status} ` : ''}${r.length ? r.join(',') : msg.slice(0, 300)}`;
}

/** Consecutive throttles back off 1 s, 2.5 s, 4.75 s ... up to a minute; any other answer resets. */
export class ThrottleBackoff {
  private delayMs = 0;
  throttled(): number {
    this.delayMs = Math.min(60_000, Math.max(1000, (this.delayMs * 3) / 2 + 1000));
    return this.delayMs;
  }
  reset(): void {
    this.delayMs = 0;
  }
}

export interface ClassifyContext {
  clock: Clock;
  backoff: ThrottleBackoff;
  /** What was being done, for the message: `insert n2-standard-2`. */
  what: string;
  /** For create: the provider type a capacity error is about. */
  providerType?: string;
}

/**
 * Wraps an API error in the class the caller acts on (the original stays as
 * `cause`), or returns it unchanged when it is none of them (given a
 * message first if it has none).
 */
export function classify(err: unknown, ctx: ClassifyContext): unknown {
  const detail = `gce: ${ctx.what}: ${describe(err)}`;
  if (isThrottle(err)) return new RateLimitError(detail, ctx.clock.now() + ctx.backoff.throttled(), { cause: err });
  ctx.backoff.reset();
  if (isQuota(err)) return new QuotaError(detail, { cause: err });
  if (isZoneCapacity(err) && ctx.providerType !== undefined) return new CapacityError(detail, { cause: err, instanceType: ctx.providerType });
  if (!(err instanceof Error) || err.message.trim() === '') return new GceCallError(`${detail}${describe(err).trim() === '' ? 'no message' : ''}`, httpStatus(err), { cause: err });
  return err;
}
