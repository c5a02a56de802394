/**
 * `arvados-dispatch-cloud check-config`: loads the config as the daemon
 * would, and shows either the compiled result (secrets redacted) or every
 * problem, so an operator can fix a config before restarting the service.
 */
import { ConfigError, loadConfigFile } from './load.js';
import { clusterToYAML } from './dump.js';

/** Exit status for a config that cannot be used, as for a usage error. */
const EXIT_BAD_CONFIG = 2;

/**
 * Prints warnings (stderr) and the compiled config as YAML (stdout) and
 * returns 0; or prints every error (stderr) and returns 2.
 */
export async function checkConfigCommand(opts: { config: string; cluster?: string }): Promise<number> {
  try {
    const { cluster, warnings } = loadConfigFile(opts.config, { clusterId: opts.cluster });
    for (const w of warnings) process.stderr.write(`warning: ${w}\n`);
    process.stdout.write(clusterToYAML(cluster));
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const w of err.warnings) process.stderr.write(`warning: ${w}\n`);
    for (const e of err.errors) process.stderr.write(`${e}\n`);
    return EXIT_BAD_CONFIG;
  }
}
