/**
 * What both dispatch benchmarks run on: the real dispatcher (system clock,
 * logs to a file) on config.example.yml, against the in-process test
 * controller on loopback (with its event feed when `feed` is set) and the
 * lame cloud over real SSH, with no injected faults; a number of small VMs
 * booted idle before anything is measured, and everything drained and
 * stopped afterwards.
 */
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { getLameCloud, type LameCloud } from '../../drivers/lame/index.js';
import { systemClock } from '../../src/clock/index.js';
import { loadConfigFile } from '../../src/config/index.js';
import type { Cluster } from '../../src/config/types.js';
import { againstController, EXAMPLE_CONFIG } from '../../src/demo/run.js';
import { createDispatcher, type Dispatcher } from '../../src/dispatcher.js';
import { createLogger, type Logger } from '../../src/log.js';
import type { InstanceView } from '../../src/scheduler/interfaces.js';
import { TestController } from '../../src/testcontroller/index.js';

export interface StackOptions {
  /** Subscribe to the test controller's event feed (Services.Websocket.ExternalURL). */
  feed: boolean;
  pollIntervalMs: number;
  /** Small VMs booted idle before measuring. */
  vms: number;
  /** Seeds the lame cloud. */
  seed: number;
  logPath: string;
  logLevel: string;
  /**
   * The only instance type, `small`, gets this many VCPUs (and 4 GiB each)
   * instead of config.example.yml's 2, so that a few VMs hold many 1-VCPU
   * containers. Default: the example's types, unchanged.
   */
  smallVCPUs?: number;
}

export interface BenchStack {
  ctl: TestController;
  d: Dispatcher;
  cloud: LameCloud;
  live: Cluster;
  log: Logger;
  /** Idle workers that run containers, as the pool sees them. */
  idleCount(): number;
  /** Creates `vms` small VMs through the pool and waits until all are idle. */
  bootIdle(deadline: number): Promise<void>;
  /** Waits until every VM is idle again (after a batch of containers). */
  waitAllIdle(what: string, deadline: number): Promise<void>;
  /** Drains every VM, waits for the cloud to be empty (30 s at most), stops everything; the VMs still listed, if any. */
  stop(): Promise<number>;
}

export function isIdle(v: InstanceView): boolean {
  return v.workerState === 'idle' && v.idleBehavior === 'run' && v.runningContainerUUIDs.length === 0;
}

/** The cluster the benchmarks run: config.example.yml (`loaded`) with the changes listed here. */
export function benchCluster(loaded: Cluster, controllerURL: string, feedURL: string, opts: StackOptions, cloudName: string): Cluster {
  const c = againstController(loaded, controllerURL, {
    Seed: opts.seed,
    CloudName: cloudName,
    MinBootTime: '500ms',
    MaxBootTime: '1s',
    // No injected faults: this measures the healthy path.
    ErrorRateCreate: 0,
    ErrorRateDestroy: 0,
    QuotaMaxInstances: 0,
    CapacityErrorTypes: [],
    CrunchRunCrashRate: 0,
    BrokenRate: 0,
    Transport: 'ssh',
  });
  const vms = c.Containers.CloudVMs;
  const small = c.InstanceTypes.small;
  const types = opts.smallVCPUs === undefined ? c.InstanceTypes : { small: { ...small, VCPUs: opts.smallVCPUs, RAM: opts.smallVCPUs * 4 * 2 ** 30 } };
  return {
    ...c,
    InstanceTypes: types,
    Services: { ...c.Services, Websocket: { ExternalURL: feedURL } },
    SystemLogs: { ...c.SystemLogs, LogLevel: opts.logLevel },
    Containers: {
      ...c.Containers,
      CloudVMs: {
        ...vms,
        PollInterval: opts.pollIntervalMs,
        TimeoutIdle: 3_600_000,
        // Room to create more if ever no VM is idle (such samples are flagged), never a quota wall.
        MaxInstances: opts.vms * 2,
      },
    },
  };
}

/** Starts the controller (and its feed) and the dispatcher; with the feed, returns once it is subscribed. */
export async function startBenchStack(opts: StackOptions): Promise<BenchStack> {
  const logStream = createWriteStream(opts.logPath);
  const log = createLogger({ level: opts.logLevel, stream: logStream });
  const { cluster: loaded } = loadConfigFile(EXAMPLE_CONFIG);
  const ctl = new TestController({ clusterId: loaded.ClusterID, rootToken: loaded.SystemRootToken, logger: log.child({ Component: 'test-controller' }) });
  const cloudName = `latency-${process.pid}-${opts.seed}-${Math.floor(Math.random() * 1e9)}`;
  let d: Dispatcher | undefined;
  let cloud: LameCloud | undefined;
  const closeLog = async (): Promise<void> => {
    logStream.end();
    await once(logStream, 'close').catch(() => undefined);
  };
  try {
    await ctl.start();
    const live = benchCluster(loaded, ctl.url, opts.feed ? ctl.feed.url : '', opts, cloudName);
    d = await createDispatcher(live, { logger: log, clock: systemClock });
    cloud = getLameCloud(cloudName);
    if (!cloud) throw new Error(`lame cloud ${cloudName} not found`);
    d.start();
    const dispatcher = d;
    const lame = cloud;
    if (opts.feed) {
      const until = Date.now() + 10_000;
      while (dispatcher.eventFeed.view().state !== 'connected') {
        if (Date.now() > until) throw new Error(`the event feed did not connect: ${JSON.stringify(dispatcher.eventFeed.view().status)}`);
        await sleep(20);
      }
    }
    const idleCount = (): number => dispatcher.pool.instances().filter(isIdle).length;
    const waitAllIdle = async (what: string, deadline: number): Promise<void> => {
      const until = Math.min(deadline, Date.now() + 120_000);
      while (idleCount() < opts.vms) {
        if (Date.now() > until) throw new Error(`${what}: only ${idleCount()} of ${opts.vms} VMs idle after waiting`);
        await sleep(50);
      }
    };
    return {
      ctl,
      d: dispatcher,
      cloud: lame,
      live,
      log,
      idleCount,
      waitAllIdle,
      async bootIdle(deadline) {
        const small = live.InstanceTypes.small;
        let created = 0;
        while (created < opts.vms) {
          if (Date.now() > deadline) throw new Error('deadline passed while creating VMs');
          if (dispatcher.pool.create(small)) created++;
          else await sleep(50);
        }
        await waitAllIdle('booting the VMs', deadline);
      },
      async stop() {
        let left = 0;
        try {
          for (const v of dispatcher.pool.instances()) {
            if (!v.instance.startsWith('pending-')) await dispatcher.pool.setIdleBehavior(v.instance, 'drain').catch(() => undefined);
          }
          const tag = `${live.Containers.CloudVMs.TagKeyPrefix}InstanceSetID`;
          const listOurs = async (): Promise<number> => (await dispatcher.instanceSet.instances({ [tag]: dispatcher.instanceSetId })).length;
          const until = Date.now() + 30_000;
          while ((left = await listOurs()) > 0 && Date.now() < until) await sleep(100);
        } finally {
          await dispatcher.stop();
          await lame.shutdown();
          await ctl.stop();
          await closeLog();
        }
        return left;
      },
    };
  } catch (err) {
    await d?.stop();
    await cloud?.shutdown();
    await ctl.stop();
    await closeLog();
    throw err;
  }
}
