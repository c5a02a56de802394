/**
 * The daemon's start: load and check the config, set up logging, build the
 * dispatcher and run it until a signal says stop. Everything that
 * can be wrong with the configuration is reported here, before any cloud or
 * controller call, with the YAML path of the key to fix.
 */
import { startSystemdNotifier } from './admin/sd-notify.js';
import { holdProcessOpen, systemClock } from './clock/index.js';
import { ConfigError, daemonConfigProblems, loadConfigFile } from './config/index.js';
import type { Cluster } from './config/types.js';
import { createDispatcher, type Dispatcher, dispatcherLogger } from './dispatcher.js';
import { chooseListenURL, hostPortOf, type ListenChoice, ListenChoiceError, SERVICE_NAME } from './http/listen.js';
import { type ManagementServer, startManagementServer } from './http/server.js';
import { configSourceOf, packageVersion } from './http/service-metrics.js';
import type { Logger } from './log.js';

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

/** `arvados-dispatch-cloud` with no subcommand: runs the dispatcher until SIGTERM or SIGINT. */
export async function runDaemonCommand(opts: DaemonOptions): Promise<number> {
  const loadedAt = systemClock.now();
  const loaded = loadDaemonConfig(opts);
  if (!loaded) return EXIT_BAD_CONFIG;
  const { cluster, warnings } = loaded;
  const log = dispatcherLogger(cluster);
  for (const w of warnings) log.warn(w);
  let where: ListenChoice;
  try {
    where = await chooseManagementListenURL(cluster, log);
  } catch (err) {
    if (!(err instanceof ListenChoiceError)) throw err;
    log.error('exiting', { error: err.message });
    return 1;
  }
  let dispatcher: Dispatcher;
  try {
    dispatcher = await createDispatcher(cluster, { logger: log });
  } catch (err) {
    process.stderr.write(`cannot start: ${(err as Error).message}\n`);
    return EXIT_BAD_CONFIG;
  }
  const source = configSourceOf(opts.config, loadedAt);
  if (source) dispatcher.metrics.noteConfigSource(source);
  let server: ManagementServer;
  try {
    server = await startManagementAPI(dispatcher, where, log);
  } catch (err) {
    log.error(`cannot start ${SERVICE_NAME} service on ${where.listenURL}`, { error: err });
    await dispatcher.stop();
    return 1;
  }
  const stopSignal = waitForStopSignal();
  dispatcher.start();
  // systemd (Type=notify): READY=1 after the first queue poll and cloud list, then a status line.
  const notifier = startSystemdNotifier({ dispatcher, clock: systemClock, logger: log });
  const signal = await stopSignal;
  log.info('stopping: VMs and containers are left as they are for the next start to adopt', { Signal: signal });
  await notifier.stop();
  await server.close();
  await dispatcher.stop();
  return 0;
}

/**
 * Where the management server will listen, decided before the dispatcher is
 * built, as the reference decides it before building its handler: the
 * InternalURL local to this host, or the one ARVADOS_SERVICE_INTERNAL_URL
 * names (`http/listen.ts`). Rejects with ListenChoiceError when there is
 * none: the daemon does not start.
 */
export function chooseManagementListenURL(cluster: Cluster, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<ListenChoice> {
  return chooseListenURL(cluster.Services.DispatchCloud, { env, log });
}

/**
 * Serves the management API, /metrics and the status page at the chosen
 * listen URL: https, with TLS.Certificate and TLS.Key, when its scheme is
 * https (or wss). Rejects when it cannot (port taken since the choice, no
 * usable certificate): a dispatcher its operators cannot see or steer
 * should not start.
 */
export async function startManagementAPI(dispatcher: Dispatcher, where: ListenChoice, log: Logger): Promise<ManagementServer> {
  const scheme = new URL(where.listenURL).protocol;
  const tls = scheme === 'https:' || scheme === 'wss:' ? dispatcher.cluster.TLS : undefined;
  const server = await startManagementServer(dispatcher, { listen: hostPortOf(where.listenURL), tls });
  log.info('listening', { URL: where.listenURL, Listen: new URL(server.url).host, Service: SERVICE_NAME, Version: packageVersion() });
  return server;
}

/**
 * Resolves with the first SIGTERM or SIGINT `signals` emits, and keeps the
 * process alive until then. Signal listeners do not hold Node's event loop
 * open, and the system clock's timers are unref'd, so without a ref'd handle
 * the daemon would exit (status 13, an unsettled top-level await) the first
 * time nothing happened to be in flight, e.g. between two queue polls.
 */
export function waitForStopSignal(signals: NodeJS.EventEmitter = process): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const release = holdProcessOpen();
    const stop = (signal: NodeJS.Signals): void => {
      release();
      signals.off('SIGTERM', onTerm);
      signals.off('SIGINT', onInt);
      resolve(signal);
    };
    const onTerm = (): void => stop('SIGTERM');
    const onInt = (): void => stop('SIGINT');
    signals.on('SIGTERM', onTerm);
    signals.on('SIGINT', onInt);
  });
}
