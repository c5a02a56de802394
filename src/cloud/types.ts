/**
 * The driver contract: what a cloud driver provides to the dispatcher.
 *
 * Duties of a driver:
 * - Every method is safe to call concurrently, from many async tasks at once.
 * - It owns only the instances it created or that carry the InstanceSetID tag
 *   it was given; it never lists, tags or destroys others.
 * - It classifies failures with the classes in `errors.ts`: RateLimitError
 *   (throttled; carries the earliest retry time), QuotaError (the account can
 *   have no more instances), CapacityError (this type, or this quota group, is
 *   out of stock). Anything else is treated as transient.
 * - `instances()` may return an instance more than once across pages; the
 *   caller de-duplicates by id.
 *
 * Duties of the caller (the wrappers in `wrap.ts` and the worker pool):
 * rate limiting to MaxCloudOpsPerSecond, failing fast after a RateLimitError
 * (each kind of call after its own), merging ResourceTags into create tags,
 * filtering lists by tag, retrying.
 */
import type { Registry } from 'prom-client';
import type { Clock } from '../clock/index.js';
import type { Cluster, InstanceType } from '../config/types.js';
import type { Logger } from '../log.js';
import type { Executor } from '../ssh/executor.js';
import type { BillingRule } from '../cost/billing.js';

/** Tag keys and values as the dispatcher sees them (prefix included, e.g. `ArvadosInstanceType`). */
export type InstanceTags = Record<string, string>;

/** A price in effect from `startTime` (epoch ms) on. */
export interface PricePoint {
  startTime: number;
  price: number;
}

/** One cloud VM, as the driver last saw it. */
export interface Instance {
  /** Provider's id; unique and stable for the life of the VM. */
  readonly id: string;
  /** The provider's instance type name (`InstanceType.ProviderType`). */
  readonly providerType: string;
  /** Tags as of the listing or create that produced this object. */
  readonly tags: InstanceTags;
  /** Where to reach the SSH server: `host` (the pool adds SSHPort) or `host:port`. Empty while unknown. */
  readonly address: string;
  /** The user to log in as over SSH. */
  readonly remoteUser: string;
  /** The zone the VM runs in (EC2 availability zone, GCE zone, lame zone), when the driver knows it. */
  readonly zone?: string;
  /** Replaces the instance's tags with `tags` (the whole set, not a merge). */
  setTags(tags: InstanceTags): Promise<void>;
  /** Starts termination. Destroying an instance that is already gone is not an error. */
  destroy(): Promise<void>;
  /**
   * Decides whether `key` (the SSH host key the VM presented) belongs to this
   * instance, using `executor` (already connected, not yet trusted) if it
   * needs to look at the VM. Throws HostKeyVerificationNotImplemented when the
   * driver has no way to tell; the pool then uses the InstanceSecret check.
   */
  verifyHostKey(key: Buffer, executor: Executor): Promise<void>;
  /** Recent prices, oldest first, when the provider has variable (spot) prices. */
  priceHistory?(type: InstanceType): PricePoint[];
  /**
   * True when the provider says it stopped, or is stopping, this VM to take
   * its capacity back: EC2's state reason `Server.SpotInstanceTermination`,
   * GCE's `compute.instances.preempted`. Drivers that cannot tell leave it out.
   */
  readonly reclaimed?: boolean;
}

/** A driver's view of the cloud: the instances of one InstanceSetID. */
export interface InstanceSet {
  /**
   * Creates a VM of `type` from `imageId`, with `tags`, running `initCommand`
   * (a shell script) at boot, and accepting `publicKey` (OpenSSH format; may
   * be empty when DeployPublicKey is false) for the remote user.
   */
  create(type: InstanceType, imageId: string, tags: InstanceTags, initCommand: string, publicKey: string): Promise<Instance>;
  /** The instances that carry every tag in `tagFilter` (drivers may return more; the wrapper filters). */
  instances(tagFilter: InstanceTags): Promise<Instance[]>;
  /** Releases the driver's resources (timers, connections). Leaves every VM alone. */
  stop(): void;
  /**
   * Optional: the quota group `type` belongs to, the name a quota-group
   * CapacityError for it would carry (e.g. an EC2 vCPU limit's family
   * group). Preemptible and non-preemptible types should be in different
   * groups, since providers count them apart. With it, the pool holds back
   * every type of a group after one group-wide CapacityError; without it,
   * the pool learns a type's group only from such an error for that type.
   */
  quotaGroup?(type: InstanceType): string;
  /**
   * Optional: an Executor that reaches `instance` without SSH. Only the lame
   * driver's in-process transport has one (the simulator runs thousands of VMs
   * without sockets); when absent or returning undefined, the pool uses SSH.
   */
  executorFor?(instance: Instance): Executor | undefined;
  /**
   * Optional: what a new VM of the preemptible `type` would pay per hour now
   * (the lowest current spot price among the zones the driver has quotes
   * for), or undefined when it has none. The scheduler orders eligible types
   * by it, the configured Price staying the cap (`src/cost/price.ts`).
   * Drivers whose spot prices are list prices (GCE) leave it out: the
   * configured price is the price.
   */
  spotPrice?(type: InstanceType): number | undefined;
  /**
   * Optional: how the provider bills a VM of `type` (per second with a
   * minimum, per hour), or undefined when it bills exactly the time a VM
   * lives. The cost ledger charges by it and idle VMs may be kept to the end
   * of a paid period (`src/cost/billing.ts`); the settings file's
   * `Billing.InstanceTypes` overrides it.
   */
  billingRule?(type: InstanceType): BillingRule | undefined;
}

/** What a driver factory receives besides its DriverParameters. */
export interface DriverContext {
  /** The value of the InstanceSetID tag this dispatcher owns. */
  instanceSetId: string;
  cluster: Cluster;
  logger: Logger;
  clock: Clock;
  /**
   * The dispatcher's Prometheus registry, for a driver's own metrics (the
   * ec2 driver's, as the reference's). One per dispatcher; absent when the
   * driver is built outside one (then it registers nothing).
   */
  registry?: Registry;
}

/**
 * Builds a driver from `Containers.CloudVMs.DriverParameters`. Throws an
 * Error naming the parameter when the parameters are invalid. May be async
 * (a driver whose SDK is slow to load imports it here).
 */
export type DriverFactory = (params: Record<string, unknown>, ctx: DriverContext) => InstanceSet | Promise<InstanceSet>;

/**
 * Checks DriverParameters as the driver's factory would, building nothing
 * and calling no cloud API: throws what the factory would throw, and logs
 * to `ctx.logger` the warnings the factory would log at start. check-config
 * runs it, so a config the daemon would refuse does not pass review.
 */
export type DriverCheck = (params: Record<string, unknown>, ctx: Pick<DriverContext, 'cluster' | 'logger'>) => Promise<void>;
