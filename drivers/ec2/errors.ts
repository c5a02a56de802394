/**
 * What an EC2 API error means for the dispatcher (ARVADOS.md section 8):
 * throttling -> RateLimitError, account limits -> QuotaError, out of stock
 * for a type or a vCPU quota group -> CapacityError. Also which errors are
 * worth trying in another subnet, and which are worth retrying at once.
 */
import { CapacityError, QuotaError, RateLimitError } from '../../src/cloud/errors.js';
import type { Clock } from '../../src/clock/index.js';
import { quotaGroupFor } from './quota-group.js';

export { quotaGroupFor } from './quota-group.js';

/** The fields of an SDK error this module reads; plain objects in tests. */
export interface AwsErrorLike {
  name?: string;
  message?: string;
  code?: string;
  $fault?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
}

/**
 * Codes the AWS SDK itself treats as throttling (its retry classifier's
 * list), so we recognise everything the SDK would have backed off on.
 */
export const THROTTLE_CODES: ReadonlySet<string> = new Set([
  'BandwidthLimitExceeded',
  'EC2ThrottledException',
  'LimitExceededException',
  'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'SlowDown',
  'ThrottledException',
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'TransactionInProgressException',
]);

/** The account (or this subnet) can hold no more: waiting for an instance to go away is what helps. */
export const QUOTA_CODES: ReadonlySet<string> = new Set([
  'InstanceLimitExceeded',
  'InsufficientAddressCapacity',
  'InsufficientFreeAddressesInSubnet',
  'InsufficientVolumeCapacity',
  'MaxSpotInstanceCountExceeded',
]);

/** Per-family vCPU limit: other families may still fit. */
export const QUOTA_GROUP_CAPACITY_CODES: ReadonlySet<string> = new Set(['VcpuLimitExceeded']);

/** AWS has none of this type in this zone right now: another type may work. */
export const TYPE_CAPACITY_CODES: ReadonlySet<string> = new Set(['InsufficientInstanceCapacity']);

const NETWORK_ERROR_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);

function asAws(err: unknown): AwsErrorLike | undefined {
  return typeof err === 'object' && err !== null ? (err as AwsErrorLike) : undefined;
}

/** The EC2 error code (the SDK puts it in `name`). */
export function errorCode(err: unknown): string {
  return asAws(err)?.name ?? '';
}

export function isThrottle(err: unknown): boolean {
  const e = asAws(err);
  if (!e) return false;
  return e.$metadata?.httpStatusCode === 429 || THROTTLE_CODES.has(e.name ?? '') || e.$retryable?.throttling === true;
}

/** A failure the same request may not repeat: a 5xx or a dropped connection. */
export function isTransient(err: unknown): boolean {
  const e = asAws(err);
  if (!e) return false;
  const status = e.$metadata?.httpStatusCode ?? 0;
  return status >= 500 || e.$fault === 'server' || NETWORK_ERROR_CODES.has(e.code ?? '') || e.name === 'TimeoutError';
}

/** InstanceLimitExceeded and friends. */
export function isQuota(err: unknown): boolean {
  return QUOTA_CODES.has(errorCode(err));
}

/** True for errors that name a type as unavailable (what the reference calls a capacity error). */
export function isTypeCapacity(err: unknown): boolean {
  const code = errorCode(err);
  return TYPE_CAPACITY_CODES.has(code) || (code === 'Unsupported' && /requested instance type/i.test(asAws(err)?.message ?? ''));
}

/** A capacity error of either kind: the type is out of stock, or its vCPU quota group is full. Another type may work. */
export function isCapacity(err: unknown): boolean {
  return isTypeCapacity(err) || QUOTA_GROUP_CAPACITY_CODES.has(errorCode(err));
}

const SUBNET_SPECIFIC_MESSAGE = /( subnet |sufficient free [Ii]pv[46] addresses)/;

/**
 * Whether RunInstances might succeed in another subnet (which is usually
 * another availability zone): subnet errors, zone capacity, and the
 * InvalidParameter errors whose message blames the subnet.
 */
export function isSubnetSpecific(err: unknown): boolean {
  const code = errorCode(err);
  if (code === '') return false;
  return (
    code.includes('Subnet') ||
    code === 'InsufficientInstanceCapacity' ||
    code === 'InsufficientVolumeCapacity' ||
    code === 'Unsupported' ||
    (code.includes('InvalidParameter') && SUBNET_SPECIFIC_MESSAGE.test(asAws(err)?.message ?? ''))
  );
}

/**
 * The throttle back-off of one kind of call: it grows by half plus a second
 * with each consecutive throttle (1 s, 2.5 s, 4.75 s, ... at most a minute)
 * and resets when a call gets any other answer but a quota or capacity
 * error, as the reference's does.
 */
export class ThrottleBackoff {
  private delayMs = 0;
  static readonly MIN_MS = 1000;
  static readonly MAX_MS = 60_000;

  /** Records a throttle; returns the delay to wait before the next call. */
  throttled(): number {
    this.delayMs = Math.min(ThrottleBackoff.MAX_MS, Math.max(ThrottleBackoff.MIN_MS, (this.delayMs * 3) / 2 + 1000));
    return this.delayMs;
  }

  reset(): void {
    this.delayMs = 0;
  }

  get current(): number {
    return this.delayMs;
  }
}

/** What `classify` needs to know about the call that failed. */
export interface ClassifyContext {
  clock: Clock;
  backoff: ThrottleBackoff;
  /** What was being done, for the message: `RunInstances m5.large`. */
  what: string;
  /** For create: the provider type and its quota groups, so capacity errors can name them. */
  providerType?: string;
  quotaGroups?: Record<string, string>;
  /** For create: a spot request, whose vCPU quota group is the `-spot` one. */
  preemptible?: boolean;
}

/**
 * Wraps an SDK error in the class the caller acts on (the SDK error stays as
 * `cause`), or returns it unchanged when it is none of them. Updates the
 * back-off: throttles grow it, quota and capacity errors leave it, anything
 * else resets it.
 */
export function classify(err: unknown, ctx: ClassifyContext): unknown {
  const code = errorCode(err);
  const detail = `${ctx.what}: ${code || 'error'}: ${asAws(err)?.message ?? String(err)}`;
  if (isThrottle(err)) {
    const delay = ctx.backoff.throttled();
    return new RateLimitError(`ec2: ${detail}`, ctx.clock.now() + delay, { cause: err });
  }
  // As the reference's wrapError: a quota or capacity answer leaves the
  // throttle back-off where it is; any other answer resets it.
  if (!isQuota(err) && !isCapacity(err)) ctx.backoff.reset();
  if (isQuota(err)) return new QuotaError(`ec2: ${detail}`, { cause: err });
  if (QUOTA_GROUP_CAPACITY_CODES.has(code) && ctx.providerType !== undefined) {
    const quotaGroup = quotaGroupFor({ ProviderType: ctx.providerType, Preemptible: ctx.preemptible ?? false }, ctx.quotaGroups ?? {});
    return new CapacityError(`ec2: ${detail}`, { cause: err, quotaGroup });
  }
  if (isTypeCapacity(err) && ctx.providerType !== undefined) {
    return new CapacityError(`ec2: ${detail}`, { cause: err, instanceType: ctx.providerType });
  }
  return err;
}
