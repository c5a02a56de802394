/**
 * `arvados-dispatch-cloud lame-cloud --config FILE [--cluster ID]`: serves
 * the lame cloud from its own process at DriverParameters.CloudURL, until
 * SIGTERM or SIGINT. Its VMs then outlive any dispatcher, so an end-to-end
 * test can kill a dispatcher outright and check that the next one adopts
 * what is still running.
 */
import { systemClock } from '../../src/clock/index.js';
import { ConfigError, loadConfigFile } from '../../src/config/index.js';
import type { Cluster } from '../../src/config/types.js';
import { createLogger } from '../../src/log.js';
import { LameCloudConfigError, type LameCloudServer, startLameCloudServer } from './server.js';

/** Exit status for a config the command cannot use (as the daemon's). */
export const EXIT_BAD_CONFIG = 2;
/** Exit status when the server cannot start (port taken, ...). */
export const EXIT_CANNOT_START = 1;

export interface LameCloudCommandOptions {
  config: string;
  cluster?: string;
}

export interface LameCloudCommandIO {
  stderr?: NodeJS.WritableStream;
  /** Where SIGTERM and SIGINT come from. Default `process`. */
  signals?: NodeJS.EventEmitter;
}

/** Runs the lame cloud server until a stop signal; resolves to the exit status. */
export async function runLameCloudCommand(opts: LameCloudCommandOptions, io: LameCloudCommandIO = {}): Promise<number> {
  const stderr = io.stderr ?? process.stderr;
  const signals = io.signals ?? process;
  let cluster: Cluster;
  try {
    cluster = loadConfigFile(opts.config, { clusterId: opts.cluster }).cluster;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const e of err.errors) stderr.write(`${e}\n`);
    return EXIT_BAD_CONFIG;
  }
  const logger = createLogger({
    level: cluster.SystemLogs.LogLevel,
    format: cluster.SystemLogs.Format,
    // The VMs' crunch-run handles the cluster's token (it arrives on stdin); it must not reach a log line.
    secrets: [cluster.SystemRootToken, cluster.ManagementToken],
    defaultMeta: { ClusterID: cluster.ClusterID, Component: 'lame-cloud' },
  });

  // Listen for signals before starting, so one that arrives during start is not lost.
  let onSignal: (sig: NodeJS.Signals) => void = () => undefined;
  const stopSignal = new Promise<NodeJS.Signals>((resolve) => (onSignal = resolve));
  signals.on('SIGTERM', onSignal);
  signals.on('SIGINT', onSignal);
  try {
    let server: LameCloudServer;
    try {
      server = await startLameCloudServer({ cluster, logger, clock: systemClock });
    } catch (err) {
      stderr.write(`lame-cloud: ${(err as Error).message}\n`);
      return err instanceof LameCloudConfigError ? EXIT_BAD_CONFIG : EXIT_CANNOT_START;
    }
    const signal = await stopSignal;
    logger.info('lame cloud stopping', { Signal: signal, VMs: server.cloud.listVMs().length });
    await server.close();
    return 0;
  } finally {
    signals.off('SIGTERM', onSignal);
    signals.off('SIGINT', onSignal);
  }
}
