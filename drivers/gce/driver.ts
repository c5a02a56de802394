/**
 * The gce InstanceSet: create (zone failover, one requestId per zone across
 * our retries, waiting on the zone operation), list by the InstanceSetID
 * label, and the retry/classification machinery its instances call through.
 * @google-cloud/compute 6.x never retries, so idempotent calls are retried
 * here on 5xx and network errors, with back-off on the injected clock.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { protos } from '@google-cloud/compute';
import { PLACE_CAPACITY_TTL_MS, PlaceCapacityMemory } from '../../src/cloud/place-capacity.js';
import type { DriverContext, Instance, InstanceSet, InstanceTags } from '../../src/cloud/types.js';
import type { Clock } from '../../src/clock/index.js';
import type { InstanceType } from '../../src/config/types.js';
import { type BillingRule, GCE_BILLING } from '../../src/cost/billing.js';
import { type Logger, RateLimitedLog } from '../../src/log.js';
import { buildInstanceBody, type GceInstanceRecord, regionOf } from './body.js';
import type { GceClients } from './client.js';
import { classify, GceOperationError, isNotFound, isQuota, isThrottle, isTransient, isZoneCapacity, isZoneUnsupported, quotaMetricsOf, regionalQuota, RememberedCapacityError, ThrottleBackoff } from './errors.js';
import { GceInstance, type GceInstanceHost } from './instance.js';
import { planResourceLabels, type ResourceLabelPlan, resourceLabelsFor } from './labels.js';
import { listAggregated, unreachableVerdict } from './listing.js';
import { labelFilter, labelKey } from './mapping.js';
import type { GceParams } from './params.js';

type Operation = protos.google.cloud.compute.v1.IOperation;

/** Knobs for tests and embedders; the defaults are what production uses. */
export interface GceDriverOptions {
  clients: GceClients;
  /** Attempts of an idempotent call on 5xx/network errors. Default 4. */
  attempts?: number;
  /** Wait before the first retry, doubling after each, at most 30 s. Default 500 ms. */
  retryDelayMs?: number;
  /** Pause between operations.wait calls that return before the operation is done. Default 1000 ms. */
  operationPollMs?: number;
  /** Give up waiting on an operation after this long. Default 10 minutes. */
  operationTimeoutMs?: number;
  /** Makes requestIds; default random UUIDs. */
  newRequestId?: () => string;
  /** Makes instance names; default `arvados-` and 16 random hex digits. */
  newName?: () => string;
  /** Limit of one attempt of a call (a whole listing counts as one), before it fails as a timeout and is retried. Default REQUEST_TIMEOUT_MS. */
  requestTimeoutMs?: number;
}

const MAX_RETRY_DELAY_MS = 30_000;

/**
 * How long one attempt of an API call may take. The client library's own
 * deadlines do not cut a REST request short, so an endpoint that accepts
 * the connection and never answers would hold a create or every later
 * cloud sync forever. Longer than the two minutes operations.wait may
 * block on the server.
 */
export const REQUEST_TIMEOUT_MS = 150_000;

/** An attempt that got no answer within the request timeout: transient, like a dropped connection. */
export class GceTimeoutError extends Error {
  override name = 'GceTimeoutError';
  readonly code = 'ETIMEDOUT';
}

/** An SDK LROperation (insert, delete, setMetadata) or a plain operation: the operation record. */
export function operationOf(x: unknown): Operation {
  const o = x as { latestResponse?: Operation } & Operation;
  return o?.latestResponse ?? o ?? {};
}

/**
 * `rec` when it is the record of instance `name`; an answer of another shape
 * (a proxy's page, a different resource) must not stand for the instance.
 */
function recordOf(rec: GceInstanceRecord | undefined, name: string): GceInstanceRecord {
  if (rec?.name !== name) throw new Error(`gce: get ${name}: the answer is not that instance's record (name ${JSON.stringify(rec?.name ?? null)})`);
  return rec;
}

export class GceInstanceSet implements InstanceSet, GceInstanceHost {
  readonly clients: GceClients;
  readonly clock: Clock;
  readonly logger: Logger;
  /** `<TagKeyPrefix>InstanceSetID`: the tag mirrored as a label. */
  readonly setTagKey: string;
  private readonly instanceSetId: string;
  private readonly attempts: number;
  private readonly retryDelayMs: number;
  private readonly operationPollMs: number;
  private readonly operationTimeoutMs: number;
  private readonly newRequestId: () => string;
  private readonly newName: () => string;
  private readonly requestTimeoutMs: number;
  private readonly createBackoff = new ThrottleBackoff();
  private readonly listBackoff = new ThrottleBackoff();
  private readonly otherBackoff = new ThrottleBackoff();
  /** Per provider type, the zone index the next create starts in: where the last one succeeded, or the one after where it failed. */
  private readonly zoneStart = new Map<string, number>();
  /** Zones recently out of capacity for a type (or not offering it), per market: skipped by creates until the memory expires. */
  readonly placeCapacity: PlaceCapacityMemory;
  /** Which ResourceTags become labels (decided once: they are fixed for the dispatcher's life). */
  private readonly resourceLabels: ResourceLabelPlan;
  /** Zones where the last successful listing of our InstanceSetID found instances: one of them not answering fails a listing. */
  private zonesWithOurs: ReadonlySet<string> = new Set();
  /** The warning about zones that did not answer, once a minute at most: a zone outage lasts, and every listing sees it. */
  private readonly listWarnings: RateLimitedLog;

  constructor(
    readonly params: GceParams,
    ctx: DriverContext,
    opts: GceDriverOptions,
  ) {
    this.clients = opts.clients;
    this.clock = ctx.clock;
    this.logger = ctx.logger;
    this.instanceSetId = ctx.instanceSetId;
    this.setTagKey = `${ctx.cluster.Containers.CloudVMs.TagKeyPrefix}InstanceSetID`;
    this.attempts = Math.max(1, opts.attempts ?? 4);
    this.retryDelayMs = opts.retryDelayMs ?? 500;
    this.operationPollMs = opts.operationPollMs ?? 1000;
    this.operationTimeoutMs = opts.operationTimeoutMs ?? 10 * 60_000;
    this.newRequestId = opts.newRequestId ?? randomUUID;
    this.newName = opts.newName ?? (() => `arvados-${randomBytes(8).toString('hex')}`);
    this.requestTimeoutMs = opts.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
    this.listWarnings = new RateLimitedLog(ctx.logger, ctx.clock);
    this.placeCapacity = new PlaceCapacityMemory(ctx.clock);
    const vms = ctx.cluster.Containers.CloudVMs;
    this.resourceLabels = planResourceLabels(vms.ResourceTags, vms.TagKeyPrefix, new Set([labelKey(this.setTagKey)]));
    if (this.resourceLabels.skipped.length > 0) {
      // Keys only: they stay in the arvados-tags metadata either way.
      this.logger.debug('some ResourceTags are not set as GCE labels', { Tags: this.resourceLabels.skipped.map((s) => `${s.key} (${s.why})`) });
    }
  }

  get project(): string {
    return this.params.Project;
  }

  get remoteUser(): string {
    return this.params.AdminUsername;
  }

  /**
   * Runs an idempotent call, repeating it on 5xx/network errors; other errors
   * are thrown as they are. `fn` gets a signal that aborts when its attempt
   * has timed out, for work of its own (following pages) to stop.
   */
  async retrying<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    let delay = this.retryDelayMs;
    for (let n = 1; ; n++) {
      try {
        return await this.withDeadline(what, fn);
      } catch (err) {
        if (n >= this.attempts || !isTransient(err)) throw err;
        this.logger.debug('retrying Compute API call', { Call: what, Attempt: n, error: err });
        await this.clock.sleep(delay);
        delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
      }
    }
  }

  /**
   * One attempt of `fn`, failing with GceTimeoutError when it has not settled
   * within the request timeout. The request is cancelled when the client
   * library's promise allows it; either way nothing waits on it any more.
   */
  private withDeadline<T>(what: string, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const abandon = new AbortController();
    const attempt = fn(abandon.signal);
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimer(this.requestTimeoutMs, () => {
        abandon.abort();
        (attempt as Promise<T> & { cancel?: () => void }).cancel?.();
        // Whatever it settles with later is of no interest.
        attempt.catch(() => undefined);
        reject(new GceTimeoutError(`gce: ${what}: no answer within ${this.requestTimeoutMs} ms`));
      });
      attempt.then(
        (value) => {
          timer.cancel();
          resolve(value);
        },
        (err: unknown) => {
          timer.cancel();
          reject(err as Error);
        },
      );
    });
  }

  /** `retrying`, with failures classified (RateLimitError, QuotaError, ...). */
  async call<T>(what: string, fn: (signal: AbortSignal) => Promise<T>, backoff: ThrottleBackoff = this.otherBackoff): Promise<T> {
    try {
      const out = await this.retrying(what, fn);
      backoff.reset();
      return out;
    } catch (err) {
      throw classify(err, { clock: this.clock, backoff, what });
    }
  }

  /**
   * Waits until `op` is DONE; throws GceOperationError when it finished with
   * errors (how a create that was accepted, then failed, shows up).
   */
  async waitOperation(zone: string, op: Operation, what: string): Promise<Operation> {
    const deadline = this.clock.now() + this.operationTimeoutMs;
    let cur = op;
    for (;;) {
      // Even a DONE one: an answer without a name is not an operation (a proxy's page), so it says nothing about the request.
      const name = cur.name;
      if (!name) throw new Error(`gce: ${what}: the API returned an operation without a name`);
      if (String(cur.status) === 'DONE') break;
      if (this.clock.now() > deadline) throw new Error(`gce: ${what}: operation ${name} not done after ${this.operationTimeoutMs} ms`);
      // wait blocks server-side for up to 2 minutes, and returns early when the operation is done.
      // Classified here: a setTags waits outside any other classifying call.
      const [next] = await this.call(`wait ${name}`, () => this.clients.operations.wait({ project: this.project, zone, operation: name }));
      cur = next ?? {};
      if (String(cur.status) !== 'DONE') await this.clock.sleep(this.operationPollMs);
    }
    const errors = cur.error?.errors ?? [];
    if (errors.length > 0) {
      const codes = errors.map((e) => e.code ?? '').filter((c) => c !== '');
      const messages = errors.map((e) => e.message ?? '').join('; ');
      // The items too: a QUOTA_EXCEEDED names its quota in errorDetails[].quotaInfo.
      throw new GceOperationError(`${what}: operation ${cur.name ?? ''} failed: ${codes.join(',')}: ${messages}`, codes, errors);
    }
    return cur;
  }

  async fetch(zone: string, name: string): Promise<GceInstanceRecord> {
    const [rec] = await this.call(`get ${name}`, () => this.clients.instances.get({ project: this.project, zone, instance: name }));
    return recordOf(rec, name);
  }

  async create(type: InstanceType, imageId: string, tags: InstanceTags, initCommand: string, publicKey: string): Promise<Instance> {
    const name = this.newName();
    const zones = this.params.Zone;
    const start = this.zoneStart.get(type.ProviderType) ?? 0;
    const order = zones.map((_, i) => (start + i) % zones.length);
    // Regions whose quota this create ran over: their other zones share it.
    const overQuota = new Set<string>();
    const anotherZoneAfter = (k: number): boolean => order.slice(k + 1).some((j) => !overQuota.has(regionOf(zones[j])));
    for (const [k, index] of order.entries()) {
      const zone = zones[index];
      if (overQuota.has(regionOf(zone))) continue;
      if (this.placeCapacity.isOut(type, zone)) {
        // Not asked again until the memory expires (place-capacity.ts): with
        // many creates in flight, each would pay an insert and an operation
        // that fails seconds later. When no zone is left, the type's
        // CapacityError is the answer, as a fresh failure would give.
        this.logger.debug('skipping zone recently out of capacity for this type', { Zone: zone, InstanceType: type.Name });
        if (anotherZoneAfter(k)) continue;
        const remembered = new RememberedCapacityError(zone, PLACE_CAPACITY_TTL_MS);
        throw classify(remembered, { clock: this.clock, backoff: this.createBackoff, what: `insert ${type.ProviderType} in ${zone}`, providerType: type.ProviderType, zone });
      }
      try {
        const rec = await this.createIn(zone, name, type, imageId, tags, initCommand, publicKey);
        this.placeCapacity.clear(type, zone);
        this.zoneStart.set(type.ProviderType, index);
        this.createBackoff.reset();
        this.logger.info('created instance', { Instance: name, InstanceType: type.Name, ProviderType: type.ProviderType, Zone: zone });
        return new GceInstance(this, rec, zone, tags);
      } catch (err) {
        if (isZoneCapacity(err) || isZoneUnsupported(err, zone)) this.placeCapacity.mark(type, zone);
        const regional = regionalQuota(err);
        if (regional) overQuota.add(regionOf(zone));
        if (anotherZoneAfter(k)) {
          if (regional) {
            this.logger.warn('region over quota, trying a zone in another region', { Zone: zone, InstanceType: type.Name, Quota: quotaMetricsOf(err), error: err });
            continue;
          }
          if (isZoneCapacity(err)) {
            this.logger.warn('zone out of capacity, trying next zone', { Zone: zone, InstanceType: type.Name, error: err });
            continue;
          }
          if (isZoneUnsupported(err, zone)) {
            this.logger.warn('zone does not offer this type, trying next zone', { Zone: zone, InstanceType: type.Name, ProviderType: type.ProviderType, error: err });
            continue;
          }
        }
        // A zone whose inserts fail (5xx or timeouts after our retries, an
        // operation error like INTERNAL_ERROR, a retired zone) would
        // otherwise be asked first by every create of this type for ever:
        // the next one starts in the next zone. Not this create: an insert
        // that timed out may have been carried out, and a second VM in
        // another zone would be a duplicate. Throttles and quotas are about
        // the project or the region, not this zone.
        if (!isThrottle(err) && !isQuota(err)) this.zoneStart.set(type.ProviderType, (index + 1) % zones.length);
        const what = `insert ${type.ProviderType} in ${zone}`;
        throw classify(err, { clock: this.clock, backoff: this.createBackoff, what, providerType: type.ProviderType, zone });
      }
    }
    // Not reached: the last zone tried throws, and a zone is skipped only while one is left to try.
    throw new Error(`gce: create ${name}: no zone to try`);
  }

  private async createIn(
    zone: string,
    name: string,
    type: InstanceType,
    imageId: string,
    tags: InstanceTags,
    initCommand: string,
    publicKey: string,
  ): Promise<GceInstanceRecord> {
    const resourceLabels = resourceLabelsFor(this.resourceLabels, tags);
    const body = buildInstanceBody({ params: this.params, zone, name, type, imageId, tags, initCommand, publicKey, setTagKey: this.setTagKey, resourceLabels });
    // One requestId for every attempt in this zone: a retried insert GCE already carried out returns the same operation.
    const requestId = this.newRequestId();
    const what = `insert ${name} (${type.ProviderType}) in ${zone}`;
    const [lro] = await this.retrying(what, () => this.clients.instances.insert({ project: this.project, zone, requestId, instanceResource: body }));
    await this.waitOperation(zone, operationOf(lro), what);
    try {
      // For the internal IP, which only GCE knows.
      const [rec] = await this.retrying(`get ${name}`, () => this.clients.instances.get({ project: this.project, zone, instance: name }));
      return recordOf(rec, name);
    } catch (err) {
      // Not found after a successful insert: the operation's answer was not to be believed.
      if (isNotFound(err)) throw new Error(`gce: ${what}: the insert reported success, but there is no such instance`, { cause: err });
      // The VM exists: report it without an address (the next list fills it in) rather than as a failure.
      this.logger.warn('created instance but could not read it back', { Instance: name, error: err });
      return { ...body, zone, status: 'PROVISIONING' };
    }
  }

  /**
   * Every instance of ours the project still has, whatever its status. A
   * TERMINATED, STOPPED or SUSPENDED VM (it powered itself off, or someone
   * stopped it) still bills for its disks, so it must stay listed for the
   * pool to destroy it; a VM being deleted (STOPPING while the delete runs)
   * still holds its quota, so it must stay counted until GCE drops it from
   * the list. As the ec2 driver keeps `stopped` instances.
   */
  async instances(tagFilter: InstanceTags): Promise<Instance[]> {
    // Only our own InstanceSetID's label, unless the caller asks for another one's (tests do).
    const setValue = tagFilter[this.setTagKey] ?? this.instanceSetId;
    const filter = labelFilter(this.setTagKey, setValue);
    const wanted = { ...tagFilter, [this.setTagKey]: setValue };
    const listing = await this.call(
      'aggregatedList',
      async (abandoned) => {
        const listing = await listAggregated(this.clients.instances, this.project, filter, abandoned);
        // GCE answers for every zone of the project, with a warning where
        // nothing matched. No zone at all is not its answer (a proxy's page,
        // an empty body): taking it for "no instances" would make the pool
        // forget every VM it has.
        if (listing.scopes === 0) throw new Error('gce: aggregatedList: the answer names no zone at all');
        return listing;
      },
      this.listBackoff,
    );
    // Decided outside the retried call: a zone that does not answer now will not in a second either; the pool lists again later.
    const verdict = unreachableVerdict(listing.unreachable, this.params.Zone, this.zonesWithOurs);
    if (verdict.blocking.length > 0) {
      // The pool keeps every worker when a listing fails; a listing without these zones would drop theirs.
      const named = verdict.blocking.map((z) => {
        const code = listing.warnings[`zones/${z}`];
        return code && code !== 'UNREACHABLE' ? `${z} (warning ${code})` : z;
      });
      throw new Error(`gce: aggregatedList: ${named.join(', ')} did not answer, and may hold instances of ours (a configured zone, or one that held some at the last listing)`);
    }
    if (verdict.all.length > 0) {
      this.listWarnings.warn('some zones of the project did not answer the listing; none is configured or held instances of ours', { Zones: verdict.all }, 'zones unreachable');
    }
    const out: GceInstance[] = [];
    for (const rec of listing.records) {
      const inst = new GceInstance(this, rec);
      // The label is a hash for some values: the exact tags in metadata decide.
      if (Object.entries(wanted).every(([k, v]) => inst.tags[k] === v)) out.push(inst);
    }
    if (setValue === this.instanceSetId) this.zonesWithOurs = new Set(out.map((i) => i.zone));
    return out;
  }

  /** Compute Engine bills per second with a one-minute minimum. */
  billingRule(): BillingRule {
    return GCE_BILLING;
  }

  stop(): void {
    // Closing is best-effort: nothing waits on it, and the VMs are left alone either way.
    void this.clients.instances.close().catch(() => undefined);
    void this.clients.operations.close().catch(() => undefined);
    this.clients.agents?.http.destroy();
    this.clients.agents?.https.destroy();
  }
}
