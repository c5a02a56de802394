/**
 * `arvados-dispatch-cloud cloudtest`: the acceptance test an operator runs
 * against a real cloud account before going live (the reference's
 * `arvados-server cloudtest`). It uses the configured driver, key, image,
 * tags and init command exactly as the dispatcher would, on one instance,
 * and with several `DriverParameters.SubnetID`s repeats the test per subnet.
 *
 * The report goes to stdout (`step N: ... ok (1.2s)`); the driver's JSON
 * logs go to stderr at `warn` unless LOG_LEVEL asks for more.
 */
import { hostname, userInfo } from 'node:os';
import { type Clock, holdProcessOpen, systemClock } from '../clock/index.js';
import '../drivers.js';
import { newInstanceSet } from '../cloud/registry.js';
import type { InstanceSet, InstanceTags } from '../cloud/types.js';
import { clusterSecrets, ConfigError, loadConfigFile } from '../config/index.js';
import type { Cluster, InstanceType } from '../config/types.js';
import { copyCluster } from '../config/copy.js';
import { dispatcherKeys } from '../vm-access.js';
import { createLogger, type Logger } from '../log.js';
import { type ReportSink, StepFailedError, StepReporter } from './steps.js';
import { runCloudTestPass } from './tester.js';

/** Exit status for a config or option that cannot be used, as the daemon's. */
export const EXIT_USAGE = 2;
/** Exit status when a step failed. */
export const EXIT_FAILED = 1;

export interface CloudtestOptions {
  config: string;
  cluster?: string;
  instanceType?: string;
  imageId?: string;
  command?: string;
  destroyExisting?: boolean;
  /** Default `cloudtest-USER@HOST`, so the test never touches (or is adopted by) a running dispatcher. */
  instanceSetId?: string;
  /** Before destroying the instance, print how to log in and wait for Enter (or the end of stdin). */
  pauseBeforeDestroy?: boolean;
}

export interface CloudtestDeps {
  clock?: Clock;
  stdout?: ReportSink;
  stderr?: ReportSink;
  logger?: Logger;
  signal?: AbortSignal;
  /** Where --pause-before-destroy reads the operator's Enter; default process.stdin. */
  stdin?: NodeJS.ReadableStream;
  /** Replaces the registry (tests hand in a prepared instance set). Called once per pass. */
  newInstanceSet?: (cluster: Cluster, instanceSetId: string) => Promise<InstanceSet>;
}

/**
 * The default InstanceSetID for a test: who ran it, and where, as the
 * reference's cloudtest documentation gives it (its code uses one fixed
 * value, which two operators testing at once would share).
 */
export function defaultCloudtestInstanceSetId(): string {
  let user = '';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (some containers): the host name alone still says where it came from.
  }
  return `cloudtest-${user}@${hostname()}`;
}

/** The named type, or the cheapest configured one (a non-preemptible one on a tie). */
export function chooseInstanceType(cluster: Cluster, name: string | undefined): InstanceType {
  const types = Object.values(cluster.InstanceTypes);
  if (types.length === 0) throw new Error(`Clusters.${cluster.ClusterID}.InstanceTypes: no instance types are configured`);
  if (name) {
    const t = cluster.InstanceTypes[name];
    if (!t) throw new Error(`--instance-type: "${name}" is not configured (configured: ${Object.keys(cluster.InstanceTypes).sort().join(', ')})`);
    return t;
  }
  return [...types].sort((a, b) => a.Price - b.Price || Number(a.Preemptible) - Number(b.Preemptible) || a.Name.localeCompare(b.Name))[0]!;
}

/**
 * The clusters to test with: one, or one per subnet when
 * `DriverParameters.SubnetID` lists several (each pass's driver gets a
 * single subnet, so a subnet that does not work cannot hide behind failover).
 */
export function passesFor(cluster: Cluster): Array<{ label?: string; cluster: Cluster }> {
  const params = cluster.Containers.CloudVMs.DriverParameters;
  const subnets = params.SubnetID;
  if (!Array.isArray(subnets) || subnets.length <= 1) return [{ cluster }];
  return subnets.map((subnet, i) => ({
    label: `SubnetID[${i}] ${JSON.stringify(subnet)}`,
    cluster: copyCluster(cluster, {
      Containers: {
        ...cluster.Containers,
        CloudVMs: { ...cluster.Containers.CloudVMs, DriverParameters: { ...params, SubnetID: subnet } },
      },
    }),
  }));
}

/** Runs the whole test; returns the exit status (0 all passes ok, 1 a step failed, 2 bad config or options). */
export async function runCloudtestCommand(opts: CloudtestOptions, deps: CloudtestDeps = {}): Promise<number> {
  const out = deps.stdout ?? process.stdout;
  const err = deps.stderr ?? process.stderr;
  const clock = deps.clock ?? systemClock;

  let cluster: Cluster;
  try {
    const loaded = loadConfigFile(opts.config, { clusterId: opts.cluster });
    cluster = loaded.cluster;
    // Only what concerns the cloud: the management API's warnings are the daemon's business.
    for (const w of loaded.warnings) if (/\.(Containers|InstanceTypes)\b/.test(w)) err.write(`warning: ${w}\n`);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    for (const line of e.errors) err.write(`${line}\n`);
    return EXIT_USAGE;
  }
  const vms = cluster.Containers.CloudVMs;
  const logger =
    deps.logger ??
    createLogger({
      // The report is the output; driver logs are for when something needs explaining (LOG_LEVEL=info).
      level: 'warn',
      stream: process.stderr,
      secrets: clusterSecrets(cluster),
    });

  let type: InstanceType;
  let keys: { privateKey: string; publicKey: string };
  try {
    type = chooseInstanceType(cluster, opts.instanceType);
    if (!cluster.Containers.DispatchPrivateKey) {
      throw new Error(`Clusters.${cluster.ClusterID}.Containers.DispatchPrivateKey: required (cloudtest logs in to the instance with it)`);
    }
    keys = dispatcherKeys(cluster, logger);
  } catch (e) {
    err.write(`cloudtest: ${(e as Error).message}\n`);
    return EXIT_USAGE;
  }
  const instanceSetId = opts.instanceSetId || defaultCloudtestInstanceSetId();
  const imageId = opts.imageId || vms.ImageID;
  const extraTags: InstanceTags = { [`${vms.TagKeyPrefix}CloudTestPID`]: String(process.pid) };
  const build = deps.newInstanceSet ?? ((c: Cluster, id: string) => newInstanceSet({ cluster: c, logger, clock, instanceSetId: id }));

  const report = (): StepReporter => new StepReporter(out, clock);
  out.write(
    `cloudtest: driver ${vms.Driver}, InstanceSetID ${instanceSetId}, instance type ${type.Name} ` +
      `(${type.ProviderType}, price ${type.Price}), image ${imageId || '(none)'}\n`,
  );
  // The system clock's timers are unref'd: without this, a run waiting on
  // nothing but a sleep would let Node exit mid-test.
  const release = holdProcessOpen();
  const failures: string[] = [];
  try {
    const passes = passesFor(cluster);
    for (const [i, pass] of passes.entries()) {
      if (pass.label) out.write(`pass ${i + 1}/${passes.length}: ${pass.label}\n`);
      const reporter = report();
      try {
        const set = await reporter.run(`start the ${vms.Driver} driver`, () => build(pass.cluster, instanceSetId));
        try {
          await runCloudTestPass({
            cluster: pass.cluster,
            instanceSet: set,
            instanceSetId,
            instanceType: type,
            imageId,
            privateKey: keys.privateKey,
            publicKey: keys.publicKey,
            destroyExisting: opts.destroyExisting ?? false,
            command: opts.command,
            extraTags,
            report: reporter,
            clock,
            logger,
            signal: deps.signal,
            pauseBeforeDestroy: opts.pauseBeforeDestroy ? (signal) => waitForEnter(deps.stdin ?? process.stdin, err, signal) : undefined,
          });
        } finally {
          set.stop();
        }
      } catch (e) {
        if (!(e instanceof StepFailedError)) throw e;
        failures.push(`${pass.label ? `${pass.label}: ` : ''}${e.message}`);
        // Later subnets are still worth knowing about, unless the operator asked to stop.
        if (deps.signal?.aborted) break;
      }
    }
  } finally {
    release();
  }
  if (failures.length > 0) {
    for (const f of failures) {
      out.write(`cloudtest FAILED: ${f}\n`);
      err.write(`cloudtest FAILED: ${f}\n`);
    }
    return EXIT_FAILED;
  }
  out.write('cloudtest passed\n');
  return 0;
}

/**
 * Asks the operator to press Enter and resolves when a line (or the end of
 * `stdin`, so a run with no terminal does not hang) arrives, or on `signal`.
 */
export function waitForEnter(stdin: NodeJS.ReadableStream, err: ReportSink, signal?: AbortSignal): Promise<void> {
  err.write('cloudtest: the instance is kept until you press Enter; then it is destroyed. Press Enter to continue: ');
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stdin.off('data', onData);
      stdin.off('end', done);
      stdin.off('close', done);
      signal?.removeEventListener('abort', done);
      stdin.pause();
      resolve();
    };
    const onData = (chunk: Buffer | string): void => {
      if (String(chunk).includes('\n')) done();
    };
    if (signal?.aborted) return done();
    signal?.addEventListener('abort', done, { once: true });
    stdin.on('data', onData);
    stdin.once('end', done);
    stdin.once('close', done);
    stdin.resume();
  });
}

/**
 * The CLI entry: as `runCloudtestCommand`, with SIGINT/SIGTERM failing the
 * current step (the instance is still destroyed); a second signal leaves at
 * once, saying an instance may be left behind.
 */
export async function cloudtestCommand(opts: CloudtestOptions): Promise<number> {
  const ac = new AbortController();
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      process.stderr.write(`\ncloudtest: ${sig}: stopping; destroying the test instance (send again to leave it behind)\n`);
      ac.abort(new Error(`interrupted by ${sig}`));
    } else {
      process.stderr.write(`cloudtest: ${sig} again: exiting; a test instance may be left running\n`);
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await runCloudtestCommand(opts, { signal: ac.signal });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
