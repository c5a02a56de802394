/**
 * One EC2 instance as the dispatcher sees it: built from a RunInstances or
 * DescribeInstances record, with the calls that act on it.
 */
import './sdk-env.js';
import { CreateTagsCommand, DeleteTagsCommand, type EC2Client, type Instance as AwsInstance, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { HostKeyVerificationNotImplemented } from '../../src/cloud/errors.js';
import type { Instance, InstanceTags, PricePoint } from '../../src/cloud/types.js';
import type { InstanceType } from '../../src/config/types.js';
import type { Executor } from '../../src/ssh/executor.js';

/** What an instance needs from its instance set. */
export interface Ec2InstanceHost {
  readonly remoteUser: string;
  /** Per GiB-month of scratch volume, added to spot prices. */
  readonly ebsPrice: number;
  /** Runs an SDK call with the set's error classification (`what` names it in errors). */
  call<T>(what: string, fn: () => Promise<T>): Promise<T>;
  readonly client: EC2Client;
  spotHistory(providerType: string, zone: string): PricePoint[];
}

/** The hourly cost of `type`'s added scratch volume at `ebsPrice` per GiB-month: part of what a spot VM costs. */
export function scratchHourly(ebsPrice: number, type: InstanceType): number {
  return (ebsPrice * Math.ceil(type.AddedScratch / 2 ** 30)) / 30 / 24;
}

/**
 * The instance state reasons of a spot interruption: terminated, or stopped
 * (a persistent request's interruption behaviour), by EC2 to take the
 * capacity back. A stopped or stopping instance is still listed (LIVE_STATES).
 */
const SPOT_INTERRUPTED: ReadonlySet<string> = new Set(['Server.SpotInstanceTermination', 'Server.SpotInstanceShutdown']);

/** Tag keys EC2 reserves (`aws:`): users can neither set nor delete them. */
const isReservedTag = (key: string): boolean => key.toLowerCase().startsWith('aws:');

export function tagsOf(inst: AwsInstance): InstanceTags {
  const tags: InstanceTags = {};
  for (const t of inst.Tags ?? []) if (t.Key !== undefined) tags[t.Key] = t.Value ?? '';
  return tags;
}

export class Ec2Instance implements Instance {
  readonly id: string;
  readonly providerType: string;
  readonly tags: InstanceTags;
  readonly address: string;
  readonly subnetId: string;
  readonly availabilityZone: string;
  /** The availability zone, as `Instance.zone`; undefined when EC2 did not say. */
  readonly zone?: string;
  readonly spot: boolean;
  /** EC2 says it is interrupting, or has interrupted, this spot instance (`Instance.reclaimed`). */
  readonly reclaimed?: boolean;

  constructor(
    private readonly host: Ec2InstanceHost,
    record: AwsInstance,
  ) {
    this.id = record.InstanceId ?? '';
    this.providerType = record.InstanceType ?? '';
    this.tags = tagsOf(record);
    this.address = record.PrivateIpAddress ?? '';
    this.subnetId = record.SubnetId ?? '';
    this.availabilityZone = record.Placement?.AvailabilityZone ?? '';
    if (this.availabilityZone !== '') this.zone = this.availabilityZone;
    this.spot = record.InstanceLifecycle === 'spot';
    if (SPOT_INTERRUPTED.has(record.StateReason?.Code ?? '')) this.reclaimed = true;
  }

  get remoteUser(): string {
    return this.host.remoteUser;
  }

  /**
   * CreateTags adds and overwrites, as the reference does; keys this object
   * last saw that `tags` lacks are then deleted, because our contract is
   * "replace the whole set" (the reference never removes tags).
   */
  async setTags(tags: InstanceTags): Promise<void> {
    const entries = Object.entries(tags).filter(([k]) => !isReservedTag(k));
    if (entries.length > 0) {
      await this.host.call(`CreateTags ${this.id}`, () =>
        this.host.client.send(new CreateTagsCommand({ Resources: [this.id], Tags: entries.map(([Key, Value]) => ({ Key, Value })) })),
      );
    }
    const removed = Object.keys(this.tags).filter((k) => !(k in tags) && !isReservedTag(k));
    if (removed.length > 0) {
      await this.host.call(`DeleteTags ${this.id}`, () =>
        this.host.client.send(new DeleteTagsCommand({ Resources: [this.id], Tags: removed.map((Key) => ({ Key })) })),
      );
    }
    // Later setTags calls compare against what the cloud now holds.
    for (const k of removed) delete this.tags[k];
    Object.assign(this.tags, tags);
  }

  async destroy(): Promise<void> {
    try {
      await this.host.call(`TerminateInstances ${this.id}`, () => this.host.client.send(new TerminateInstancesCommand({ InstanceIds: [this.id] })));
    } catch (err) {
      // Already terminated and forgotten by EC2: what we wanted.
      if (isNotFound(err)) return;
      throw err;
    }
  }

  /** EC2 offers no trustworthy host key channel without console output parsing, so the InstanceSecret check is used. */
  async verifyHostKey(_key: Buffer, _executor: Executor): Promise<void> {
    throw new HostKeyVerificationNotImplemented();
  }

  /**
   * The spot price history of this instance's type in its zone, plus the
   * hourly cost of its scratch volume, oldest first. Empty for on-demand
   * instances: their price is the configured one. The configured type says
   * spot too, in case a cloud leaves out the instance's lifecycle field.
   */
  priceHistory(type: InstanceType): PricePoint[] {
    if (!this.spot && !type.Preemptible) return [];
    const ebsHourly = scratchHourly(this.host.ebsPrice, type);
    return this.host.spotHistory(this.providerType, this.availabilityZone).map((p) => ({ startTime: p.startTime, price: p.price + ebsHourly }));
  }
}

function isNotFound(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e && depth < 5; depth++) {
    const name = (e as { name?: string }).name ?? '';
    if (name === 'InvalidInstanceID.NotFound') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
