/**
 * What a Compute API error means for the dispatcher (ARVADOS.md section 8):
 * 429 / rateLimitExceeded -> RateLimitError, quotaExceeded / QUOTA_EXCEEDED
 * -> QuotaError, or a CapacityError for the quota group when the quota is a
 * machine family's, a GPU model's or a Spot one (quota.ts),
 * ZONE_RESOURCE_POOL_EXHAUSTED(_WITH_DETAILS) and a machine
 * type (accelerator type, disk type) the zone lacks -> CapacityError for the
 * type. HTTP errors arrive from @google-cloud/compute 6.x as raw
 * GaxiosErrors (status, and the Google error JSON in the message, or in
 * `response.data` and `cause` with other gaxios versions); failures of an
 * accepted create arrive later in the zone operation's `error`.
 */
import { CapacityError, QuotaError, RateLimitError } from '../../src/cloud/errors.js';
import type { Clock } from '../../src/clock/index.js';
import { quotaGroupOf, quotaMetrics } from './quota.js';

/** One entry of an operation's `error.errors`, as the client library parses it. */
export interface OperationErrorItem {
  code?: string | null;
  message?: string | null;
  /** Structured details: `quotaInfo` (the quota run over), `errorInfo`, `help`, `localizedMessage`. */
  errorDetails?: readonly unknown[] | null;
}

/**
 * An operation that finished with errors; `codes` are the `error.errors[].code`
 * values, `items` the entries themselves (their errorDetails name the quota
 * a QUOTA_EXCEEDED is about).
 */
export class GceOperationError extends Error {
  override name = 'GceOperationError';
  constructor(
    message: string,
    readonly codes: string[],
    readonly items: readonly OperationErrorItem[] = [],
  ) {
    super(message);
  }
}

/**
 * What a create takes as the answer of a zone it did not ask because the
 * type (in this market) was out of capacity there, or not offered, less than
 * PLACE_CAPACITY_TTL_MS ago: the ZONE_RESOURCE_POOL_EXHAUSTED it would most
 * likely give again, so the failover and `classify` treat it as one (a
 * CapacityError for the type when no zone is left).
 */
export class RememberedCapacityError extends GceOperationError {
  override name = 'RememberedCapacityError';
  constructor(zone: string, ttlMs: number) {
    super(`not asked: zone ${zone} had no capacity for this type and market (or did not offer it) less than ${ttlMs / 1000} s ago`, ['ZONE_RESOURCE_POOL_EXHAUSTED']);
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
  response?: { status?: unknown; data?: unknown };
  errors?: unknown;
  cause?: unknown;
}

/** One entry of a Google error body's `error.errors`, or the body's own `error.message`. */
interface GoogleErrorItem {
  reason?: unknown;
  message?: unknown;
  errorDetails?: unknown;
}

const asObj = (err: unknown): ErrorLike | undefined => (typeof err === 'object' && err !== null ? (err as ErrorLike) : undefined);

const itemsOf = (list: unknown): GoogleErrorItem[] => (Array.isArray(list) ? list.filter((x): x is GoogleErrorItem => asObj(x) !== undefined) : []);

/**
 * The items of a Google error body, `{"error": {"message": ..., "errors": [{"reason": ...}]}}`,
 * given as an object or as its JSON text; none for anything else.
 */
function bodyItems(body: unknown): GoogleErrorItem[] {
  let parsed = body;
  if (typeof body === 'string') {
    if (!body.trimStart().startsWith('{')) return [];
    try {
      parsed = JSON.parse(body);
    } catch {
      return [];
    }
  }
  const error = asObj((asObj(parsed) as { error?: unknown } | undefined)?.error) as { message?: unknown; errors?: unknown } | undefined;
  if (!error) return [];
  return [...(typeof error.message === 'string' ? [{ message: error.message }] : []), ...itemsOf(error.errors)];
}

/**
 * Every Google error item an API error carries, wherever the client library
 * put it. gaxios 7 makes a streamed error body the message text (what
 * @google-cloud/compute 6.x gets today); when it parses the body instead, the
 * body is `response.data` and its `error` object, `errors` included, is the
 * error's `cause`. Reading all of them keeps quota and rate-limit reasons from
 * vanishing silently when a library update moves them.
 */
function googleItems(err: unknown): GoogleErrorItem[] {
  const e = asObj(err);
  if (!e) return [];
  const cause = asObj(e.cause);
  return [
    ...(typeof e.reason === 'string' ? [{ reason: e.reason }] : []),
    ...itemsOf(e.errors),
    ...bodyItems(e.message),
    ...bodyItems(e.response?.data),
    ...(cause ? [...itemsOf(cause.errors), ...bodyItems(cause.message)] : []),
  ];
}

/** The HTTP status of an API error, 0 when it has none (network errors, operation errors). */
export function httpStatus(err: unknown): number {
  const e = asObj(err);
  if (!e) return 0;
  for (const s of [e.status, e.response?.status]) if (typeof s === 'number') return s;
  return 0;
}

/** Every `reason` (HTTP errors) and `code` (operation errors) the error carries, each once. */
export function reasons(err: unknown): string[] {
  if (err instanceof GceOperationError) return err.codes;
  const out = googleItems(err)
    .map((x) => x.reason)
    .filter((r): r is string => typeof r === 'string');
  return [...new Set(out)];
}

/** Every message text the error carries: its own, and those of the Google error items in it. */
export function messages(err: unknown): string[] {
  const own = asObj(err)?.message;
  const items: Array<{ message?: unknown }> = err instanceof GceOperationError ? [...err.items] : googleItems(err);
  const out = items.map((x) => x.message).filter((m): m is string => typeof m === 'string');
  return [...new Set([...(typeof own === 'string' ? [own] : []), ...out])];
}

/** Every `errorDetails` entry of the error's items: an operation's, or an HTTP error body's should it carry them. */
export function errorDetails(err: unknown): unknown[] {
  const items: Array<{ errorDetails?: unknown }> = err instanceof GceOperationError ? [...err.items] : googleItems(err);
  return items.flatMap((x) => (Array.isArray(x.errorDetails) ? (x.errorDetails as unknown[]) : []));
}

export function isThrottle(err: unknown): boolean {
  return httpStatus(err) === 429 || reasons(err).some((r) => RATE_LIMIT_REASONS.has(r));
}

export function isQuota(err: unknown): boolean {
  return reasons(err).some((r) => QUOTA_REASONS.has(r));
}

/** The quota metrics (`N2_CPUS`) a quota error names, from its errorDetails' quotaInfo and its messages. */
export function quotaMetricsOf(err: unknown): string[] {
  return quotaMetrics(errorDetails(err), messages(err));
}

/**
 * A quota error about quotas of the zone's region only (`CPUS`, `N2_CPUS`,
 * `INSTANCES`, ...: every metric it names, and it names one), which a zone
 * in another region does not share; not the `*_ALL_REGIONS` ones.
 */
export function regionalQuota(err: unknown): boolean {
  if (!isQuota(err)) return false;
  const metrics = quotaMetricsOf(err);
  return metrics.length > 0 && metrics.every((m) => !m.endsWith('_ALL_REGIONS'));
}

/** This zone has none of this machine type right now: another zone may. */
export function isZoneCapacity(err: unknown): boolean {
  return reasons(err).some((r) => ZONE_CAPACITY_CODES.has(r));
}

const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * This zone lacks something the insert names: GCE answers a machine type,
 * accelerator type or disk type the zone does not offer with a synchronous
 * 400 `invalid` ("Machine type with name 'a2-highgpu-1g' does not exist in
 * zone 'us-central1-f'.") or a 404 naming `zones/<zone>/machineTypes/...`.
 * Another zone may offer it, as another zone may have capacity.
 */
export function isZoneUnsupported(err: unknown, zone: string): boolean {
  const status = httpStatus(err);
  if (status !== 400 && status !== 404) return false;
  const z = escapeRegExp(zone);
  const resource = new RegExp(`(^|[/'" ])zones/${z}/(machineTypes|acceleratorTypes|diskTypes)/`);
  const missing = new RegExp(`does not exist in zone '${z}'`);
  return messages(err).some((m) => resource.test(m) || missing.test(m));
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
  /** For create: the zone asked, whose lack of the machine type (or its GPUs, or disk type) is a capacity error for the type. */
  zone?: string;
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
  if (isQuota(err)) {
    const metrics = quotaMetricsOf(err);
    const named = metrics.length > 0 ? `${detail} (quota ${metrics.join(', ')})` : detail;
    // Only a create's failure holds back a group of types; the pool learns the type's group from it.
    const quotaGroup = ctx.providerType !== undefined ? quotaGroupOf(metrics) : undefined;
    if (quotaGroup !== undefined) return new CapacityError(named, { cause: err, quotaGroup });
    return new QuotaError(named, { cause: err });
  }
  if (isZoneCapacity(err) && ctx.providerType !== undefined) return new CapacityError(detail, { cause: err, instanceType: ctx.providerType });
  // As the ec2 driver takes "Unsupported ... requested instance type": the pool uses other eligible types for a while, and tries again later.
  if (ctx.zone !== undefined && ctx.providerType !== undefined && isZoneUnsupported(err, ctx.zone)) {
    // Google's own words name what is missing (the machine type, its GPUs or its disk type).
    const said = messages(err).find((m) => !m.trimStart().startsWith('{')) ?? `not offered in ${ctx.zone}`;
    return new CapacityError(`${detail}: ${said.slice(0, 300)}`, { cause: err, instanceType: ctx.providerType });
  }
  if (!(err instanceof Error) || err.message.trim() === '') return new GceCallError(`${detail}${describe(err).trim() === '' ? 'no message' : ''}`, httpStatus(err), { cause: err });
  return err;
}
