/**
 * The simulator's window on the cloud: a pass-through InstanceSet around the
 * lame driver's that counts every call the dispatcher makes (by kind and
 * error class) and records each VM's life, from the moment the create call
 * went out to the first destroy that succeeded. That is what the VM costs.
 * It sits under the dispatcher's own wrapper (`src/cloud/wrap.ts`), so calls
 * the wrapper refuses while rate-limited are not counted: they never reach
 * the provider.
 */
import type { Clock } from '../clock/index.js';
import { ForwardingInstance, forwardOptionalMethods } from '../cloud/forwarding.js';
import type { Instance, InstanceSet, InstanceTags } from '../cloud/types.js';
import type { InstanceType } from '../config/types.js';
import type { BillingRule } from '../cost/billing.js';
import type { Executor } from '../ssh/executor.js';

/** Cloud API calls of one kind. */
export interface CallStats {
  calls: number;
  /** Failed calls by error class (`QuotaError`, `CapacityError`, `RateLimitError`, `Error`, ...). */
  errors: Record<string, number>;
}

export type CallKind = 'create' | 'list' | 'destroy' | 'setTags';

/** One VM, as paid for. Times are epoch ms on the simulation clock. */
export interface VMLife {
  id: string;
  /** The Arvados instance type name (`.preemptible` variants included). */
  type: string;
  price: number;
  /** When the create call was made. */
  createdAt: number;
  /** When the first successful destroy call returned, or the provider took it back; undefined while it lives. */
  destroyedAt?: number;
}

export class CloudLedger {
  readonly calls: Record<CallKind, CallStats> = {
    create: { calls: 0, errors: {} },
    list: { calls: 0, errors: {} },
    destroy: { calls: 0, errors: {} },
    setTags: { calls: 0, errors: {} },
  };
  /** Every VM created, in creation order. */
  readonly vms = new Map<string, VMLife>();
  private live = 0;
  /** Called after each create that succeeded, once the VM is counted: invariant checks hook in here. */
  onCreated?: (vm: VMLife) => void;
  /** Called before each destroy call goes out, with the VM's id. */
  onDestroy?: (id: string) => void;

  constructor(readonly clock: Clock) {}

  /** VMs created and not destroyed yet. */
  get liveCount(): number {
    return this.live;
  }

  async track<T>(kind: CallKind, fn: () => Promise<T>): Promise<T> {
    const s = this.calls[kind];
    s.calls++;
    try {
      return await fn();
    } catch (err) {
      const name = err instanceof Error ? err.name || err.constructor.name : typeof err;
      s.errors[name] = (s.errors[name] ?? 0) + 1;
      throw err;
    }
  }

  created(id: string, type: InstanceType, at: number): void {
    if (this.vms.has(id)) return;
    const vm: VMLife = { id, type: type.Name, price: type.Price, createdAt: at };
    this.vms.set(id, vm);
    this.live++;
    this.onCreated?.(vm);
  }

  destroyed(id: string): void {
    const vm = this.vms.get(id);
    if (!vm || vm.destroyedAt !== undefined) return;
    vm.destroyedAt = this.clock.now();
    this.live--;
  }

  /** Wraps the driver's instance set so every call goes through this ledger. */
  wrap(inner: InstanceSet): InstanceSet {
    return new LedgerInstanceSet(inner, this);
  }
}

class LedgerInstance extends ForwardingInstance {
  constructor(
    inner: Instance,
    private readonly ledger: CloudLedger,
  ) {
    super(inner);
  }

  override setTags(tags: InstanceTags): Promise<void> {
    return this.ledger.track('setTags', () => this.inner.setTags(tags));
  }

  override async destroy(): Promise<void> {
    this.ledger.onDestroy?.(this.inner.id);
    await this.ledger.track('destroy', () => this.inner.destroy());
    this.ledger.destroyed(this.inner.id);
  }
}

class LedgerInstanceSet implements InstanceSet {
  executorFor?: (instance: Instance) => Executor | undefined;
  quotaGroup?: (type: InstanceType) => string;
  spotPrice?: (type: InstanceType) => number | undefined;
  billingRule?: (type: InstanceType) => BillingRule | undefined;

  constructor(
    private readonly inner: InstanceSet,
    private readonly ledger: CloudLedger,
  ) {
    Object.assign(this, forwardOptionalMethods(inner));
  }

  async create(type: InstanceType, imageId: string, tags: InstanceTags, initCommand: string, publicKey: string): Promise<Instance> {
    const at = this.ledger.clock.now();
    const inst = await this.ledger.track('create', () => this.inner.create(type, imageId, tags, initCommand, publicKey));
    this.ledger.created(inst.id, type, at);
    return new LedgerInstance(inst, this.ledger);
  }

  async instances(tagFilter: InstanceTags): Promise<Instance[]> {
    const list = await this.ledger.track('list', () => this.inner.instances(tagFilter));
    return list.map((i) => new LedgerInstance(i, this.ledger));
  }

  stop(): void {
    this.inner.stop();
  }
}
