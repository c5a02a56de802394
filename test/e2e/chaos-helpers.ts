/**
 * Helpers for the whole-daemon chaos test (`chaos.test.ts`): child processes
 * whose output goes to log files (and whose tails go into assertion
 * messages; `src/harness/processes.ts`, shared with the benchmarks), the
 * cluster config the daemon and the lame-cloud process read,
 * and a sampler that watches the lame cloud's VMs from outside for the
 * invariants no log can prove: no container has two live crunch-runs at
 * once, and the instance count stays within the quota.
 */
import type { LameCloudAdmin } from '../../drivers/lame/chaos-client.js';
import type { WireVM } from '../../drivers/lame/protocol.js';
import { daemonConfigHead } from '../fixtures/daemon-config.js';
import { indent, sleep } from '../../src/harness/processes.js';

export { DaemonProcess, type Exit, indent, logRecords, REPO, sleep, tail, waitUntil } from '../../src/harness/processes.js';

// ------------------------------------------------------------ config

export interface ChaosInstanceType {
  name: string;
  vcpus: number;
  price: number;
}

/**
 * 1, 2, 3, 4, 6, 8 and 16 VCPUs; 4 GiB per VCPU + 2 GiB; price rising with
 * size, a little less than in proportion, so that within MaximumPriceFactor
 * (1.5) most containers have two eligible types: the cheapest, and the next
 * bigger one where a smaller container can share the room.
 */
export const INSTANCE_TYPES: ChaosInstanceType[] = [1, 2, 3, 4, 6, 8, 16].map((vcpus) => ({
  name: `c${vcpus}`,
  vcpus,
  price: Math.round((vcpus + 1) * 0.01 * 1000) / 1000,
}));

export interface ChaosConfig {
  rootToken: string;
  managementToken: string;
  controllerURL: string;
  /** `http://127.0.0.1:0` for the lame-cloud process to pick a port; its real URL for the dispatcher. */
  cloudURL: string;
  privateKey: string;
  /** ProviderTypes the lame cloud always fails with CapacityError. */
  capacityErrorTypes: string[];
  quota: number;
  maxDispatchAttempts: number;
  seed?: number;
}

/** The cluster config both processes read (the lame-cloud process reads the DriverParameters; the daemon, the rest). */
export function chaosConfigYAML(c: ChaosConfig): string {
  const types = INSTANCE_TYPES.map(
    (t) => `      ${t.name}:
        ProviderType: lame.${t.name}
        VCPUs: ${t.vcpus}
        RAM: ${4 * t.vcpus + 2}GiB
        IncludedScratch: 100GB
        Price: ${t.price}`,
  ).join('\n');
  return `${daemonConfigHead({ rootToken: c.rootToken, controllerURL: c.controllerURL, managementToken: c.managementToken })}    SystemLogs:
      LogLevel: info
    Containers:
      DispatchPrivateKey: |
${indent(c.privateKey, 8)}
      StaleLockTimeout: 5s
      MaxDispatchAttempts: ${c.maxDispatchAttempts}
      PreemptiblePriceFactor: 0
      CloudVMs:
        Driver: lame
        DriverParameters:
          CloudURL: ${c.cloudURL}
          MinBootTime: 200ms
          MaxBootTime: 1s
          QuotaMaxInstances: ${c.quota}
          ErrorRateCreate: 0.1
          ErrorRateDestroy: 0.1
          CrunchRunCrashRate: 0.1
          BrokenRate: 0.05
          BrokenAfter: 3s
          NeverBootRate: 0.05
          CapacityErrorTypes: [${c.capacityErrorTypes.map((t) => JSON.stringify(t)).join(', ')}]${c.seed === undefined ? '' : `\n          Seed: ${c.seed}`}
        MaxInstances: 0
        InitialQuotaEstimate: 8
        PollInterval: 500ms
        ProbeInterval: 500ms
        SyncInterval: 1s
        MaxProbesPerSecond: 1000
        MaxCloudOpsPerSecond: 1000
        TimeoutIdle: 2s
        TimeoutBooting: 5s
        TimeoutProbe: 5s
        TimeoutShutdown: 2s
        TimeoutSignal: 1s
        TimeoutTERM: 5s
        TimeoutStaleRunLock: 5s
    InstanceTypes:
${types}
`;
}

// ------------------------------------------------------------ the VM sampler

/** Two live crunch-runs for one container, as one sample saw them. */
export interface DoubleRun {
  at: number;
  uuid: string;
  /** `vm-id:pid:phase` of each live process. */
  where: string[];
}

/**
 * Lists the lame cloud's VMs every `intervalMs` until stopped, and keeps
 * what the invariants need: the most live VMs seen at once, every VM id
 * seen, and every sample where one container had more than one live
 * crunch-run (on two VMs, or two processes on one).
 */
export class VMSampler {
  samples = 0;
  errors = 0;
  lastError: string | undefined;
  maxLive = 0;
  maxLiveAt = 0;
  /** The most live crunch-runs seen on one VM at once (containers packed together). */
  maxPerVM = 0;
  readonly vmsSeen = new Set<string>();
  readonly neverBooting = new Set<string>();
  readonly broken = new Set<string>();
  readonly doubles: DoubleRun[] = [];
  private stopped = false;
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly admin: LameCloudAdmin,
    private readonly intervalMs = 200,
  ) {}

  start(): void {
    this.done = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.done;
  }

  /** Takes one sample now (the loop calls this; so may a test that wants a fresh look). */
  async sample(): Promise<WireVM[]> {
    const vms = await this.admin.vms();
    this.observe(vms);
    return vms;
  }

  observe(vms: WireVM[]): void {
    const at = Date.now();
    this.samples++;
    const live = vms.filter((vm) => vm.state === 'running');
    if (live.length > this.maxLive) {
      this.maxLive = live.length;
      this.maxLiveAt = at;
    }
    const byUuid = new Map<string, string[]>();
    for (const vm of vms) {
      this.vmsSeen.add(vm.id);
      this.maxPerVM = Math.max(this.maxPerVM, vm.processes.filter((p) => p.alive).length);
      if (vm.neverBoots) this.neverBooting.add(vm.id);
      if (vm.broken) this.broken.add(vm.id);
      for (const p of vm.processes) {
        if (p.phase === 'exited' || !p.alive) continue;
        const list = byUuid.get(p.uuid) ?? [];
        list.push(`${vm.id}:${p.pid}:${p.phase}`);
        byUuid.set(p.uuid, list);
      }
    }
    for (const [uuid, where] of byUuid) if (where.length > 1) this.doubles.push({ at, uuid, where });
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      const t0 = Date.now();
      try {
        await this.sample();
      } catch (err) {
        this.errors++;
        this.lastError = (err as Error).message;
      }
      await sleep(Math.max(0, this.intervalMs - (Date.now() - t0)));
    }
  }
}
