/**
 * The ec2 InstanceSet: create (with subnet failover and idempotent retries),
 * list by tag, and the shared machinery its instances call through.
 */
import './sdk-env.js';
import { randomUUID } from 'node:crypto';
import {
  EC2Client,
  type Instance as AwsInstance,
  paginateDescribeInstances,
  RunInstancesCommand,
  type RunInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import type { DriverContext, Instance, InstanceSet, InstanceTags, PricePoint } from '../../src/cloud/types.js';
import type { Clock } from '../../src/clock/index.js';
import type { InstanceType } from '../../src/config/types.js';
import { type BillingRule, EC2_LINUX_BILLING } from '../../src/cost/billing.js';
import { addSecret, type Logger } from '../../src/log.js';
import { type ProxyEnv, proxySettings } from '../../src/net/proxy.js';
import { PLACE_CAPACITY_TTL_MS, PlaceCapacityMemory } from '../../src/cloud/place-capacity.js';
import { classify, errorCode, isCapacity, isQuota, isSubnetSpecific, isThrottle, isTransient, isTypeCapacity, ThrottleBackoff } from './errors.js';
import { ec2Agents } from './agents.js';
import { Ec2Instance, type Ec2InstanceHost, scratchHourly } from './instance.js';
import { KeyPairs } from './keypair.js';
import { PageTokens } from './pages.js';
import { Ec2Metrics } from './metrics.js';
import type { Ec2Params } from './params.js';
import { quotaGroupFor } from './quota-group.js';
import { SpotPrices } from './spot.js';

/** Knobs for tests and embedders; the defaults are what production uses. */
export interface Ec2DriverOptions {
  /** RunInstances attempts per subnet when EC2 throttles or fails with a 5xx, all with one ClientToken. Default 3. */
  createAttempts?: number;
  /** Wait before the first such retry, doubling after each. Default 500 ms. */
  retryDelayMs?: number;
  /** Use this client instead of building one from the parameters. */
  client?: EC2Client;
  /** Makes ClientTokens; default random UUIDs. */
  newClientToken?: () => string;
  /** Limit of one HTTP request, answer included, before it fails as a timeout (retried like a 5xx). Default REQUEST_TIMEOUT_MS. */
  requestTimeoutMs?: number;
  /** Where the proxy variables and AWS_CA_BUNDLE are read from (`ec2Agents`). Default `process.env`; tests pass their own. */
  env?: ProxyEnv;
}

/**
 * How long one EC2 API request may take. The SDK sets no limit by default,
 * so an endpoint that accepts the connection and never answers would hold a
 * create (and its MaxConcurrentInstanceCreateOps slot) or every later cloud
 * sync forever.
 */
export const REQUEST_TIMEOUT_MS = 60_000;

/** The states a listed instance is ours to manage in; shutting-down and terminated ones are already gone for us. */
export const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];

/** The extra scratch volume's device, as the reference attaches it. */
export const SCRATCH_DEVICE = '/dev/xvdt';

export function buildClient(params: Ec2Params, requestTimeoutMs = REQUEST_TIMEOUT_MS, env: ProxyEnv = process.env): EC2Client {
  return new EC2Client({
    // Empty (a set built without the factory, which resolves it): the SDK's default chain, at the first call.
    ...(params.Region ? { region: params.Region } : {}),
    ...(params.Endpoint ? { endpoint: params.Endpoint } : {}),
    // Empty: leave credentials to the SDK's default chain (env, profile, instance role).
    ...(params.AccessKeyID ? { credentials: { accessKeyId: params.AccessKeyID, secretAccessKey: params.SecretAccessKey } } : {}),
    // Our own retries (below) keep the ClientToken and use the injected clock.
    maxAttempts: 1,
    requestHandler: {
      requestTimeout: requestTimeoutMs,
      connectionTimeout: Math.min(requestTimeoutMs, 10_000),
      throwOnRequestTimeout: true,
      ...ec2Agents(env),
    },
  });
}

/**
 * What a create takes as the answer of a subnet it skipped because the
 * type (in this market) was out of capacity there less than
 * PLACE_CAPACITY_TTL_MS ago: the InsufficientInstanceCapacity it would most
 * likely give again, so `classify` and the subnet failover treat it as one.
 */
class RememberedCapacityError extends Error {
  override readonly name = 'InsufficientInstanceCapacity';
  constructor(readonly subnet: string) {
    super(`not asked: subnet ${subnet} had no capacity for this type and market less than ${PLACE_CAPACITY_TTL_MS / 1000} s ago`);
  }
}

export class Ec2InstanceSet implements InstanceSet, Ec2InstanceHost {
  readonly client: EC2Client;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly keyPairs: KeyPairs;
  private readonly spotPrices: SpotPrices;
  private readonly metrics: Ec2Metrics;
  private readonly createBackoff = new ThrottleBackoff();
  private readonly listBackoff = new ThrottleBackoff();
  private readonly otherBackoff = new ThrottleBackoff();
  private readonly createAttempts: number;
  private readonly retryDelayMs: number;
  private readonly newClientToken: () => string;
  /** Where the next create starts: the subnet the last create ended on. */
  private subnetIndex = 0;
  /** Subnets recently out of capacity, per type and market: skipped by creates until the memory expires. */
  readonly placeCapacity: PlaceCapacityMemory;

  constructor(
    readonly params: Ec2Params,
    ctx: DriverContext,
    opts: Ec2DriverOptions = {},
  ) {
    this.clock = ctx.clock;
    this.logger = ctx.logger;
    addSecret(ctx.logger, params.SecretAccessKey);
    this.client = opts.client ?? buildClient(params, opts.requestTimeoutMs, opts.env);
    const proxies = opts.client ? undefined : proxySettings(opts.env);
    if (proxies) this.logger.info('EC2 API requests follow the outbound proxy settings', proxies);
    this.createAttempts = Math.max(1, opts.createAttempts ?? 3);
    this.retryDelayMs = opts.retryDelayMs ?? 500;
    this.newClientToken = opts.newClientToken ?? randomUUID;
    this.keyPairs = new KeyPairs(this.client, this.logger);
    this.spotPrices = new SpotPrices({ client: this.client, clock: ctx.clock, logger: ctx.logger, intervalMs: params.SpotPriceUpdateInterval });
    this.metrics = new Ec2Metrics(ctx.registry, params.SubnetID);
    this.placeCapacity = new PlaceCapacityMemory(ctx.clock);
  }

  get remoteUser(): string {
    return this.params.AdminUsername;
  }

  get ebsPrice(): number {
    return this.params.EBSPrice;
  }

  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      const out = await fn();
      this.otherBackoff.reset();
      return out;
    } catch (err) {
      throw classify(err, { clock: this.clock, backoff: this.otherBackoff, what });
    }
  }

  spotHistory(providerType: string, zone: string): PricePoint[] {
    return this.spotPrices.history(providerType, zone);
  }

  /**
   * The cheapest current spot price of a preemptible type among the zones
   * with a known history, plus its scratch volume, as an instance's
   * `priceHistory` counts it. Prices are fetched only for types with spot
   * instances running, so a type never run yet has no quote (undefined: the
   * scheduler keeps its configured price).
   */
  spotPrice(type: InstanceType): number | undefined {
    if (!type.Preemptible) return undefined;
    const price = this.spotPrices.lowest(type.ProviderType, this.clock.now());
    return price === undefined ? undefined : price + scratchHourly(this.params.EBSPrice, type);
  }

  /** EC2 bills Linux instances, on-demand and spot alike, per second with a 60 s minimum (the images crunch-run runs on are Linux). */
  billingRule(): BillingRule {
    return EC2_LINUX_BILLING;
  }

  async create(type: InstanceType, imageId: string, tags: InstanceTags, initCommand: string, publicKey: string): Promise<Instance> {
    const what = `RunInstances ${type.ProviderType}`;
    const input = this.runInstancesInput(type, imageId, tags, initCommand);
    if (publicKey.trim() !== '') {
      try {
        input.KeyName = await this.keyPairs.keyName(publicKey);
      } catch (err) {
        throw classify(err, { clock: this.clock, backoff: this.createBackoff, what: 'key pair lookup' });
      }
    }
    const subnets = this.params.SubnetID;
    const start = this.subnetIndex;
    let toReturn: unknown;
    for (let offset = 0; ; offset++) {
      const index = subnets.length > 0 ? (start + offset) % subnets.length : 0;
      const subnet = subnets[index];
      const last = offset >= subnets.length - 1;
      let err: unknown;
      if (subnet !== undefined && this.placeCapacity.isOut(type, subnet)) {
        // A subnet that recently had no capacity for this type and market is
        // not asked again until the memory expires (place-capacity.ts). Its
        // remembered answer takes part in the choice of the error below as
        // a fresh InsufficientInstanceCapacity would: the reference, which
        // has no memory, asks it again and returns the type's capacity error
        // rather than, say, another subnet's "no free addresses" QuotaError.
        err = new RememberedCapacityError(subnet);
        this.logger.debug('skipping subnet recently out of capacity', { SubnetID: subnet, InstanceType: type.Name });
      } else {
        if (subnet !== undefined) input.NetworkInterfaces![0].SubnetId = subnet;
        const result = await this.runInstances(input, type, subnet ?? '');
        if ('record' in result) {
          if (subnet !== undefined) this.placeCapacity.clear(type, subnet);
          this.subnetIndex = index;
          this.createBackoff.reset();
          // EC2 echoes the tags; a cloud that does not still created them.
          const record: AwsInstance = result.record.Tags?.length ? result.record : { ...result.record, Tags: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) };
          const inst = new Ec2Instance(this, record);
          this.logger.info('created instance', { Instance: inst.id, InstanceType: type.Name, ProviderType: type.ProviderType, SubnetID: subnet ?? '' });
          return inst;
        }
        err = result.error;
        if (subnet !== undefined && isTypeCapacity(err)) this.placeCapacity.mark(type, subnet);
        // Someone deleted the key pair while we ran: find or import it again on the next create.
        if (errorCode(err) === 'InvalidKeyPair.NotFound' && input.KeyName !== undefined) this.keyPairs.forget(publicKey);
        if (isSubnetSpecific(err) && !last) this.logger.warn('RunInstances failed, trying next subnet', { SubnetID: subnet, InstanceType: type.Name, error: err });
      }
      // Keep the most useful error for the caller: the last capacity error
      // (of the type or of its quota group) if any subnet had one, since
      // another type may work, else the last error.
      if (!isCapacity(toReturn) || isCapacity(err)) toReturn = err;
      if (isSubnetSpecific(err) && !last) continue;
      // Start the next create where this one ended, on every way out of the
      // loop, even on a failure that is not subnet-specific: otherwise a
      // broken first subnet would hide the answers of the others forever.
      this.subnetIndex = index;
      throw this.classifyCreate(toReturn, type, what);
    }
  }

  private classifyCreate(err: unknown, type: InstanceType, what: string): unknown {
    return classify(err, {
      clock: this.clock,
      backoff: this.createBackoff,
      what,
      providerType: type.ProviderType,
      quotaGroups: this.params.InstanceTypeQuotaGroups,
      preemptible: type.Preemptible,
    });
  }

  /**
   * RunInstances in one subnet, retried on throttling and 5xx with the same
   * ClientToken, so a request EC2 did carry out before failing to answer is
   * not carried out twice. Each call counts in ec2_instance_starts_total.
   * Not retried: EC2's answers that it has no room (InsufficientInstanceCapacity
   * and the like come with a 500 too), which go to the next subnet or to
   * the caller at once, as in the reference.
   */
  private async runInstances(input: RunInstancesCommandInput, type: InstanceType, subnet: string): Promise<{ record: AwsInstance } | { error: unknown }> {
    const attempt = { ...input, ClientToken: this.newClientToken() };
    let delay = this.retryDelayMs;
    for (let n = 1; ; n++) {
      try {
        const out = await this.client.send(new RunInstancesCommand(attempt));
        this.metrics.started(subnet, true);
        const record = out.Instances?.[0];
        if (!record?.InstanceId) return { error: new Error(`RunInstances ${type.ProviderType}: the response names no instance`) };
        return { record };
      } catch (err) {
        this.metrics.started(subnet, false);
        if (n >= this.createAttempts || !retryable(err)) return { error: err };
        this.logger.debug('retrying RunInstances', { InstanceType: type.Name, Attempt: n, error: err });
        await this.clock.sleep(delay);
        delay *= 2;
      }
    }
  }

  private runInstancesInput(type: InstanceType, imageId: string, tags: InstanceTags, initCommand: string): RunInstancesCommandInput {
    const ec2Tags = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
    const input: RunInstancesCommandInput = {
      ImageId: imageId,
      InstanceType: type.ProviderType as RunInstancesCommandInput['InstanceType'],
      MinCount: 1,
      MaxCount: 1,
      NetworkInterfaces: [
        {
          // Workers are reached on their private address; a public one would only widen the attack surface.
          AssociatePublicIpAddress: false,
          DeleteOnTermination: true,
          DeviceIndex: 0,
          ...(this.params.SecurityGroupIDs.length > 0 ? { Groups: [...this.params.SecurityGroupIDs] } : {}),
        },
      ],
      DisableApiTermination: false,
      // A VM that powers itself off (e.g. crunch-run's broken-node handling) should stop costing money.
      InstanceInitiatedShutdownBehavior: 'terminate',
      // The instance only, as the reference: its volumes get no tags.
      TagSpecifications: [{ ResourceType: 'instance', Tags: ec2Tags }],
      // IMDSv2 only: a container cannot read the instance role's credentials with a plain GET.
      MetadataOptions: { HttpEndpoint: 'enabled', HttpTokens: 'required' },
      UserData: Buffer.from(`#!/bin/sh\n${initCommand}\n`).toString('base64'),
    };
    if (type.AddedScratch > 0) {
      input.BlockDeviceMappings = [
        {
          DeviceName: SCRATCH_DEVICE,
          Ebs: {
            DeleteOnTermination: true,
            VolumeSize: Math.ceil(type.AddedScratch / 2 ** 30),
            VolumeType: this.params.EBSVolumeType as NonNullable<NonNullable<RunInstancesCommandInput['BlockDeviceMappings']>[number]['Ebs']>['VolumeType'],
          },
        },
      ];
    }
    if (type.Preemptible) {
      input.InstanceMarketOptions = {
        MarketType: 'spot',
        SpotOptions: {
          SpotInstanceType: 'one-time',
          InstanceInterruptionBehavior: 'terminate',
          // As the reference: never pay more than the configured price.
          ...(type.Price > 0 ? { MaxPrice: String(type.Price) } : {}),
        },
      };
    }
    const profile = this.params.IAMInstanceProfile;
    if (profile !== '') input.IamInstanceProfile = profile.startsWith('arn:') ? { Arn: profile } : { Name: profile };
    return input;
  }

  async instances(tagFilter: InstanceTags): Promise<Instance[]> {
    const Filters = [
      ...Object.entries(tagFilter).map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] })),
      { Name: 'instance-state-name', Values: LIVE_STATES },
    ];
    const out: Ec2Instance[] = [];
    const tokens = new PageTokens('DescribeInstances');
    try {
      for await (const page of paginateDescribeInstances({ client: this.client }, { Filters })) {
        // Each page that arrives is an answer that is not a throttle: the
        // back-off starts again, as the reference's does after every page.
        this.listBackoff.reset();
        tokens.check(page.NextToken);
        // EC2 always sends the reservation list, empty or not. A page without
        // one is not a DescribeInstances answer (a proxy's page, a truncated
        // body the parser made nothing of): taking it for "no instances"
        // would make the pool forget every VM it has.
        if (!Array.isArray(page.Reservations)) throw new Error('DescribeInstances: the answer holds no reservation list');
        for (const rsv of page.Reservations) {
          for (const rec of rsv.Instances ?? []) {
            if (!rec.InstanceId) throw new Error('DescribeInstances: the answer lists an instance without an InstanceId');
            // Checked again here: a cloud that ignores the state filter must not resurrect terminated VMs.
            const state = rec.State?.Name;
            if (state === 'shutting-down' || state === 'terminated') continue;
            out.push(new Ec2Instance(this, rec));
          }
        }
      }
    } catch (err) {
      throw classify(err, { clock: this.clock, backoff: this.listBackoff, what: 'DescribeInstances' });
    }
    const spot = out.filter((i) => i.spot);
    if (spot.length > 0) await this.spotPrices.update(spot.map((i) => ({ providerType: i.providerType, zone: i.availabilityZone })));
    this.metrics.listed(out.map((i) => i.subnetId));
    return out;
  }

  stop(): void {
    // Nothing runs in the background: spot prices are fetched during listings.
  }

  /** The vCPU quota group `type` counts against (the reference's rule, in `quota-group.ts`). */
  quotaGroup(type: InstanceType): string {
    return quotaGroupFor(type, this.params.InstanceTypeQuotaGroups);
  }
}

/** A RunInstances failure worth the same request again: throttled, or a 5xx that is not EC2 saying it has no room. */
function retryable(err: unknown): boolean {
  if (isQuota(err) || isCapacity(err) || isSubnetSpecific(err)) return false;
  return isThrottle(err) || isTransient(err);
}
