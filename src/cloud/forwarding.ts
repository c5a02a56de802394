/**
 * An Instance that forwards every call to another (the driver's): the base
 * of wrappers that intercept a few calls (throttling and metrics in
 * `wrap.ts`, the simulator's cost ledger) and pass the rest through.
 */
import type { Executor } from '../ssh/executor.js';
import type { InstanceType } from '../config/types.js';
import type { Instance, InstanceSet, InstanceTags, PricePoint } from './types.js';

export class ForwardingInstance implements Instance {
  priceHistory?: (type: InstanceType) => PricePoint[];

  /** @param inner the wrapped instance; drivers that hand out executors need it back (`unwrapInstance`). */
  constructor(readonly inner: Instance) {
    if (inner.priceHistory) this.priceHistory = (type: InstanceType) => inner.priceHistory!(type);
  }

  get id(): string {
    return this.inner.id;
  }
  get providerType(): string {
    return this.inner.providerType;
  }
  get tags(): InstanceTags {
    return this.inner.tags;
  }
  get address(): string {
    return this.inner.address;
  }
  get remoteUser(): string {
    return this.inner.remoteUser;
  }
  get zone(): string | undefined {
    return this.inner.zone;
  }
  get reclaimed(): boolean | undefined {
    return this.inner.reclaimed;
  }

  setTags(tags: InstanceTags): Promise<void> {
    return this.inner.setTags(tags);
  }

  destroy(): Promise<void> {
    return this.inner.destroy();
  }

  verifyHostKey(key: Buffer, executor: Executor): Promise<void> {
    return this.inner.verifyHostKey(key, executor);
  }
}

/** The instance one level down, if `instance` is a wrapper. */
export function unwrapInstance(instance: Instance): Instance {
  return instance instanceof ForwardingInstance ? instance.inner : instance;
}

/**
 * The optional methods `inner` has, forwarding to it (instances passed back
 * unwrapped), for an InstanceSet wrapper to take on as its own: a wrapper
 * must offer exactly what the driver offers.
 */
export function forwardOptionalMethods(inner: InstanceSet): Pick<InstanceSet, 'executorFor' | 'quotaGroup' | 'spotPrice' | 'billingRule'> {
  const out: Pick<InstanceSet, 'executorFor' | 'quotaGroup' | 'spotPrice' | 'billingRule'> = {};
  if (inner.executorFor) out.executorFor = (instance: Instance) => inner.executorFor!(unwrapInstance(instance));
  if (inner.quotaGroup) out.quotaGroup = (type: InstanceType) => inner.quotaGroup!(type);
  if (inner.spotPrice) out.spotPrice = (type: InstanceType) => inner.spotPrice!(type);
  if (inner.billingRule) out.billingRule = (type: InstanceType) => inner.billingRule!(type);
  return out;
}
