/**
 * `arvados-dispatch-cloud demo` (what `npm start` runs): the real dispatcher
 * in one process with an in-process Arvados controller on loopback and the
 * lame cloud, whose VMs are real SSH servers. It submits a mixed workload,
 * shows a live progress line, and ends with a summary once every container
 * is final and every VM is gone. The dispatcher's JSON logs go to a file
 * (its path is printed) unless --verbose sends them to stdout.
 */
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestController } from '../testcontroller/index.js';
import { systemClock } from '../clock/index.js';
import { ConfigError, daemonConfigProblems, loadConfigFile } from '../config/index.js';
import type { Cluster } from '../config/types.js';
import { copyCluster } from '../config/copy.js';
import { createDispatcher, type Dispatcher } from '../dispatcher.js';
import { chooseListenURL, hostPortOf } from '../http/listen.js';
import { type ManagementServer, startManagementServer } from '../http/server.js';
import { createLogger } from '../log.js';
import { openLogFile } from '../output-file.js';
import { progressLine, summary, VMTracker } from './report.js';
import { type DemoContainer, demoWorkload } from './workload.js';

export const EXAMPLE_CONFIG = join(fileURLToPath(new URL('../..', import.meta.url)), 'config.example.yml');

/**
 * `cluster` pointed at an in-process controller, with `driverParameters`
 * laid over its DriverParameters: how the demo (and tests that run the
 * dispatcher the same way) adapt a config file to one run.
 */
export function againstController(cluster: Cluster, controllerURL: string, driverParameters: Record<string, unknown>): Cluster {
  return copyCluster(cluster, {
    Services: { ...cluster.Services, Controller: { ExternalURL: controllerURL } },
    Containers: {
      ...cluster.Containers,
      CloudVMs: {
        ...cluster.Containers.CloudVMs,
        DriverParameters: { ...cluster.Containers.CloudVMs.DriverParameters, ...driverParameters },
      },
    },
  });
}

/**
 * The dispatcher's log on its way to `out`, with the reason of each cancel
 * the dispatcher made picked out of it: those cancels set only the state, as
 * the reference's do, so the log line is where the reason is.
 */
class CancelReasons extends Writable {
  readonly reasons = new Map<string, string>();

  constructor(private readonly out: NodeJS.WritableStream) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.out.write(chunk);
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line.startsWith('{') || !line.includes('"cancelled container"')) continue;
      try {
        const rec = JSON.parse(line) as { msg?: unknown; ContainerUUID?: unknown; Reason?: unknown };
        if (rec.msg === 'cancelled container' && typeof rec.ContainerUUID === 'string' && typeof rec.Reason === 'string') this.reasons.set(rec.ContainerUUID, rec.Reason);
      } catch {
        // Not a log record after all.
      }
    }
    cb();
  }
}

export interface DemoOptions {
  config: string;
  cluster?: string;
  containers: number;
  seed: number;
  verbose?: boolean;
  /** The dispatcher's log file, when not verbose (default: a file in the temp directory). */
  log?: string;
  /** Give up (exit 1) after this long. */
  deadlineMs?: number;
  /** Where a config it refuses is reported (default the process's stderr). */
  stderr?: Pick<NodeJS.WritableStream, 'write'>;
  /**
   * Serve the dispatcher's management API, status page and metrics on the
   * `Services.DispatchCloud.InternalURLs` entry the daemon would choose, so
   * that `instances`, `containers`, curl and a browser can be tried against
   * it; and after the summary, go on serving until `until` resolves
   * (default: SIGINT or SIGTERM).
   */
  serve?: boolean;
  until?: Promise<unknown>;
  /** Where the progress and the summary go (default the process's stdout). */
  stdout?: NodeJS.WriteStream | Pick<NodeJS.WritableStream, 'write'>;
}

const TICK_MS = 250;

/** Exit status for a config the demo cannot or will not run, as check-config's for an unusable one. */
export const EXIT_BAD_CONFIG = 2;

/**
 * Why the demo will not run `cluster`, one line each; empty when it will.
 * Only the lame driver: the demo's controller is its own, in memory, and its
 * dispatcher tags and finds VMs by the same InstanceSetID as the cluster's
 * daemon (both derive it from SystemRootToken), so on a real cloud it would
 * take over the cluster's real VMs, whose containers its controller has never
 * heard of.
 */
export function demoConfigProblems(cluster: Cluster, configPath: string): string[] {
  const driver = cluster.Containers.CloudVMs.Driver;
  if (driver !== 'lame') {
    return [
      `${configPath}: Clusters.${cluster.ClusterID}.Containers.CloudVMs.Driver is "${driver}", but the demo runs only the lame driver: ` +
        `it runs against its own in-memory controller, so on a real cloud it would manage the cluster's real VMs (leave out --config to use config.example.yml)`,
    ];
  }
  // The demo brings its own controller, so the config need not name one.
  return daemonConfigProblems(copyCluster(cluster, { Services: { ...cluster.Services, Controller: { ExternalURL: 'http://in-process.invalid' } } }));
}

export async function runDemoCommand(opts: DemoOptions): Promise<number> {
  const clock = systemClock;
  const stderr = opts.stderr ?? process.stderr;
  let loaded: Cluster;
  try {
    loaded = loadConfigFile(opts.config, { clusterId: opts.cluster }).cluster;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const e of err.errors) stderr.write(`demo: ${e}\n`);
    return EXIT_BAD_CONFIG;
  }
  const problems = demoConfigProblems(loaded, opts.config);
  if (problems.length > 0) {
    for (const p of problems) stderr.write(`demo: ${p}\n`);
    return EXIT_BAD_CONFIG;
  }
  const logPath = opts.log ?? join(tmpdir(), `arvados-dispatch-cloud-demo-${process.pid}.log`);
  let logStream: NodeJS.WritableStream;
  try {
    logStream = opts.verbose ? process.stdout : openLogFile(logPath);
  } catch (e) {
    stderr.write(`demo: ${(e as Error).message}\n`);
    return EXIT_BAD_CONFIG;
  }
  const cancels = new CancelReasons(logStream);
  const log = createLogger({ level: loaded.SystemLogs.LogLevel, format: loaded.SystemLogs.Format, stream: cancels, secrets: [loaded.SystemRootToken, loaded.ManagementToken] });
  const controller = new TestController({ clusterId: loaded.ClusterID, rootToken: loaded.SystemRootToken, logger: log.child({ Component: 'test-controller' }) });
  await controller.start();
  // With the controller's event feed, as a cluster running arvados-ws would have it.
  const fromConfig = againstController(loaded, controller.url, { Seed: opts.seed, CloudName: `demo-${process.pid}` });
  const cluster: Cluster = { ...fromConfig, Services: { ...fromConfig.Services, Websocket: { ExternalURL: controller.feed.url } } };
  const out = opts.stdout ?? process.stdout;
  const tty = (out as { isTTY?: boolean }).isTTY === true;
  out.write(`Demo: ${opts.containers} containers on the ${cluster.Containers.CloudVMs.Driver} cloud, seed ${opts.seed}.\n`);
  out.write(`Controller ${controller.url} (event feed ${controller.feed.url}); dispatcher logs: ${opts.verbose ? 'stdout' : logPath}\n`);

  let dispatcher: Dispatcher | undefined;
  let server: ManagementServer | undefined;
  const started = clock.now();
  const deadline = started + (opts.deadlineMs ?? 180_000);
  const tracker = new VMTracker();
  const notes = new Map<string, string>();
  try {
    dispatcher = await createDispatcher(cluster, { logger: log, clock });
    dispatcher.start();
    if (opts.serve) {
      // The daemon's choice among the InternalURLs (and $ARVADOS_SERVICE_INTERNAL_URL).
      const where = await chooseListenURL(cluster.Services.DispatchCloud, { log });
      server = await startManagementServer(dispatcher, { listen: hostPortOf(where.listenURL) });
      out.write(`Serving the management API, status page and metrics at ${server.url}/ (the config's ManagementToken; e.g. arvados-dispatch-cloud instances --config ${opts.config})\n`);
    }
    const pending: DemoContainer[] = demoWorkload(cluster, opts.containers, opts.seed);
    const submitted: string[] = [];
    let lastLine = 0;
    const show = (force = false): void => {
      const now = clock.now();
      const vms = dispatcher!.pool.instances();
      tracker.observe(now, vms);
      if (!force && !tty && now - lastLine < 2000) return;
      lastLine = now;
      const line = progressLine(now - started, submitted.map((u) => controller.get(u)!), vms);
      out.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
    };
    // Submit on schedule, and watch until every container is final.
    for (;;) {
      const now = clock.now();
      while (pending.length > 0 && pending[0].at <= now - started) {
        const c = pending.shift()!;
        const rec = controller.addContainer({
          command: c.command,
          priority: c.priority,
          runtime_constraints: { vcpus: c.vcpus, ram: c.ram },
          scheduling_parameters: { preemptible: c.preemptible },
        });
        if (c.note) notes.set(rec.uuid, c.note);
        submitted.push(rec.uuid);
      }
      show();
      const allFinal = pending.length === 0 && submitted.every((u) => ['Complete', 'Cancelled'].includes(controller.get(u)!.state));
      if (allFinal || now > deadline) break;
      await clock.sleep(TICK_MS);
    }
    // The queue is empty: drain every VM rather than wait TimeoutIdle, and wait for the cloud to be clean.
    for (const vm of dispatcher.pool.instances()) {
      if (!vm.instance.startsWith('pending-')) await dispatcher.pool.setIdleBehavior(vm.instance, 'drain').catch(() => undefined);
    }
    while (clock.now() < deadline && (await listOurs(dispatcher)) > 0) {
      show();
      await clock.sleep(TICK_MS);
    }
    show(true);
    if (tty) out.write('\n');
    const containers = submitted.map((u) => controller.get(u)!);
    const vmsLeft = await listOurs(dispatcher);
    const waits = containers.flatMap((c) => {
      const h = controller.history(c.uuid);
      const queued = h.find((e) => e.state === 'Queued')?.at;
      const running = h.find((e) => e.state === 'Running')?.at;
      return queued !== undefined && running !== undefined ? [running - queued] : [];
    });
    // The dispatcher's own cancels set only the state, as the reference's: the reason is in its log.
    const reasons = new Map<string, string>();
    for (const c of containers) {
      if (c.state === 'Cancelled' && !c.runtime_status?.error && controller.history(c.uuid).at(-1)?.by === controller.rootTokenUuid) {
        reasons.set(c.uuid, `cancelled by the dispatcher: ${cancels.reasons.get(c.uuid) ?? 'see its log'}`);
      }
    }
    out.write(summary({ elapsedMs: clock.now() - started, containers, waits, vms: tracker, vmsLeft, notes, reasons }));
    const ok = containers.every((c) => c.state === 'Complete' || (c.state === 'Cancelled' && (c.runtime_status?.error || reasons.has(c.uuid)))) && vmsLeft === 0;
    if (server) {
      out.write(`Still serving at ${server.url}/ (the dispatcher and its history stay up); stop with Ctrl-C.\n`);
      await (opts.until ?? untilSignal());
    }
    return ok ? 0 : 1;
  } finally {
    await server?.close();
    await dispatcher?.stop();
    await controller.stop();
    if (logStream !== process.stdout) logStream.end();
  }
}

async function listOurs(d: Dispatcher): Promise<number> {
  const tag = `${d.cluster.Containers.CloudVMs.TagKeyPrefix}InstanceSetID`;
  return (await d.instanceSet.instances({ [tag]: d.instanceSetId })).length;
}

/** Resolves at the first SIGINT or SIGTERM, and removes both listeners. */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}
