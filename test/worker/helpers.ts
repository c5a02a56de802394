/**
 * A worker pool over the lame cloud, as the dispatcher wires it: the lame
 * instance set (in-process transport, no sockets) wrapped by
 * `wrapInstanceSet`, one ManualClock for the cloud and the pool, and a
 * TestController for crunch-run to report to. Every command the pool sends
 * is recorded, and a test can cut a VM off (its executor then refuses to
 * connect) to make probes fail.
 */
import type { IdleStretcher } from '../../src/worker/idle-stretch.js';
import { randomBytes } from 'node:crypto';
import type { Instance, InstanceSet, PricePoint } from '../../src/cloud/types.js';
import { wrapInstanceSet } from '../../src/cloud/wrap.js';
import { ManualClock, settle } from '../../src/clock/index.js';
import type { CloudVMsConfig, Cluster, InstanceType } from '../../src/config/types.js';
import { createLogger, LineCollector, type Logger } from '../../src/log.js';
import { SshConnectError } from '../../src/ssh/errors.js';
import type { ExecuteOptions, ExecuteResult, Executor } from '../../src/ssh/executor.js';
import type { RunnerBinary } from '../../src/worker/pool-config.js';
import { type PoolEvent, WorkerPoolImpl } from '../../src/worker/pool.js';
import { type LameCloud, lameDriver, type LameInstanceSet, resetLameClouds } from '../../drivers/lame/index.js';
import { TestController } from '../fixtures/controller.js';
import { DISPATCH_KEY, makeCluster, ROOT_TOKEN } from '../drivers/lame/helpers.js';

export { LARGE, SMALL, ROOT_TOKEN } from '../drivers/lame/helpers.js';
export { waitFor } from '../cloud/conformance.js';

export interface RecordedCommand {
  instance: string;
  command: string;
  at: number;
  /** What was written on the command's stdin, as text. */
  stdin: string;
}

export interface HarnessOptions {
  /** lame DriverParameters (Transport is always inprocess). Default: boot at once, Seed 1. */
  params?: Record<string, unknown>;
  cloudVMs?: Partial<CloudVMsConfig>;
  runnerBinary?: RunnerBinary;
  /** Start a TestController (needed when containers run). Default true. */
  controller?: boolean;
  /** Reuse an InstanceSetID (a restart in the same cloud). */
  instanceSetId?: string;
  clock?: ManualClock;
  ctl?: TestController;
  /** Told of the pool's timing events (PoolDeps.onEvent). */
  onEvent?: (event: PoolEvent) => void;
  /** Gives the lame instance set a `quotaGroup` method (it has none of its own). */
  quotaGroup?: (type: InstanceType) => string;
  /** Instances report this price history (as EC2 spot instances do). */
  priceHistory?: (type: InstanceType) => PricePoint[];
  /** The cluster's config file section (`Cluster.RawSection`), as if it had been loaded from one. */
  rawSection?: Record<string, unknown>;
  /** Keeps idle workers to the end of their paid period (PoolDeps.idleStretch). */
  idleStretch?: IdleStretcher;
}

export class Harness {
  readonly commands: RecordedCommand[] = [];
  /** Instance ids whose executors refuse to connect (a VM cut off from the network). */
  readonly unreachable = new Set<string>();
  /** Instance ids whose boot probe says "degraded" (exit 1), as `systemctl is-system-running` does with a failed unit. */
  readonly degraded = new Set<string>();
  readonly logs = new LineCollector();
  readonly log: Logger;
  pool!: WorkerPoolImpl;
  instanceSet!: InstanceSet;
  lame!: LameInstanceSet;

  private constructor(
    readonly clock: ManualClock,
    readonly cluster: Cluster,
    readonly instanceSetId: string,
    readonly ctl: TestController | undefined,
    private readonly opts: HarnessOptions,
  ) {
    this.log = createLogger({ stream: this.logs, level: 'debug', clock, secrets: [ROOT_TOKEN] });
  }

  static async start(opts: HarnessOptions = {}): Promise<Harness> {
    const clock = opts.clock ?? new ManualClock();
    let ctl = opts.ctl;
    if (!ctl && opts.controller !== false) {
      ctl = new TestController({ rootToken: ROOT_TOKEN, clock });
      await ctl.start();
    }
    const cluster = makeCluster({ controllerURL: ctl?.url });
    if (opts.rawSection) cluster.RawSection = opts.rawSection;
    Object.assign(cluster.Containers.CloudVMs, { MaxCloudOpsPerSecond: 0 }, opts.cloudVMs ?? {});
    const h = new Harness(clock, cluster, opts.instanceSetId ?? `wp-${randomBytes(4).toString('hex')}`, ctl, opts);
    await h.build();
    return h;
  }

  /**
   * A started pool (no controller) creating one small VM that takes an hour
   * to boot, with TimeoutBooting 60 s: the pool gives up on it a minute in.
   */
  static async withVMThatNeverBoots(): Promise<Harness> {
    const h = await Harness.start({ params: { MinBootTime: '1h', MaxBootTime: '1h' }, cloudVMs: { TimeoutBooting: 60_000 } });
    h.pool.start();
    await h.tick(0);
    h.pool.create(h.cluster.InstanceTypes.small);
    return h;
  }

  get cloud(): LameCloud {
    return this.lame.cloud;
  }

  /** Builds a pool (and instance set) over the same cloud: a dispatcher restart. The old pool must be stopped first. */
  async build(): Promise<WorkerPoolImpl> {
    const ctx = { instanceSetId: this.instanceSetId, cluster: this.cluster, logger: this.log, clock: this.clock };
    this.lame = (await lameDriver({ Transport: 'inprocess', MinBootTime: 0, MaxBootTime: 0, Seed: 1, ...this.opts.params }, ctx)) as LameInstanceSet;
    if (this.opts.quotaGroup) Object.assign(this.lame, { quotaGroup: this.opts.quotaGroup });
    const vm = this.cluster.Containers.CloudVMs;
    const wrapped = wrapInstanceSet(this.lame, {
      clock: this.clock,
      logger: this.log,
      maxCloudOpsPerSecond: vm.MaxCloudOpsPerSecond,
      resourceTags: vm.ResourceTags,
    });
    this.instanceSet = this.opts.priceHistory ? withPriceHistory(wrapped, this.opts.priceHistory) : wrapped;
    this.pool = new WorkerPoolImpl({
      cluster: this.cluster,
      instanceSet: this.instanceSet,
      newExecutor: (inst) => this.executorFor(inst),
      clock: this.clock,
      logger: this.log,
      instanceSetId: this.instanceSetId,
      publicKey: DISPATCH_KEY.public,
      runnerBinary: this.opts.runnerBinary,
      onEvent: this.opts.onEvent,
      ...(this.opts.idleStretch ? { idleStretch: this.opts.idleStretch } : {}),
    });
    return this.pool;
  }

  /** Stops the pool and builds a new one over the same cloud, started. */
  async restart(): Promise<WorkerPoolImpl> {
    this.pool.stop();
    await this.build();
    this.pool.start();
    await this.tick(0);
    return this.pool;
  }

  private executorFor(inst: Instance): Executor {
    const inner = this.instanceSet.executorFor!(inst);
    if (!inner) throw new Error('lame cloud without the inprocess transport');
    return {
      execute: (command: string, options?: ExecuteOptions): Promise<ExecuteResult> => {
        this.commands.push({ instance: inst.id, command, at: this.clock.now(), stdin: String(options?.stdin ?? '') });
        if (this.unreachable.has(inst.id)) return Promise.reject(new SshConnectError(inst.id, 'unreachable', 'cut off by the test'));
        if (this.degraded.has(inst.id) && command === this.cluster.Containers.CloudVMs.BootProbeCommand) {
          return Promise.resolve({ stdout: Buffer.from('degraded\n'), stderr: Buffer.alloc(0), exitCode: 1 });
        }
        return inner.execute(command, options);
      },
      setTarget: (a) => inner.setTarget(a),
      close: () => inner.close(),
    };
  }

  /**
   * From now on, a create makes its instance at once but answers only when
   * `release` is called, as a cloud whose answer is slow: a listing may
   * show the instance first. `inFlight` counts the answers held.
   */
  holdCreateAnswers(): { inFlight: () => number; release: () => void } {
    const create = this.lame.create.bind(this.lame);
    const held: Array<() => void> = [];
    this.lame.create = async (...args: Parameters<typeof create>) => {
      const inst = await create(...args);
      await new Promise<void>((resolve) => held.push(resolve));
      return inst;
    };
    return {
      inFlight: () => held.length,
      release: () => {
        for (const answer of held.splice(0)) answer();
      },
    };
  }

  /** Moves the clock and lets in-process work finish. */
  async tick(ms: number): Promise<void> {
    await this.clock.advance(ms);
    await settle(8);
  }

  /** Commands sent to `instance` that contain `part`. */
  sent(part: string, instance?: string): RecordedCommand[] {
    return this.commands.filter((c) => c.command.includes(part) && (instance === undefined || c.instance === instance));
  }

  /** The one worker's view (fails unless exactly one instance is shown). */
  only() {
    const all = this.pool.instances();
    if (all.length !== 1) throw new Error(`expected one instance, got ${JSON.stringify(all.map((v) => [v.instance, v.workerState]))}`);
    return all[0];
  }

  /** Creates an instance of `type` and probes until it is idle. Returns its id. */
  async createIdle(type = this.cluster.InstanceTypes.small, note?: string): Promise<string> {
    const before = new Set(this.pool.details().map((d) => d.instance));
    const view = this.pool.create(type, note);
    if (!view) throw new Error('create declined');
    await this.tick(0);
    const id = this.pool.details().find((d) => !before.has(d.instance))?.instance;
    if (!id) throw new Error('created instance did not appear');
    // A round paces its probes on the clock (MaxProbesPerSecond): let it run.
    void this.pool.probeNow();
    await this.tick(1000);
    const d = this.pool.detail(id);
    if (d?.workerState !== 'idle') throw new Error(`instance ${id} is ${d?.workerState}, not idle`);
    return id;
  }

  async stop(): Promise<void> {
    this.pool?.stop();
    await resetLameClouds();
    if (!this.opts.ctl) await this.ctl?.stop();
  }
}

/** `set` whose instances report `history` as their price history. */
function withPriceHistory(set: InstanceSet, history: (type: InstanceType) => PricePoint[]): InstanceSet {
  const add = (inst: Instance): Instance => Object.assign(inst, { priceHistory: history });
  return {
    create: async (...args) => add(await set.create(...args)),
    instances: async (filter) => (await set.instances(filter)).map(add),
    stop: () => set.stop(),
    executorFor: set.executorFor?.bind(set),
  };
}
