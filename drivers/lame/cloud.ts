/**
 * The lame cloud: the provider-side state behind lame instance sets. Its VMs,
 * their tags, the fault knobs and the seeded RNG live here; `clouds.ts` keeps
 * one per cloud name for the whole process, so that a dispatcher stopped and
 * started again inside the same process (tests, the demo) finds its VMs
 * still running, exactly as it would in a real cloud.
 *
 * The test hooks in the style of the reference's stub driver are methods
 * here (`failNextCreate`, `holdCreates`, `callCounts`, `listVMs`, ...) and on
 * each VM (`dropConnections`, `break`, `crashCrunchRun`, `setBooted`).
 */
import type { RawTransport } from '../../src/arvados/http.js';
import { CapacityError, QuotaError } from '../../src/cloud/errors.js';
import type { DriverContext, InstanceTags } from '../../src/cloud/types.js';
import type { Timer } from '../../src/clock/index.js';
import type { InstanceType } from '../../src/config/types.js';
import type { WarmUpTotals } from './disk-cache.js';
import { type LameParams, LameParamsError } from './params.js';
import { Gate } from './gate.js';
import { Random } from './random.js';
import { LameVM } from './vm.js';
import { pickZone, reclaimDelay, reclaimRate } from './zones.js';

/** Mixed into the Seed for `faultRng`, so its stream differs from `rng`'s. */
const FAULT_STREAM = 0x5eed_fa17;
/** Mixed into the Seed for `zoneRng`. */
const ZONE_STREAM = 0x20_4e5e;

/** How many times each cloud API was called on this cloud (failed calls included). */
export interface CallCounts {
  create: number;
  instances: number;
  destroy: number;
  setTags: number;
}

/** A `crunch-run --detach` a VM accepted (see `LameCloud.onDetach`). */
export interface DetachEvent {
  vm: LameVM;
  uuid: string;
  pid: number;
  /** Epoch ms on the cloud's clock when the VM's handler ran the command. */
  at: number;
}

export class LameCloud {
  /** Every random choice of this cloud; survives later factory calls so a seeded run stays repeatable. */
  readonly rng: Random;
  /**
   * The random choices of the later knobs (list and tag failures, quota and
   * capacity error rates, reclaimed VMs): a second stream from the same Seed,
   * so adding them left the draws of `rng`, and the runs seeded before them,
   * as they were.
   */
  readonly faultRng: Random;
  private readonly vms = new Map<string, LameVM>();
  private readonly removalTimers = new Map<string, Timer>();
  /** VMs the provider will take back (ReclaimRate), by id. */
  private readonly reclaimTimers = new Map<string, Timer>();
  private nextId = 1;
  /** Epoch ms on the cloud's clock when it started: `SpotOutages` times count from here. */
  readonly startedAt: number;
  /** Per provider type, the index in `Zones` the next create without a zone tries first. */
  private readonly zoneCursor = new Map<string, number>();
  /** The draws of `ReclaimRates` (a third stream of the Seed, drawn only when a rate applies, so runs without rates keep their draws). */
  private readonly zoneRng: Random;
  /** Image pulls and cold input reads of every container started here (ImagePullTimePerGiB, ColdInputTimePerGiB). */
  readonly warmUpTotals: WarmUpTotals = { imagePulls: 0, imagePullMs: 0, coldInputs: 0, coldInputMs: 0 };
  /** VMs taken back by the provider (ReclaimRate) so far. */
  reclaimed = 0;
  /** Creates reserved but not finished: counted against QuotaMaxInstances. */
  private pendingCreates = 0;
  private readonly injectedCreateErrors: unknown[] = [];
  private readonly createGate = new Gate();
  private readonly setTagsGate = new Gate();
  private readonly calls: CallCounts = { create: 0, instances: 0, destroy: 0, setTags: 0 };
  /**
   * Controllers the VMs' crunch-run reaches without HTTP, by base URL (as
   * `apiBaseURL` gives it for ARVADOS_API_HOST): the simulator registers its
   * in-process controller here. Any other address is reached over HTTP.
   */
  readonly controllerTransports = new Map<string, RawTransport>();
  private readonly detachListeners = new Set<(e: DetachEvent) => void>();
  private readonly reclaimListeners = new Set<(vm: LameVM) => void>();

  constructor(
    readonly name: string,
    /** The parameters in force: replaced by a later factory call, or by `configure()`. */
    public params: LameParams,
    /** Clock, logger and cluster of the latest factory call. */
    public ctx: DriverContext,
  ) {
    this.rng = new Random(params.Seed);
    this.faultRng = new Random(params.Seed === undefined ? undefined : params.Seed ^ FAULT_STREAM);
    this.zoneRng = new Random(params.Seed === undefined ? undefined : params.Seed ^ ZONE_STREAM);
    this.startedAt = ctx.clock.now();
  }

  // ------------------------------------------------------------ provider API (used by the instance set)

  /**
   * Creates a VM, applying the fault knobs in a fixed order: injected,
   * ErrorRateCreate, QuotaErrorRate / CapacityErrorRate (one draw shared, so
   * each is an exact fraction of the creates that get that far), the zone
   * (`zone` when given, else the next one with spot capacity: SpotOutages),
   * capacity types, quota.
   */
  async createVM(type: InstanceType, imageId: string, tags: InstanceTags, initCommand: string, publicKey: string, zone?: string): Promise<LameVM> {
    this.calls.create++;
    const held = this.createGate.passing();
    if (held) await held;
    if (this.injectedCreateErrors.length > 0) throw this.injectedCreateErrors.shift();
    // Draw every number this create needs now, whatever happens next, so a
    // seeded run's later choices do not depend on which knobs are set.
    const errorDraw = this.rng.next();
    const bootTime = this.rng.between(this.params.MinBootTime, this.params.MaxBootTime);
    const brokenDraw = this.rng.next();
    const neverBootDraw = this.rng.next();
    const quotaOrCapacityDraw = this.faultRng.next();
    const reclaimDraw = this.faultRng.next();
    const reclaimPoint = this.faultRng.next();
    if (errorDraw < this.params.ErrorRateCreate) {
      throw new Error(`lame: create ${type.ProviderType} failed (injected by ErrorRateCreate)`);
    }
    if (quotaOrCapacityDraw < this.params.QuotaErrorRate) {
      throw new QuotaError('lame: instance quota exceeded (injected by QuotaErrorRate)');
    }
    if (quotaOrCapacityDraw < this.params.QuotaErrorRate + this.params.CapacityErrorRate) {
      throw new CapacityError(`lame: insufficient capacity for instance type ${type.ProviderType} (injected by CapacityErrorRate)`, {
        instanceType: type.ProviderType,
      });
    }
    const placedIn = pickZone(this.params, type, zone, this.ctx.clock.now() - this.startedAt, this.zoneCursor);
    if (this.params.CapacityErrorTypes.includes(type.ProviderType)) {
      throw new CapacityError(`lame: insufficient capacity for instance type ${type.ProviderType}`, { instanceType: type.ProviderType });
    }
    const quota = this.params.QuotaMaxInstances;
    if (quota > 0 && this.liveCount() + this.pendingCreates >= quota) {
      throw new QuotaError(`lame: instance quota exceeded (QuotaMaxInstances ${quota})`);
    }
    const now = this.ctx.clock.now();
    const bootAt = now + bootTime;
    const vm = new LameVM(this, {
      id: `lame-${this.nextId++}`,
      instanceType: type,
      imageId,
      tags,
      initCommand,
      publicKey,
      createdAt: now,
      zone: placedIn,
      bootAt,
      brokenAt: brokenDraw < this.params.BrokenRate ? bootAt + this.params.BrokenAfter : undefined,
      neverBoots: neverBootDraw < this.params.NeverBootRate,
    });
    this.pendingCreates++;
    try {
      await vm.start();
    } finally {
      this.pendingCreates--;
    }
    this.vms.set(vm.id, vm);
    let reclaimAt = reclaimDraw < this.params.ReclaimRate ? bootAt + reclaimPoint * this.params.ReclaimAfter : Infinity;
    const ratePerHour = reclaimRate(this.params, type, placedIn);
    if (ratePerHour > 0) reclaimAt = Math.min(reclaimAt, bootAt + reclaimDelay(ratePerHour, this.zoneRng.next()));
    if (reclaimAt < Infinity) this.scheduleReclaim(vm, Math.max(0, reclaimAt - now));
    this.ctx.logger.info('lame: instance created', {
      Instance: vm.id,
      InstanceType: type.Name,
      Address: vm.address,
      ...(placedIn !== undefined ? { Zone: placedIn } : {}),
      ...(vm.neverBoots ? { NeverBoots: true } : {}),
    });
    return vm;
  }

  /** The listed VMs carrying every tag in `filter`, in creation order. */
  listMatching(filter: InstanceTags): LameVM[] {
    this.calls.instances++;
    if (this.faultRng.chance(this.params.ErrorRateList)) throw new Error('lame: list instances failed (injected by ErrorRateList)');
    return this.listVMs().filter((vm) => Object.entries(filter).every(([k, v]) => vm.tags[k] === v));
  }

  /** Replaces `vm`'s tags. Fails for a VM that is no longer listed, as a real cloud would. */
  setTags(vm: LameVM, tags: InstanceTags): void {
    this.calls.setTags++;
    const fail = this.faultRng.chance(this.params.ErrorRateSetTags);
    if (!this.vms.has(vm.id)) throw new Error(`lame: instance ${vm.id} not found`);
    if (fail) throw new Error(`lame: set tags of ${vm.id} failed (injected by ErrorRateSetTags)`);
    vm.tags = { ...tags };
  }

  /**
   * Terminates `vm`: its processes vanish and its SSH server closes at once;
   * it leaves the list DestroyDelay later. Destroying a VM that is already
   * terminating or gone is not an error.
   */
  async destroyVM(vm: LameVM): Promise<void> {
    this.calls.destroy++;
    const fail = this.rng.chance(this.params.ErrorRateDestroy);
    if (vm.state === 'terminated') return;
    if (fail) throw new Error(`lame: destroy ${vm.id} failed (injected by ErrorRateDestroy)`);
    this.ctx.logger.info('lame: instance destroyed', { Instance: vm.id });
    this.reclaimTimers.get(vm.id)?.cancel();
    this.reclaimTimers.delete(vm.id);
    await vm.terminate();
    const delay = this.params.DestroyDelay;
    if (delay <= 0) {
      this.vms.delete(vm.id);
      return;
    }
    this.removalTimers.set(
      vm.id,
      this.ctx.clock.setTimer(delay, () => {
        this.removalTimers.delete(vm.id);
        this.vms.delete(vm.id);
      }),
    );
  }

  /**
   * The provider takes `vm` back in `delayMs` (a spot instance reclaimed):
   * its crunch-runs vanish and it leaves the list at once, with no call from
   * the dispatcher.
   */
  private scheduleReclaim(vm: LameVM, delayMs: number): void {
    this.reclaimTimers.set(
      vm.id,
      this.ctx.clock.setTimer(delayMs, () => {
        this.reclaimTimers.delete(vm.id);
        if (vm.state === 'terminated') return;
        this.ctx.logger.info('lame: instance reclaimed by the provider', { Instance: vm.id, Containers: vm.runningContainers().length });
        this.reclaimed++;
        this.vms.delete(vm.id);
        void vm.terminate();
        for (const fn of [...this.reclaimListeners]) fn(vm);
      }),
    );
  }

  // ------------------------------------------------------------ test hooks

  /** Every listed VM (terminating ones included until DestroyDelay passes), in creation order. */
  listVMs(): LameVM[] {
    return [...this.vms.values()];
  }

  /** A listed VM by id. */
  vm(id: string): LameVM | undefined {
    return this.vms.get(id);
  }

  /** Makes the next create fail with `err` (one-shot; several calls queue up, first in first out). */
  failNextCreate(err: unknown): void {
    this.injectedCreateErrors.push(err);
  }

  /** Makes every create wait (after being counted) until `releaseCreates()`. */
  holdCreates(): void {
    this.createGate.hold();
  }

  /** Lets held creates (and later ones) proceed. */
  releaseCreates(): void {
    this.createGate.release();
  }

  /** Makes every tag write through an Instance wait until `releaseSetTags()`: a cloud slow to answer. */
  holdSetTags(): void {
    this.setTagsGate.hold();
  }

  /** Lets held tag writes (and later ones) proceed. */
  releaseSetTags(): void {
    this.setTagsGate.release();
  }

  /** What a tag write must wait for first: undefined unless `holdSetTags()` holds them. */
  tagWritesHeld(): Promise<void> | undefined {
    return this.setTagsGate.passing();
  }

  /**
   * Calls `fn` synchronously each time a VM accepts `crunch-run --detach`,
   * before the answer goes back: the moment a container reaches its VM,
   * which the dispatch latency benchmark times. Returns the unsubscribe
   * function. A listener that throws is logged and ignored.
   */
  onDetach(fn: (e: DetachEvent) => void): () => void {
    const entry = (e: DetachEvent): void => fn(e);
    this.detachListeners.add(entry);
    return () => {
      this.detachListeners.delete(entry);
    };
  }

  /** Calls `fn` each time the provider takes a VM back (ReclaimRate): the VM is gone, no destroy call made. Returns the unsubscribe function. */
  onReclaim(fn: (vm: LameVM) => void): () => void {
    const entry = (vm: LameVM): void => fn(vm);
    this.reclaimListeners.add(entry);
    return () => {
      this.reclaimListeners.delete(entry);
    };
  }

  /** Tells the `onDetach` listeners (crunch-run.ts calls this). */
  reportDetach(e: DetachEvent): void {
    for (const fn of [...this.detachListeners]) {
      try {
        fn(e);
      } catch (err) {
        this.ctx.logger.warn('lame: detach listener threw', { error: err });
      }
    }
  }

  /** A copy of the call counters. */
  callCounts(): CallCounts {
    return { ...this.calls };
  }

  /**
   * Changes knobs at run time (fault injection in the middle of a test).
   * Transport cannot change: existing VMs were built for the old one.
   */
  configure(changes: Partial<LameParams>): void {
    if (changes.Transport !== undefined && changes.Transport !== this.params.Transport) {
      throw new LameParamsError(`DriverParameters.Transport: cloud ${this.name} already uses ${this.params.Transport}`);
    }
    this.params = { ...this.params, ...changes };
  }

  /** Closes every VM's server and forgets every VM; used by `resetLameClouds`. */
  async shutdown(): Promise<void> {
    this.releaseCreates();
    this.releaseSetTags();
    for (const t of [...this.removalTimers.values(), ...this.reclaimTimers.values()]) t.cancel();
    this.removalTimers.clear();
    this.reclaimTimers.clear();
    const vms = this.listVMs();
    this.vms.clear();
    await Promise.all(vms.map((vm) => vm.terminate()));
  }

  private liveCount(): number {
    let n = 0;
    for (const vm of this.vms.values()) if (vm.state !== 'terminated') n++;
    return n;
  }
}
