/**
 * Object-literal fakes for the worker pool's unit tests: an in-memory
 * InstanceSet and an executor whose answers each test scripts per instance
 * (boot probe, `--list`, `--detach`, `--kill`), including answers that never
 * come until the test releases them.
 */
import type { Container } from '../../src/arvados/types.js';
import type { Instance, InstanceSet, InstanceTags } from '../../src/cloud/types.js';
import { ManualClock, settle } from '../../src/clock/index.js';
import type { Cluster } from '../../src/config/types.js';
import { type Logger, silentLogger } from '../../src/log.js';
import { SshConnectError } from '../../src/ssh/errors.js';
import type { ExecuteOptions, ExecuteResult, Executor } from '../../src/ssh/executor.js';
import { type PoolEvent, WorkerPoolImpl } from '../../src/worker/pool.js';
import { makeCluster } from '../drivers/lame/helpers.js';

/** One scripted answer: an exit status with output, a connection error, or a function of the command. */
export type Answer = { exit: number; stdout?: string; stderr?: string } | 'error' | ((cmd: string, options?: ExecuteOptions) => Promise<ExecuteResult>);

export interface Script {
  boot: Answer;
  list: Answer;
  detach: Answer;
  kill: Answer;
}

export const ok = (stdout = ''): Answer => ({ exit: 0, stdout });
export const fail = (stderr = 'nope'): Answer => ({ exit: 1, stderr });

/** A Locked container (1 VCPU, 1 GiB) numbered `n` (1-9), for starts and kills. */
export const lockedContainer = (n: number): Container => lockedContainerWith(`zzzzz-dz642-00000000000000${n}`);

/** A Locked container (1 VCPU, 1 GiB) with this uuid. */
export const lockedContainerWith = (uuid: string): Container => ({
  uuid,
  state: 'Locked',
  priority: 1,
  runtime_constraints: { ram: 1 << 30, vcpus: 1 },
  scheduling_parameters: {},
  container_image: 'img',
  created_at: '2026-01-01T00:00:00Z',
});

interface FakeVM {
  id: string;
  tags: InstanceTags;
  providerType: string;
  destroyed: number;
  /** Where the VM is reached; '' until the provider assigns one. */
  address?: string;
}

export interface FakeCloudOptions {
  /** Where the pool logs. Default: nowhere. */
  logger?: Logger;
  /** Told of the pool's timing events (PoolDeps.onEvent). */
  onEvent?: (event: PoolEvent) => void;
  /**
   * When given, executors report `firstLoginAt` from it (instance id -> when
   * its first SSH login happened), as the SSH executor does; otherwise they
   * have no such method, as the in-process one.
   */
  logins?: Map<string, number>;
  /** When given, the pool's executors come from here instead of the scripts (instance id -> executor). */
  executor?: (id: string) => Executor;
}

export class FakeCloud {
  readonly clock = new ManualClock();
  readonly cluster: Cluster = makeCluster();
  readonly vms = new Map<string, FakeVM>();
  readonly scripts = new Map<string, Script>();
  readonly commands: { instance: string; command: string }[] = [];
  readonly setTagCalls: { instance: string; tags: InstanceTags }[] = [];
  /** Every `setTarget` call, in order. */
  readonly targets: { instance: string; address: string }[] = [];
  readonly instanceSetId = 'fake-set';
  /** The answer for instances without their own script. */
  defaultScript: Script = { boot: ok('running\n'), list: ok(), detach: ok('{}'), kill: ok() };
  pool: WorkerPoolImpl;
  private next = 1;

  constructor(
    cloudVMs: Partial<Cluster['Containers']['CloudVMs']> = {},
    private readonly opts: FakeCloudOptions = {},
  ) {
    Object.assign(this.cluster.Containers.CloudVMs, { MaxConcurrentInstanceCreateOps: 0 }, cloudVMs);
    this.pool = this.newPool();
  }

  newPool(): WorkerPoolImpl {
    this.pool = new WorkerPoolImpl({
      cluster: this.cluster,
      instanceSet: this.instanceSet(),
      newExecutor: (inst) => this.opts.executor?.(inst.id) ?? this.executor(inst.id),
      clock: this.clock,
      logger: this.opts.logger ?? silentLogger(),
      onEvent: this.opts.onEvent,
      instanceSetId: this.instanceSetId,
      publicKey: '',
    });
    return this.pool;
  }

  /** An instance already in the cloud (a previous dispatcher created it). */
  seed(tags: Partial<InstanceTags> = {}): string {
    const id = `i-${this.next++}`;
    this.vms.set(id, {
      id,
      providerType: 'lame.small',
      destroyed: 0,
      tags: {
        ArvadosInstanceSetID: this.instanceSetId,
        ArvadosInstanceType: 'small',
        ArvadosIdleBehavior: 'run',
        ArvadosInstanceSecret: 'f'.repeat(40),
        ...tags,
      } as InstanceTags,
    });
    return id;
  }

  /** An instance already in the cloud, listed and probed: an idle worker. Returns its id. */
  async idleWorker(): Promise<string> {
    const id = this.seed();
    await this.pool.syncNow();
    await this.probe();
    if (this.pool.detail(id)?.workerState !== 'idle') throw new Error(`worker ${id} is ${this.pool.detail(id)?.workerState}, not idle`);
    return id;
  }

  /** Creates an instance of type small through the pool; returns its id once the cloud has it (the worker boots). */
  async createBooting(): Promise<string> {
    const before = new Set(this.vms.keys());
    if (!this.pool.create(this.cluster.InstanceTypes.small)) throw new Error(`the pool declined a create: ${this.pool.createBlocker(this.cluster.InstanceTypes.small) ?? ''}`);
    await this.tick(0);
    const id = [...this.vms.keys()].find((k) => !before.has(k));
    if (id === undefined) throw new Error('the create made no instance');
    return id;
  }

  /**
   * Starts `containers` on worker `id` (`--detach` as scripted) and lets a
   * probe round list their crunch-runs there, as on a VM where they run.
   */
  async runListed(id: string, ...containers: Container[]): Promise<void> {
    for (const c of containers) if (!this.pool.startContainer(id, c)) throw new Error(`worker ${id} declined ${c.uuid}`);
    await this.tick(0);
    this.script(id, { list: ok(containers.map((c) => `${c.uuid}\n`).join('')) });
    await this.probe();
  }

  /**
   * Worker `id`'s next `--detach`s answer (exit 0, `stdout`) only when
   * `release` is called: a start in flight. `inFlight` counts them.
   */
  holdDetach(id: string, stdout = '{}'): { inFlight: () => number; release: () => void } {
    const held: Array<() => void> = [];
    this.script(id, {
      detach: () =>
        new Promise<ExecuteResult>((resolve) => held.push(() => resolve({ exitCode: 0, stdout: Buffer.from(stdout), stderr: Buffer.alloc(0) }))),
    });
    return {
      inFlight: () => held.length,
      release: () => {
        for (const answer of held.splice(0)) answer();
      },
    };
  }

  script(id: string, changes: Partial<Script>): void {
    this.scripts.set(id, { ...(this.scripts.get(id) ?? this.defaultScript), ...changes });
  }

  async tick(ms = 0): Promise<void> {
    await this.clock.advance(ms);
    await settle(8);
  }

  /** One probe round, run to the end. */
  async probe(): Promise<void> {
    let done = false;
    const round = this.pool.probeNow().then(() => (done = true));
    await this.tick(0);
    // Only a round of several workers waits on the clock (MaxProbesPerSecond pacing).
    while (!done) await this.tick(100);
    await round;
  }

  private instanceSet(): InstanceSet {
    const snapshot = (vm: FakeVM): Instance => ({
      id: vm.id,
      providerType: vm.providerType,
      tags: { ...vm.tags },
      address: vm.address ?? `${vm.id}.example`,
      remoteUser: 'crunch',
      setTags: async (tags) => {
        this.setTagCalls.push({ instance: vm.id, tags });
        vm.tags = { ...tags };
      },
      destroy: async () => {
        vm.destroyed++;
      },
      verifyHostKey: async () => {},
    });
    return {
      create: async (type, _image, tags) => {
        const id = `i-${this.next++}`;
        const vm: FakeVM = { id, tags: { ...tags }, providerType: type.ProviderType, destroyed: 0 };
        this.vms.set(id, vm);
        return snapshot(vm);
      },
      instances: async () => [...this.vms.values()].map(snapshot),
      stop: () => undefined,
    };
  }

  private executor(id: string): Executor {
    return {
      execute: async (command, options) => {
        this.commands.push({ instance: id, command });
        const s = this.scripts.get(id) ?? this.defaultScript;
        const answer = command.includes('--list')
          ? s.list
          : command.includes('--detach')
            ? s.detach
            : command.includes('--kill')
              ? s.kill
              : command.includes('is-system-running')
                ? s.boot
                : ok();
        if (answer === 'error') throw new SshConnectError(id, 'refused', 'scripted');
        if (typeof answer === 'function') return answer(command, options);
        return { exitCode: answer.exit, stdout: Buffer.from(answer.stdout ?? ''), stderr: Buffer.from(answer.stderr ?? '') };
      },
      setTarget: (address) => {
        this.targets.push({ instance: id, address });
      },
      close: () => undefined,
      ...(this.opts.logins ? { firstLoginAt: () => this.opts.logins!.get(id) } : {}),
    };
  }
}
