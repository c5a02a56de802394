/**
 * What every driver gets without writing it: rate limiting to
 * MaxCloudOpsPerSecond, failing fast while the provider has asked us to back
 * off, ResourceTags merged into every create, list results filtered by tag,
 * and an observation hook for metrics. Applied in one place, `wrapInstanceSet`,
 * so a driver stays small.
 */
import type { Clock } from '../clock/index.js';
import type { InstanceType } from '../config/types.js';
import type { Logger } from '../log.js';
import type { Executor } from '../ssh/executor.js';
import { asRateLimitError, RateLimitError } from './errors.js';
import { ForwardingInstance, forwardOptionalMethods } from './forwarding.js';
import type { Instance, InstanceSet, InstanceTags, PricePoint } from './types.js';

/** Cloud operations as the reference's `driver_operations` metric names them. */
export type CloudOperation = 'Create' | 'List' | 'Destroy' | 'SetTags';

export interface WrapOptions {
  clock: Clock;
  logger: Logger;
  /** Operations per second across create, destroy and setTags; 0 = unlimited. */
  maxCloudOpsPerSecond: number;
  /** `Containers.CloudVMs.ResourceTags`: added to every create, overridden by the dispatcher's own tags. */
  resourceTags: Record<string, string>;
  /** Called after every driver call, with its error if it failed (metrics hook it here). */
  observe?: (op: CloudOperation, err: unknown, durationMs: number) => void;
}

/**
 * Spaces mutating cloud calls at least `1000 / opsPerSecond` ms apart, in
 * call order, and refuses every call while a RateLimitError's retry time has
 * not come.
 */
export class CloudThrottle {
  private nextSlot = 0;
  private holdUntil = 0;
  private holdCause: RateLimitError | undefined;

  constructor(
    private readonly clock: Clock,
    opsPerSecond: number,
  ) {
    this.interval = opsPerSecond > 0 ? 1000 / opsPerSecond : 0;
  }

  private readonly interval: number;

  /** Throws a RateLimitError (without waiting) while backing off. */
  checkHold(): void {
    const now = this.clock.now();
    if (now < this.holdUntil) {
      throw new RateLimitError(
        `cloud provider asked us to wait; not calling it again before ${new Date(this.holdUntil).toISOString()}`,
        this.holdUntil,
        { cause: this.holdCause },
      );
    }
  }

  /** Waits for this call's turn. */
  async take(): Promise<void> {
    this.checkHold();
    if (this.interval === 0) return;
    const now = this.clock.now();
    const slot = Math.max(now, this.nextSlot);
    this.nextSlot = slot + this.interval;
    if (slot > now) await this.clock.sleep(slot - now);
    this.checkHold();
  }

  /** Records a failure: a RateLimitError starts (or extends) the hold. */
  noteError(err: unknown): void {
    const rl = asRateLimitError(err);
    if (rl && rl.earliestRetry > this.holdUntil) {
      this.holdUntil = rl.earliestRetry;
      this.holdCause = rl;
    }
  }

  /** Epoch ms before which calls fail fast; 0 when not holding. */
  get heldUntil(): number {
    return this.clock.now() < this.holdUntil ? this.holdUntil : 0;
  }
}

/** True when `tags` has every key/value of `filter`. */
export function tagsMatch(tags: InstanceTags, filter: InstanceTags): boolean {
  for (const [k, v] of Object.entries(filter)) if (tags[k] !== v) return false;
  return true;
}

class WrappedInstance extends ForwardingInstance {
  constructor(
    inner: Instance,
    private readonly set: WrappedInstanceSet,
  ) {
    super(inner);
  }

  override setTags(tags: InstanceTags): Promise<void> {
    return this.set.call('SetTags', true, () => this.inner.setTags(tags));
  }

  override destroy(): Promise<void> {
    return this.set.call('Destroy', true, () => this.inner.destroy());
  }
}

class WrappedInstanceSet implements InstanceSet {
  readonly throttle: CloudThrottle;

  constructor(
    private readonly inner: InstanceSet,
    private readonly opts: WrapOptions,
  ) {
    this.throttle = new CloudThrottle(opts.clock, opts.maxCloudOpsPerSecond);
    Object.assign(this, forwardOptionalMethods(inner));
  }

  /** Runs one driver call under the throttle (if `limited`) and reports it to `observe`. */
  async call<T>(op: CloudOperation, limited: boolean, fn: () => Promise<T>): Promise<T> {
    if (limited) await this.throttle.take();
    else this.throttle.checkHold();
    const started = this.opts.clock.now();
    try {
      const result = await fn();
      this.opts.observe?.(op, undefined, this.opts.clock.now() - started);
      return result;
    } catch (err) {
      this.throttle.noteError(err);
      this.opts.observe?.(op, err, this.opts.clock.now() - started);
      throw err;
    }
  }

  async create(type: InstanceType, imageId: string, tags: InstanceTags, initCommand: string, publicKey: string): Promise<Instance> {
    const allTags = { ...this.opts.resourceTags, ...tags };
    const inst = await this.call('Create', true, () => this.inner.create(type, imageId, allTags, initCommand, publicKey));
    return new WrappedInstance(inst, this);
  }

  /**
   * Lists instances, keeping only those with every tag in `tagFilter` (a
   * driver may return more) and each id once. Listing is not rate limited:
   * it is one call per SyncInterval and the pool cannot work without it.
   */
  async instances(tagFilter: InstanceTags): Promise<Instance[]> {
    const all = await this.call('List', false, () => this.inner.instances(tagFilter));
    const seen = new Set<string>();
    const out: Instance[] = [];
    let skipped = 0;
    for (const inst of all) {
      if (seen.has(inst.id)) continue;
      seen.add(inst.id);
      if (tagsMatch(inst.tags, tagFilter)) out.push(new WrappedInstance(inst, this));
      else skipped++;
    }
    if (skipped > 0) this.opts.logger.debug('cloud list returned instances without our tags; ignoring them', { Skipped: skipped });
    return out;
  }

  stop(): void {
    this.inner.stop();
  }

  executorFor?: (instance: Instance) => Executor | undefined;
  quotaGroup?: (type: InstanceType) => string;
}

/** Wraps a driver's InstanceSet with the behaviour every driver gets. */
export function wrapInstanceSet(inner: InstanceSet, opts: WrapOptions): InstanceSet & { readonly throttle: CloudThrottle } {
  return new WrappedInstanceSet(inner, opts);
}
