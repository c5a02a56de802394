/**
 * Cloud error classes, named for what the caller should do. A driver wraps
 * the provider's error as `cause`; the guards look through `cause` chains so
 * a wrapped error is still recognised.
 */

/** The provider is throttling us: make no call before `earliestRetry` (epoch ms). */
export class RateLimitError extends Error {
  override name = 'RateLimitError';
  constructor(
    message: string,
    readonly earliestRetry: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The account cannot have more instances: stop creating until one goes away (or a minute passes). */
export class QuotaError extends Error {
  override name = 'QuotaError';
}

/**
 * The provider is out of capacity. With `instanceType` set, for that provider
 * type only; with `quotaGroup` set, for every type in that group (e.g. an EC2
 * instance family's vCPU limit). With neither, for every type.
 */
export class CapacityError extends Error {
  override name = 'CapacityError';
  readonly instanceType?: string;
  readonly quotaGroup?: string;
  constructor(message: string, options?: { cause?: unknown; instanceType?: string; quotaGroup?: string }) {
    super(message, options);
    this.instanceType = options?.instanceType;
    this.quotaGroup = options?.quotaGroup;
  }
  /** True when the error is specific to one instance type. */
  get isInstanceTypeSpecific(): boolean {
    return this.instanceType !== undefined;
  }
  /** True when the error covers a quota group of types. */
  get isQuotaGroupSpecific(): boolean {
    return this.quotaGroup !== undefined;
  }
}

/** A driver's `verifyHostKey` says it cannot verify keys: fall back to the InstanceSecret check. */
export class HostKeyVerificationNotImplemented extends Error {
  override name = 'HostKeyVerificationNotImplemented';
  constructor() {
    super('host key verification is not implemented by this driver');
  }
}

function find<T extends Error>(err: unknown, cls: abstract new (...args: never[]) => T): T | undefined {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 10; depth++) {
    if (e instanceof cls) return e;
    if (e instanceof AggregateError) {
      for (const inner of e.errors) {
        const found = find(inner, cls);
        if (found) return found;
      }
    }
    e = e instanceof Error ? e.cause : undefined;
  }
  return undefined;
}

export const asRateLimitError = (err: unknown) => find(err, RateLimitError);
export const asQuotaError = (err: unknown) => find(err, QuotaError);
export const asCapacityError = (err: unknown) => find(err, CapacityError);

export const isRateLimitError = (err: unknown): boolean => asRateLimitError(err) !== undefined;
export const isQuotaError = (err: unknown): boolean => asQuotaError(err) !== undefined;
export const isCapacityError = (err: unknown): boolean => asCapacityError(err) !== undefined;
export const isHostKeyVerificationNotImplemented = (err: unknown): boolean =>
  find(err, HostKeyVerificationNotImplemented) !== undefined;
