/**
 * What every driver gets without writing it: rate limiting to
 * MaxCloudOpsPerSecond, failing fast while the provider has asked us to back
 * off (each kind of call on its own), ResourceTags merged into every create,
 * list results filtered by tag, and an observation hook for metrics. Applied in one place, `wrapInstanceSet`,
 * so a driver stays small.
 */
import type { Clock } from '../clock/index.js';
import type { InstanceType } from '../config/types.js';
import type { BillingRule } from '../cost/billing.js';
import type { Fence, FencedAction } from '../dblock/fence.js';
import { goNanoseconds, type Logger } from '../log.js';
import type { Executor } from '../ssh/executor.js';
import { asRateLimitError, RateLimitError } from './errors.js';
import { ForwardingInstance, forwardOptionalMethods } from './forwarding.js';
import type { Instance, InstanceSet, InstanceTags } from './types.js';

/** Cloud operations as the reference's `driver_operations` metric names them. */
export type CloudOperation = 'Create' | 'List' | 'Destroy' | 'SetTags';

/** The `CallType` of the reference's hold line, for the kinds it holds; ours for the others. */
const CALL_TYPE: Record<CloudOperation, string> = { Create: 'create instance', List: 'list instances', Destroy: 'destroy instance', SetTags: 'set tags' };

export interface WrapOptions {
  clock: Clock;
  logger: Logger;
  /** Operations per second across create, list, destroy and setTags; 0 = unlimited. */
  maxCloudOpsPerSecond: number;
  /** `Containers.CloudVMs.ResourceTags`: added to every create, overridden by the dispatcher's own tags. */
  resourceTags: Record<string, string>;
  /** Called after every driver call, with its error if it failed (metrics hook it here). */
  observe?: (op: CloudOperation, err: unknown, durationMs: number) => void;
  /** Consulted before every create, destroy and setTags (after the throttle's wait); a refusal fails the call unsent. */
  fence?: Fence;
}

/**
 * Spaces cloud calls of every kind at least `1000 / opsPerSecond` ms apart,
 * in call order, and refuses a call while a RateLimitError from a call of
 * the same kind has a retry time still to come. Holds are per kind because
 * providers throttle each API action apart (EC2 has a token bucket per
 * action), and because a throttled create must not stop destroys: an idle
 * VM left running bills for every minute of the hold.
 */
export class CloudThrottle {
  private nextSlot = 0;
  private readonly holds = new Map<CloudOperation, RateLimitError>();

  constructor(
    private readonly clock: Clock,
    opsPerSecond: number,
    private readonly logger?: Logger,
  ) {
    this.interval = opsPerSecond > 0 ? 1000 / opsPerSecond : 0;
  }

  private readonly interval: number;

  /** Throws a RateLimitError (without waiting) while calls of kind `op` are held. */
  checkHold(op: CloudOperation): void {
    const until = this.heldUntil(op);
    if (until > 0) {
      throw new RateLimitError(
        `cloud provider asked us to wait; not calling ${op} again before ${new Date(until).toISOString()}`,
        until,
        { cause: this.holds.get(op) },
      );
    }
  }

  /** Waits for this call's turn. */
  async take(op: CloudOperation): Promise<void> {
    this.checkHold(op);
    if (this.interval === 0) return;
    const now = this.clock.now();
    const slot = Math.max(now, this.nextSlot);
    this.nextSlot = slot + this.interval;
    if (slot > now) await this.clock.sleep(slot - now);
    this.checkHold(op);
  }

  /** Records a failure of a call of kind `op`: a RateLimitError starts (or extends) that kind's hold. */
  noteError(op: CloudOperation, err: unknown): void {
    const rl = asRateLimitError(err);
    if (!rl || rl.earliestRetry <= this.heldUntil(op)) return;
    this.holds.set(op, rl);
    const wait = rl.earliestRetry - this.clock.now();
    if (wait > 0) {
      // The reference's line (and fields) for a hold that starts or grows.
      this.logger?.info('suspending remote calls due to rate-limit error', {
        CallType: CALL_TYPE[op],
        Duration: goNanoseconds(wait),
        ResumeAt: new Date(rl.earliestRetry).toISOString(),
      });
    }
  }

  /** Epoch ms before which calls of kind `op` fail fast; 0 when not holding. */
  heldUntil(op: CloudOperation): number {
    const until = this.holds.get(op)?.earliestRetry ?? 0;
    return this.clock.now() < until ? until : 0;
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
    return this.set.call('SetTags', () => this.inner.setTags(tags), { Action: 'tag', Instance: this.inner.id });
  }

  override destroy(): Promise<void> {
    return this.set.call('Destroy', () => this.inner.destroy(), { Action: 'destroy', Instance: this.inner.id });
  }
}

class WrappedInstanceSet implements InstanceSet {
  readonly throttle: CloudThrottle;

  constructor(
    private readonly inner: InstanceSet,
    private readonly opts: WrapOptions,
  ) {
    this.throttle = new CloudThrottle(opts.clock, opts.maxCloudOpsPerSecond, opts.logger);
    Object.assign(this, forwardOptionalMethods(inner));
  }

  /** Runs one driver call under the throttle, refuses an action the fence forbids, and reports it to `observe`. */
  async call<T>(op: CloudOperation, fn: () => Promise<T>, action?: FencedAction): Promise<T> {
    await this.throttle.take(op);
    if (action) this.opts.fence?.check(action);
    const started = this.opts.clock.now();
    try {
      const result = await fn();
      this.opts.observe?.(op, undefined, this.opts.clock.now() - started);
      return result;
    } catch (err) {
      this.throttle.noteError(op, err);
      this.opts.observe?.(op, err, this.opts.clock.now() - started);
      throw err;
    }
  }

  async create(type: InstanceType, imageId: string, tags: InstanceTags, initCommand: string, publicKey: string): Promise<Instance> {
    const allTags = { ...this.opts.resourceTags, ...tags };
    const inst = await this.call('Create', () => this.inner.create(type, imageId, allTags, initCommand, publicKey), {
      Action: 'create',
      InstanceType: type.Name,
    });
    return new WrappedInstance(inst, this);
  }

  /**
   * Lists instances, keeping only those with every tag in `tagFilter` (a
   * driver may return more) and each id once. A listing takes its turn
   * among the other calls, as in the reference.
   */
  async instances(tagFilter: InstanceTags): Promise<Instance[]> {
    const all = await this.call('List', () => this.inner.instances(tagFilter));
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
  spotPrice?: (type: InstanceType) => number | undefined;
  billingRule?: (type: InstanceType) => BillingRule | undefined;
}

/** Wraps a driver's InstanceSet with the behaviour every driver gets. */
export function wrapInstanceSet(inner: InstanceSet, opts: WrapOptions): InstanceSet & { readonly throttle: CloudThrottle } {
  return new WrappedInstanceSet(inner, opts);
}
