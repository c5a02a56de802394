/**
 * `arvados-dispatch-cloud check-config`: loads the config as the daemon
 * would, and shows either the compiled result (secrets redacted) or every
 * problem, so an operator can fix a config before restarting the service.
 *
 * Strict by default, like Arvados's `config-check -strict`: the daemon starts
 * with warnings, but check-config fails on them, so a config with a
 * misspelt key does not pass review unnoticed.
 */
import { ConfigError, loadConfigFile } from './load.js';
import { clusterToYAML } from './dump.js';

/** Exit status for a config that cannot be used, as for a usage error. */
const EXIT_BAD_CONFIG = 2;

/** Exit status for a usable config with warnings, when strict (Arvados's config-check exits 1 then). */
const EXIT_WARNINGS = 1;

export interface CheckConfigOptions {
  config: string;
  cluster?: string;
  /** Warnings make the exit status non-zero (default true). */
  strict?: boolean;
}

/** Where check-config writes: the process's stdout and stderr, or a test's buffers. */
export interface CheckConfigOutput {
  stdout: Pick<NodeJS.WritableStream, 'write'>;
  stderr: Pick<NodeJS.WritableStream, 'write'>;
}

/**
 * Prints warnings (stderr) and the compiled config as YAML (stdout) and
 * returns 0, or 1 when strict and there are warnings; or prints every error
 * (stderr) and returns 2.
 */
export async function checkConfigCommand(opts: CheckConfigOptions, out: CheckConfigOutput = process): Promise<number> {
  const { stdout, stderr } = out;
  try {
    const { cluster, warnings } = loadConfigFile(opts.config, { clusterId: opts.cluster });
    for (const w of warnings) stderr.write(`warning: ${w}\n`);
    stdout.write(clusterToYAML(cluster));
    if (warnings.length > 0 && opts.strict !== false) {
      stderr.write(`${warnings.length} warning${warnings.length === 1 ? '' : 's'}: not accepted in strict mode (use --strict=false to accept them)\n`);
      return EXIT_WARNINGS;
    }
    return 0;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const w of err.warnings) stderr.write(`warning: ${w}\n`);
    for (const e of err.errors) stderr.write(`${e}\n`);
    return EXIT_BAD_CONFIG;
  }
}
