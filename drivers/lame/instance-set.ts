/**
 * The lame driver's InstanceSet and Instance: thin views of a LameCloud. An
 * Instance is a snapshot (tags as of the list or create that produced it),
 * like a real provider's API record; the VM behind it keeps living and
 * changing.
 */
import { asCapacityError, CapacityError, HostKeyVerificationNotImplemented } from '../../src/cloud/errors.js';
import { PlaceCapacityMemory } from '../../src/cloud/place-capacity.js';
import type { DriverContext, Instance, InstanceSet, InstanceTags } from '../../src/cloud/types.js';
import type { InstanceType } from '../../src/config/types.js';
import type { BillingRule } from '../../src/cost/billing.js';
import type { Executor } from '../../src/ssh/executor.js';
import type { LameCloud } from './cloud.js';
import { InProcessExecutor } from './inprocess.js';
import type { LameVM } from './vm.js';

export class LameInstance implements Instance {
  readonly id: string;
  readonly providerType: string;
  readonly tags: InstanceTags;
  readonly address: string;
  readonly remoteUser: string;
  readonly zone?: string;

  constructor(
    /** Test hook: the VM behind this instance. */
    readonly vm: LameVM,
  ) {
    this.id = vm.id;
    this.providerType = vm.instanceType.ProviderType;
    this.tags = { ...vm.tags };
    this.address = vm.address;
    this.remoteUser = vm.remoteUser;
    if (vm.zone !== undefined) this.zone = vm.zone;
  }

  async setTags(tags: InstanceTags): Promise<void> {
    const held = this.vm.cloud.tagWritesHeld();
    if (held) await held;
    this.vm.cloud.setTags(this.vm, tags);
  }

  destroy(): Promise<void> {
    return this.vm.cloud.destroyVM(this.vm);
  }

  /**
   * The lame cloud publishes no host keys (as most real clouds do not), so
   * the dispatcher must fall back to the InstanceSecret check, which the VM
   * supports through its init command.
   */
  async verifyHostKey(): Promise<void> {
    throw new HostKeyVerificationNotImplemented();
  }
}

export class LameInstanceSet implements InstanceSet {
  private stopped = false;
  /** Zones recently out of capacity, per type and market (with `Zones` only). */
  readonly placeCapacity: PlaceCapacityMemory;
  /** Per provider type, the zone index the next create tries first. */
  private readonly zoneCursor = new Map<string, number>();

  constructor(
    /** Test hook: the cloud behind this instance set. */
    readonly cloud: LameCloud,
    private readonly ctx: DriverContext,
  ) {
    this.placeCapacity = new PlaceCapacityMemory(ctx.clock);
  }

  /** The InstanceSetID this instance set was built for. */
  get instanceSetId(): string {
    return this.ctx.instanceSetId;
  }

  async create(type: InstanceType, imageId: string, tags: InstanceTags, initCommand: string, publicKey: string): Promise<Instance> {
    this.checkRunning();
    const zones = this.cloud.params.Zones;
    if (zones.length === 0) return new LameInstance(await this.cloud.createVM(type, imageId, tags, initCommand, publicKey));
    // As the EC2 driver with its subnets: round robin over the zones,
    // skipping those recently out of capacity for this type and market, and
    // the next zone on a capacity error.
    const start = this.zoneCursor.get(type.ProviderType) ?? 0;
    let lastError: unknown;
    for (let i = 0; i < zones.length; i++) {
      const index = (start + i) % zones.length;
      const zone = zones[index];
      if (this.placeCapacity.isOut(type, zone)) continue;
      try {
        const vm = await this.cloud.createVM(type, imageId, tags, initCommand, publicKey, zone);
        this.placeCapacity.clear(type, zone);
        this.zoneCursor.set(type.ProviderType, (index + 1) % zones.length);
        return new LameInstance(vm);
      } catch (err) {
        if (asCapacityError(err)?.instanceType === undefined) throw err;
        this.placeCapacity.mark(type, zone);
        lastError = err;
      }
    }
    throw lastError ?? new CapacityError(`lame: every zone is out of capacity for instance type ${type.ProviderType} (remembered)`, { instanceType: type.ProviderType });
  }

  async instances(tagFilter: InstanceTags): Promise<Instance[]> {
    this.checkRunning();
    return this.cloud.listMatching(tagFilter).map((vm) => new LameInstance(vm));
  }

  /** Leaves every VM running (the next instance set for this cloud adopts them); later calls fail. */
  stop(): void {
    this.stopped = true;
  }

  /**
   * With `Transport: inprocess`, an executor that calls the VM's command
   * handler directly; with `ssh`, undefined (the pool connects over SSH).
   */
  executorFor(instance: Instance): Executor | undefined {
    if (this.cloud.params.Transport !== 'inprocess') return undefined;
    return new InProcessExecutor(this.cloud, instance.id, instance.remoteUser || this.cloud.params.AdminUsername);
  }

  /**
   * The rule of DriverParameters BillingIncrement and BillingMinimum, so the
   * simulator can model a provider that bills per hour; none when both are 0
   * (a VM costs exactly the time it lived).
   */
  billingRule(): BillingRule | undefined {
    const { BillingIncrement: incrementMs, BillingMinimum: minimumMs } = this.cloud.params;
    return incrementMs > 0 || minimumMs > 0 ? { incrementMs, minimumMs } : undefined;
  }

  private checkRunning(): void {
    if (this.stopped) throw new Error('lame: instance set used after stop()');
  }
}
