/**
 * The daemon's start: load and check the config, set up logging, build the
 * dispatcher, take the dispatch lock (PostgreSQL advisory lock 10005, as
 * every Arvados dispatcher does), and run it until a signal says stop.
 * Everything that can be wrong with the configuration is reported here,
 * before any cloud or controller call, with the YAML path of the key to fix.
 *
 * Under the lock the dispatcher runs only while the lock is held; when it is
 * lost, a fresh one is built once it is held again (`src/dblock/supervisor.ts`).
 * With an empty `PostgreSQL.Connection` the daemon runs unlocked, and says so.
 */
import { startSystemdNotifier } from './admin/sd-notify.js';
import { holdProcessOpen, systemClock } from './clock/index.js';
import { clusterSecrets, daemonConfigProblems, dispatcherConfigErrors, loadConfigFile, tryLoad } from './config/index.js';
import { parseListenURL, withRootPath } from './config/urls.js';
import { unusedLegacyEnvWarnings, type LegacyEnv } from './config/legacy-env.js';
import { defaultSettings, loadSettingsFile, type Settings } from './config/settings.js';
import type { Cluster } from './config/types.js';
import { lockConfigured, newDispatchLock } from './dblock/daemon-lock.js';
import type { DispatchLock } from './dblock/lock.js';
import { LockedRun, TenureFence } from './dblock/supervisor.js';
import { warmPoolTypeProblems } from './placement/warm-pools.js';
import { createDispatcher, type Dispatcher, dispatcherLogger } from './dispatcher.js';
import { lockedDispatcherSource, lockHealthProblem } from './http/lock-status.js';
import { chooseListenURL, hostPortOf, type ListenChoice, SERVICE_NAME } from './http/listen.js';
import { type DispatcherSource, listenAddress, type ManagementServer, startManagementServer } from './http/server.js';
import { type ConfigSource, configSourceOf, packageVersion } from './http/service-metrics.js';
import { isJournalStream } from './journal-stream.js';
import { createLogger, errorText, type Logger } from './log.js';
import { processTrustedRoots, SYSTEM_CA_FILES } from './net/trust.js';
import { handleQuitSignal } from './quit.js';
import { exitIfStillRunning, stopWithin } from './stop.js';

/**
 * Exit status for every start-up failure: a config that cannot be read or
 * run with, a key or runner binary that cannot be read, a driver that cannot
 * start, nowhere to listen. As the reference's, and not 2, which the unit's
 * RestartPreventExitStatus=2 reserves for usage errors (src/cli.ts
 * EXIT_USAGE): systemd retries every second, so a daemon whose key file
 * appears a moment later in a deploy, or whose cloud endpoint is reachable
 * once the network is up, comes back by itself.
 */
export const EXIT_START_FAILED = 1;

export interface DaemonOptions {
  config: string;
  cluster?: string;
  /** This daemon's own settings file; none: every setting has its default. */
  settings?: string;
  /** The settings file was named by the user, so it must exist. */
  settingsExplicit?: boolean;
  /**
   * The environment: the reference's fallbacks to ARVADOS_API_TOKEN and
   * ARVADOS_API_HOST(_INSECURE) for what the config leaves empty, and its
   * warnings about those set but not used. Default: none of them.
   */
  env?: LegacyEnv;
}

/**
 * What the daemon's config step found: what to run with, or every reason it
 * cannot run. `cluster` is there whenever the config file itself compiled,
 * so the failure can be logged in its SystemLogs format.
 */
export type DaemonConfig =
  | { ok: true; cluster: Cluster; settings: Settings; warnings: string[]; place: (line: string) => string }
  | { ok: false; cluster?: Cluster; errors: string[]; warnings: string[] };

/** Loads the config and the settings file for the daemon, and checks what the daemon needs beyond what check-config checks. */
export function readDaemonConfig(opts: DaemonOptions): DaemonConfig {
  const env = opts.env ?? {};
  const config = tryLoad(() => loadConfigFile(opts.config, { clusterId: opts.cluster, env }));
  const settings = tryLoad(() =>
    opts.settings === undefined ? { settings: defaultSettings(), warnings: [], place: (line: string) => line } : loadSettingsFile(opts.settings, { explicit: opts.settingsExplicit ?? false }),
  );
  const loaded = config.loaded;
  if (!loaded || !settings.loaded) {
    return { ok: false, cluster: loaded?.cluster, errors: [...config.errors, ...settings.errors], warnings: [...config.warnings, ...settings.warnings] };
  }
  const { cluster } = loaded;
  const warnings = [...config.warnings, ...settings.warnings, ...unusedLegacyEnvWarnings(cluster, env)];
  const problems = [
    ...[...dispatcherConfigErrors(cluster), ...daemonConfigProblems(cluster)].map(loaded.place),
    ...warmPoolTypeProblems(settings.loaded.settings.WarmPools, cluster).map(settings.loaded.place),
  ];
  // check-config warns about what only the daemon refuses; said once, as the error.
  if (problems.length > 0) return { ok: false, cluster, errors: problems, warnings: warnings.filter((w) => !problems.includes(w)) };
  return { ok: true, cluster, settings: settings.loaded.settings, warnings, place: loaded.place };
}

/**
 * The config step as text lines on `stderr` (warnings, then errors, as
 * check-config prints them); undefined when the daemon cannot run. For tests
 * and tools that look at the config step alone; the daemon logs instead.
 */
export function loadDaemonConfig(
  opts: DaemonOptions,
  stderr: NodeJS.WritableStream = process.stderr,
): { cluster: Cluster; settings: Settings; warnings: string[] } | undefined {
  const config = readDaemonConfig(opts);
  if (config.ok) return { cluster: config.cluster, settings: config.settings, warnings: config.warnings };
  for (const w of config.warnings) stderr.write(`warning: ${w}\n`);
  for (const e of config.errors) stderr.write(`${e}\n`);
  return undefined;
}

/**
 * The logger for a daemon whose config did not compile: JSON at info on
 * stderr, as the reference's bootstrap logger, which writes its `exiting`
 * line before it has a cluster's SystemLogs to go by.
 */
function bootstrapLogger(): Logger {
  return createLogger({ format: 'json', level: 'info', stream: process.stderr, defaultMeta: { PID: process.pid }, journalPriority: isJournalStream(2) });
}

/**
 * Logs why the daemon does not start, as the reference does (one `exiting`
 * line, `error` a string, so alerts on either daemon's start-up failures
 * match the same way), and returns the exit status.
 */
function exiting(log: Logger, error: unknown, place: (line: string) => string = (line) => line): number {
  log.error('exiting', { error: Array.isArray(error) ? error.join('; ') : place(error instanceof Error ? errorText(error) : String(error)) });
  return EXIT_START_FAILED;
}

/** `arvados-dispatch-cloud` with no subcommand: runs the dispatcher until SIGTERM or SIGINT (SIGQUIT: a diagnostic report, then exit 2). */
export async function runDaemonCommand(opts: DaemonOptions): Promise<number> {
  const loadedAt = systemClock.now();
  let config: DaemonConfig;
  try {
    config = readDaemonConfig(opts);
  } catch (err) {
    return exiting(bootstrapLogger(), err);
  }
  const log = config.cluster ? dispatcherLogger(config.cluster) : bootstrapLogger();
  for (const w of config.warnings) log.warn(w);
  if (!config.ok) return exiting(log, config.errors);
  const { cluster } = config;
  // Left in place to the end: a SIGQUIT while stopping still gets its report.
  handleQuitSignal({ logger: log, secrets: clusterSecrets(cluster) });
  try {
    return await runDaemon(opts, config, log, loadedAt);
  } catch (err) {
    // Whatever else goes wrong is one `exiting` line too, not a stack trace on stderr.
    return exiting(log, err, config.place);
  }
}

async function runDaemon(opts: DaemonOptions, config: DaemonConfig & { ok: true }, log: Logger, loadedAt: number): Promise<number> {
  const { cluster, settings, place } = config;
  logTrustedRoots(log);
  let where: ListenChoice;
  try {
    where = await chooseManagementListenURL(cluster, log);
  } catch (err) {
    return exiting(log, err, place);
  }
  const locked = lockConfigured(cluster);
  if (!locked) {
    log.warn('PostgreSQL.Connection is empty: running without the dispatch lock, so nothing stops another dispatcher from dispatching for this cluster at the same time');
  }
  // Built before the lock is taken, so a config the driver refuses fails now, not after a wait.
  const fence = locked ? new TenureFence() : undefined;
  let dispatcher: Dispatcher;
  let lock: DispatchLock | undefined;
  try {
    dispatcher = await createDispatcher(cluster, { logger: log, fence, settings });
    if (locked) lock = newDispatchLock(cluster, { clock: systemClock, logger: log });
  } catch (err) {
    // A key or runner binary not readable yet, a cloud endpoint not reachable yet: systemd retries.
    // One about a key of the config file names the line it is written on, as check-config does.
    return exiting(log, err, place);
  }
  const run = lock
    ? new LockedRun<Dispatcher>({ lock, logger: log, first: { dispatcher, fence: fence! }, build: (f) => createDispatcher(cluster, { logger: log, fence: f, settings }) })
    : undefined;
  const source: Dispatcher | DispatcherSource = run
    ? lockedDispatcherSource({ cluster, logger: log, current: () => run.current(), status: () => lock!.current() })
    : dispatcher;
  let server: ManagementServer;
  try {
    server = await startManagementAPI(source, where, log, configSourceOf(opts.config, loadedAt));
  } catch (err) {
    log.error(`cannot start ${SERVICE_NAME} service on ${withRootPath(where.listenURL)}`, { error: err });
    await (run ? run.stop() : dispatcher.stop());
    return EXIT_START_FAILED;
  }
  const stopSignal = waitForStopSignal();
  if (!run) dispatcher.start();
  // systemd (Type=notify): READY=1 after the first queue poll and cloud list, then a status line.
  // Under the lock it follows each tenure's dispatcher; a standby may wait for the lock for
  // hours, up and serving, so it says READY=1 at once, and why it is not dispatching.
  const notifier = startSystemdNotifier({
    clock: systemClock,
    logger: log,
    ...(run ? { dispatcher: () => run.current(), notDispatching: () => lockHealthProblem(lock!.current()) } : { dispatcher }),
  });
  const failed = run?.finished.then(
    () => 'finished' as const,
    (err: unknown) => {
      log.error('dispatching under the dispatch lock failed', { error: err });
      return 'failed' as const;
    },
  );
  const outcome = await Promise.race([stopSignal, ...(failed ? [failed] : [])]);
  if (outcome !== 'failed' && outcome !== 'finished') {
    log.info('stopping: VMs and containers are left as they are for the next start to adopt', { Signal: outcome });
  }
  const code = outcome === 'failed' ? 1 : 0;
  await stopWithin(
    async () => {
      await notifier.stop();
      await server.close();
      await (run ? run.stop() : dispatcher.stop());
    },
    { clock: systemClock, logger: log },
  );
  exitIfStillRunning(code, { clock: systemClock, logger: log });
  return code;
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
 * listen URL: https, with TLS.Certificate and TLS.Key (or, with
 * TLS.ACME.Server set, the autocert cache), when its scheme is https (or
 * wss). Rejects when it cannot (port taken since the choice, no usable
 * certificate): a dispatcher its operators cannot see or steer should not
 * start.
 */
export async function startManagementAPI(
  dispatcher: Dispatcher | DispatcherSource,
  where: ListenChoice,
  log: Logger,
  configSource?: ConfigSource,
): Promise<ManagementServer> {
  const scheme = parseListenURL(where.listenURL).protocol;
  const tls = scheme === 'https:' || scheme === 'wss:' ? dispatcher.cluster.TLS : undefined;
  const server = await startManagementServer(dispatcher, { listen: hostPortOf(where.listenURL), tls, configSource });
  // As the reference writes them: the URL with its root path ("http://host:9006/"), the address bound with its port.
  log.info('listening', { URL: withRootPath(where.listenURL), Listen: listenAddress(server.address), Service: SERVICE_NAME, Version: packageVersion() });
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

/** Says which CA file and directories our TLS clients trust beyond Node's roots (src/net/trust.ts), or why one named could not be used. */
function logTrustedRoots(log: Logger): void {
  const roots = processTrustedRoots();
  if (roots.problem) {
    const trusted = roots.dirs ? "Node's own roots and those of the certificate directories" : "only Node's own roots";
    log.warn(`CA certificates not loaded: TLS clients trust ${trusted}`, { error: roots.problem });
  }
  else if (roots.added > 0) {
    // A site's own file is worth a line at start; the distribution's bundle (which adds the few roots it has and Node has not) is not.
    const level = roots.file !== undefined && SYSTEM_CA_FILES.includes(roots.file) ? 'debug' : 'info';
    log.log(level, 'trusting CA certificates from file, besides Node\'s own roots', { File: roots.file, Added: roots.added });
  }
  for (const error of roots.dirProblems ?? []) log.warn('CA certificate directory not read', { error });
  if (roots.dirs) {
    // Likewise: SSL_CERT_DIR is a site's choice; what the system's directories add beyond its bundle is not news.
    log.log(roots.dirs.named ? 'info' : 'debug', 'trusting CA certificates from directories, besides Node\'s own roots and the file\'s', {
      Dirs: roots.dirs.dirs,
      Added: roots.dirs.added,
    });
  }
}
