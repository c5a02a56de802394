/**
 * `arvados-dispatch-cloud check-config`: loads the config as the daemon
 * would, and shows either the compiled result (secrets redacted) or every
 * problem, so an operator can fix a config before restarting the service.
 * The daemon's own settings file is checked too, and shown after the
 * cluster config as a YAML document of its own.
 *
 * Strict by default, like Arvados's `config-check -strict`: the daemon starts
 * with warnings, but check-config fails on them, so a config with a
 * misspelt key does not pass review unnoticed.
 */
import { dispatcherConfigErrors, loadConfigFile, tryLoad } from './load.js';
import type { LegacyEnv } from './legacy-env.js';
import { warmPoolTypeProblems } from '../placement/warm-pools.js';
import { clusterToYAML, settingsToYAML } from './dump.js';
import { DEFAULT_SETTINGS_PATH, loadSettingsFile } from './settings.js';
import type { Cluster } from './types.js';
import { readDispatchKey } from '../vm-access.js';
import winston from 'winston';
import { checkDriverConfig } from '../cloud/registry.js';
import { LineCollector } from '../log.js';
import '../drivers.js';

/** Exit status for a config that cannot be used, as for a usage error. */
const EXIT_BAD_CONFIG = 2;

/** Exit status for a usable config with warnings, when strict (Arvados's config-check exits 1 then). */
const EXIT_WARNINGS = 1;

export interface CheckConfigOptions {
  config: string;
  cluster?: string;
  /** The settings file (default DEFAULT_SETTINGS_PATH, which may be absent). */
  settings?: string;
  /** The settings file was named by the user, so it must exist. */
  settingsExplicit?: boolean;
  /** Warnings make the exit status non-zero (default true). */
  strict?: boolean;
  /** The environment the daemon would start in, for the reference's fallbacks to ARVADOS_API_TOKEN and ARVADOS_API_HOST(_INSECURE); default none. */
  env?: LegacyEnv;
}

/** Where check-config writes: the process's stdout and stderr, or a test's buffers. */
export interface CheckConfigOutput {
  stdout: Pick<NodeJS.WritableStream, 'write'>;
  stderr: Pick<NodeJS.WritableStream, 'write'>;
}

/**
 * Prints warnings (stderr), then the compiled config and settings as YAML
 * (stdout), and returns 0, or 1 when strict and there are warnings; or
 * prints every error of either file (stderr) and returns 2.
 */
export async function checkConfigCommand(opts: CheckConfigOptions, out: CheckConfigOutput = process): Promise<number> {
  const { stdout, stderr } = out;
  const settingsPath = opts.settings ?? DEFAULT_SETTINGS_PATH;
  const config = tryLoad(() => loadConfigFile(opts.config, { clusterId: opts.cluster, env: opts.env }));
  const settings = tryLoad(() => loadSettingsFile(settingsPath, { explicit: opts.settingsExplicit ?? false }));
  const warnings = [...config.warnings, ...settings.warnings];
  for (const w of warnings) stderr.write(`warning: ${w}\n`);
  if (!config.loaded || !settings.loaded) return refuse(stderr, [...config.errors, ...settings.errors]);
  // The settings name instance types; only the cluster config says which exist.
  const typeProblems = warmPoolTypeProblems(settings.loaded.settings.WarmPools, config.loaded.cluster);
  const { place } = config.loaded;
  const driver = await driverProblems(config.loaded.cluster);
  const driverWarnings = driver.warnings.map(place);
  for (const w of driverWarnings) stderr.write(`warning: ${w}\n`);
  warnings.push(...driverWarnings);
  const startProblems = [
    ...[...dispatcherConfigErrors(config.loaded.cluster), ...dispatchKeyProblems(config.loaded.cluster), ...driver.errors].map(place),
    ...typeProblems.map(settings.loaded.place),
  ];
  if (startProblems.length > 0) return refuse(stderr, startProblems);
  stdout.write(clusterToYAML(config.loaded.cluster));
  stdout.write(settingsToYAML(settings.loaded.settings, settingsPath, settings.loaded.found));
  if (warnings.length > 0 && opts.strict !== false) {
    stderr.write(`${warnings.length} warning${warnings.length === 1 ? '' : 's'}: not accepted in strict mode (use --strict=false to accept them)\n`);
    return EXIT_WARNINGS;
  }
  return 0;
}

/** Prints `errors`, then how many there are, which the daemon would not start with; the exit status for that. */
function refuse(stderr: CheckConfigOutput['stderr'], errors: string[]): number {
  for (const e of errors) stderr.write(`${e}\n`);
  stderr.write(`${errors.length} error${errors.length === 1 ? '' : 's'}: the daemon would not start with this config\n`);
  return EXIT_BAD_CONFIG;
}

/**
 * What a starting daemon would refuse its DispatchPrivateKey for, in its
 * words: the loader checks only the key's PEM shape, and the daemon parses
 * the key when it starts (an empty one is the loader's warning).
 */
function dispatchKeyProblems(cluster: Cluster): string[] {
  if (cluster.Containers.DispatchPrivateKey === '') return [];
  try {
    readDispatchKey(cluster);
    return [];
  } catch (err) {
    return [(err as Error).message];
  }
}

/**
 * What the configured driver would refuse (an unknown driver, a bad or
 * missing parameter) and warn about at start (a parameter it does not use,
 * with the one likely meant), in the words the daemon would use, and what
 * would stop it on this host (no ec2 region anywhere: a warning, as the
 * other things the environment may supply); from each driver's check,
 * which builds nothing and calls no cloud API.
 */
async function driverProblems(cluster: Cluster): Promise<{ errors: string[]; warnings: string[] }> {
  const lines = new LineCollector();
  const logger = winston.createLogger({ level: 'warn', format: winston.format.json(), transports: [new winston.transports.Stream({ stream: lines })] });
  const where = `Clusters.${cluster.ClusterID}.Containers.CloudVMs`;
  const errors: string[] = [];
  try {
    await checkDriverConfig(cluster, logger);
  } catch (err) {
    errors.push(err instanceof Error ? err.message : String(err));
  }
  await new Promise<void>((resolve) => {
    logger.on('finish', resolve);
    logger.end();
  });
  // A warning about one parameter names it as `Parameter`; the others are about DriverParameters as a whole.
  const warnings = lines.records().map(({ level: _level, message, Parameter, ...fields }) => {
    const details = Object.entries(fields).map(([k, v]) => `${k}: ${JSON.stringify(v)}`);
    const path = typeof Parameter === 'string' ? `${where}.DriverParameters.${Parameter}` : `${where}.DriverParameters`;
    return `${path}: ${String(message)}${details.length > 0 ? ` (${details.join(', ')})` : ''}`;
  });
  return { errors, warnings };
}
