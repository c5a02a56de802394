/**
 * The daemon's start: load and check the config, set up logging, build the
 * configured cloud driver, and hand over to the dispatcher. Everything that
 * can be wrong with the configuration is reported here, before any cloud or
 * controller call, with the YAML path of the key to fix.
 */
import { systemClock } from './clock/index.js';
import './cloud/drivers.js';
import { instanceSetIdFor, newInstanceSet } from './cloud/registry.js';
import { ConfigError, daemonConfigProblems, loadConfigFile } from './config/index.js';
import type { Cluster } from './config/types.js';
import { createLogger, type Logger } from './log.js';

/** Exit status for a config the daemon cannot run with. */
export const EXIT_BAD_CONFIG = 2;

export interface DaemonOptions {
  config: string;
  cluster?: string;
}

/** Loads the config for the daemon, printing every problem; undefined when it cannot run. */
export function loadDaemonConfig(opts: DaemonOptions, stderr: NodeJS.WritableStream = process.stderr): { cluster: Cluster; warnings: string[] } | undefined {
  let loaded;
  try {
    loaded = loadConfigFile(opts.config, { clusterId: opts.cluster });
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const e of err.errors) stderr.write(`${e}\n`);
    return undefined;
  }
  const problems = daemonConfigProblems(loaded.cluster);
  if (problems.length > 0) {
    for (const p of problems) stderr.write(`cannot start: ${p}\n`);
    return undefined;
  }
  return loaded;
}

/** The logger every component of one daemon shares: the tokens are scrubbed from every line. */
export function daemonLogger(cluster: Cluster): Logger {
  return createLogger({
    level: cluster.SystemLogs.LogLevel,
    secrets: [cluster.SystemRootToken, cluster.ManagementToken],
    defaultMeta: { ClusterID: cluster.ClusterID },
  });
}

/** `arvados-dispatch-cloud` with no subcommand: runs the dispatcher until SIGTERM. */
export async function runDaemonCommand(opts: DaemonOptions): Promise<number> {
  const loaded = loadDaemonConfig(opts);
  if (!loaded) return EXIT_BAD_CONFIG;
  const { cluster, warnings } = loaded;
  const log = daemonLogger(cluster);
  for (const w of warnings) log.warn(w);
  const instanceSet = await newInstanceSet({ cluster, logger: log, clock: systemClock });
  const instanceSetId = instanceSetIdFor(cluster);
  try {
    const instances = await instanceSet.instances({ [`${cluster.Containers.CloudVMs.TagKeyPrefix}InstanceSetID`]: instanceSetId });
    log.info('cloud driver ready', { Driver: cluster.Containers.CloudVMs.Driver, InstanceSetID: instanceSetId, Instances: instances.length });
  } finally {
    instanceSet.stop();
  }
  // The queue, worker pool and scheduler are not part of this build yet:
  // say so plainly rather than sit there looking like a dispatcher.
  log.error('this build has no scheduler yet: the config and the cloud driver check out, but no containers will be dispatched');
  return 1;
}
