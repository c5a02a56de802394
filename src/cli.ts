/**
 * The `arvados-dispatch-cloud` command. Subcommands live in their own
 * modules and are imported lazily, so `--help` starts fast and the daemon
 * does not load what only a subcommand needs.
 */
import { Command } from 'commander';

const DEFAULT_CONFIG = '/etc/arvados/config.yml';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('arvados-dispatch-cloud')
    .description("Runs an Arvados cluster's containers on cloud VMs.")
    .option('--config <file>', 'Arvados cluster config file', DEFAULT_CONFIG)
    .option('--cluster <id>', 'cluster id, when the config file holds several clusters')
    .showHelpAfterError();

  program
    .command('check-config')
    .description('load the config, print the compiled result with secrets redacted (exit 0) or every error (exit 2)')
    .action(async () => {
      const { checkConfigCommand } = await import('./config/check-config.js');
      process.exitCode = await checkConfigCommand(program.opts());
    });

  return program;
}

/** Runs the command line; the exit status goes to `process.exitCode`. */
export async function main(argv: string[] = process.argv): Promise<void> {
  await buildProgram().parseAsync(argv);
}
