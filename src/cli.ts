/**
 * The `arvados-dispatch-cloud` command. Subcommands live in their own
 * modules and are imported lazily, so `--help` starts fast and the daemon
 * does not load what only a subcommand needs.
 */
import { Command, CommanderError, Help, InvalidArgumentError, Option } from 'commander';
import { DEFAULT_SETTINGS_PATH, SETTINGS_PATH_ENV } from './config/settings-path.js';
import { isJournalStream, journalPrefix } from './journal-stream.js';

/**
 * Exit status for a command-line usage error (an unknown flag, a stray
 * argument, a bad flag value), as the reference's (lib/cmd/parseflags.go).
 * The systemd unit says RestartPreventExitStatus=2, so a typo in EXTRA_OPTS
 * leaves the unit stopped instead of restarting it every second.
 */
export const EXIT_USAGE = 2;

/** As the reference: `ARVADOS_CONFIG` overrides the default path. */
const DEFAULT_CONFIG = process.env.ARVADOS_CONFIG || '/etc/arvados/config.yml';

export function buildProgram(): Command {
  const program = new Command();
  // Set before any subcommand is added: subcommands copy these settings when
  // created. A usage error is one short line on stderr, as the reference's,
  // not the whole help (which, under a restarting unit, would flood the
  // journal); main() turns the thrown CommanderError into the exit status.
  // In the journal it is an error, as the daemon's error lines are.
  program
    .exitOverride()
    .configureOutput({ outputError: (message, write) => write(`${isJournalStream(2) ? journalPrefix('error') : ''}${usageErrorLine(message)}`) })
    // Every subcommand reads the config through the root's --config,
    // --cluster and --settings: its help lists them, as "Global Options";
    // but not --version, which only the root (the daemon's command line) heeds.
    .configureHelp({
      showGlobalOptions: true,
      visibleGlobalOptions(cmd: Command): Option[] {
        return Help.prototype.visibleGlobalOptions.call(this, cmd).filter((o) => o.long !== '--version');
      },
    });
  program
    .name('arvados-dispatch-cloud')
    .description("Runs an Arvados cluster's containers on cloud VMs.")
    .option('--config <file>', 'Arvados cluster config file', DEFAULT_CONFIG)
    .option('--cluster <id>', 'cluster id, when the config file holds several clusters')
    .addOption(
      new Option('--settings <file>', "this daemon's own settings file, for features the reference lacks (optional at the default path; must exist when named)")
        .env(SETTINGS_PATH_ENV)
        .default(DEFAULT_SETTINGS_PATH),
    )
    // The reference's service flags, so a unit file or script written for it
    // runs this daemon too (Go's flag package also takes them with one dash).
    .option('--version', 'write version information to stdout and exit 0')
    .addOption(new Option('--skip-legacy [bool]', "accepted for the reference's command line; this daemon reads no legacy config files").argParser(goBool).hideHelp())
    .addOption(new Option('--pprof <addr>', "accepted for the reference's command line; there is no Go profiler to serve (a warning says so)").hideHelp())
    .action(async () => {
      // The root takes no arguments of its own: a word here is a subcommand
      // misspelt (allowExcessArguments below lets it reach this point).
      if (program.args.length > 0) await unknownCommand(program, program.args[0]);
      const opts = program.opts<{ version?: boolean; pprof?: string }>();
      if (opts.version) {
        const { packageVersion } = await import('./http/service-metrics.js');
        process.stdout.write(`${program.name()} ${packageVersion()} (node ${process.version})\n`);
        return;
      }
      if (opts.pprof !== undefined) process.stderr.write(`warning: --pprof ${opts.pprof}: ignored (a Go profiler option of the reference's; use node --inspect instead)\n`);
      const { runDaemonCommand } = await import('./daemon.js');
      process.exitCode = await runDaemonCommand({ ...program.opts(), ...settingsOption(program), env: process.env });
    });
  for (const legacy of LEGACY_CONFIG_FLAGS) {
    program.addOption(new Option(`--${legacy} <file>`, "accepted for the reference's command line; another service's legacy config, not read").hideHelp());
  }

  program
    .command('check-config')
    // As the reference's `arvados-server config-check`.
    .alias('config-check')
    .description(
      'load the config and the settings file, print the compiled result with secrets redacted and every default filled in (exit 0; 1 with warnings, when strict) or every error (exit 2)',
    )
    .option('--strict [bool]', 'warnings (unknown keys, dubious values) make the exit status 1; --strict=false accepts them', goBool, true)
    .action(async (cmdOpts: { strict: boolean }) => {
      const { checkConfigCommand } = await import('./config/check-config.js');
      process.exitCode = await checkConfigCommand({ ...program.opts(), ...settingsOption(program), strict: cmdOpts.strict, env: process.env });
    });

  program
    .command('demo')
    .description('run the dispatcher on the lame cloud against an in-process controller with a mixed workload, and summarise (uses config.example.yml unless --config is given; a config whose driver is not lame is refused, as the demo would manage its real VMs)')
    .option('--containers <n>', 'how many containers to submit', (v) => positiveInt('--containers', v), 60)
    .option('--seed <s>', 'seed for the workload and the lame cloud', (v) => positiveInt('--seed', v), 1)
    .option('--verbose', "send the dispatcher's JSON logs to stdout instead of a file")
    .option('--log <file>', "the dispatcher's JSON log, when not --verbose (default: a file in the temp directory)")
    .option(
      '--serve',
      "serve the dispatcher's management API, status page and metrics on the config's Services.DispatchCloud.InternalURLs, as the daemon does (try the instances and containers commands, curl, a browser), and go on serving after the summary until Ctrl-C",
    )
    .action(async (cmdOpts: { containers: number; seed: number; verbose?: boolean; log?: string; serve?: boolean }) => {
      const { runDemoCommand, EXAMPLE_CONFIG } = await import('./demo/run.js');
      const explicit = program.getOptionValueSource('config') !== 'default';
      process.exitCode = await runDemoCommand({
        ...program.opts(),
        ...cmdOpts,
        config: explicit ? program.opts().config : EXAMPLE_CONFIG,
      });
    });

  program
    .command('simulate')
    .description(
      'run a workload through the real dispatcher on a simulated controller and lame cloud, in simulated time, and report cost (against a lower bound), queue waits, VMs and cloud calls; ' +
        'exit 1 when --limit comes before every container is final',
    )
    // Neither bench/ nor src/ is in the package: say so, rather than name a file an operator does not have.
    .requiredOption(
      '--workload <file>',
      'workload JSON: a trace or a generator spec, in the format bench/workloads/README.md describes (in a source checkout, not in the package); the workloads there are written for --config bench/sim-config.yml',
    )
    .option('--report <file>', 'write the full report as JSON')
    .option('--plot <file>', 'draw VMs by state and the queue over time as SVG')
    .option('--seed <n>', 'seed for the workload generator and the lame cloud (default: the workload file\'s)', (v) => positiveInt('--seed', v))
    .option('--limit <duration>', 'give up after this much simulated time', '168h')
    .option('--log <file>', "the dispatcher's JSON log (default: a file in the temp directory)")
    .option('--log-level <level>', "the dispatcher's log level", 'warn')
    .option('--progress', 'a progress line on stderr every simulated hour')
    .action(
      async (cmdOpts: { workload: string; report?: string; plot?: string; seed?: number; limit: string; log?: string; logLevel: string; progress?: boolean }) => {
        const { runSimulateCommand } = await import('./sim/command.js');
        process.exitCode = await runSimulateCommand({ ...program.opts(), ...settingsOption(program), ...cmdOpts });
      },
    );

  program
    .command('lame-cloud')
    .description('serve the lame test cloud from this process at DriverParameters.CloudURL, so its VMs outlive dispatchers (until SIGTERM/SIGINT)')
    .action(async () => {
      const { runLameCloudCommand } = await import('../drivers/lame/command.js');
      process.exitCode = await runLameCloudCommand(program.opts());
    });

  program
    .command('cloudtest')
    .description('acceptance test of the cloud driver and config: create one instance as the dispatcher would, check its tags, boot-probe it over SSH, destroy it (per subnet when SubnetID lists several)')
    .option('--instance-type <name>', 'instance type to create (default: the cheapest configured)')
    .option('--image-id <id>', 'image to create it from (default: CloudVMs.ImageID)')
    .option('--command <cmd>', 'run this on the instance once it has booted; it must exit 0 (its output is shown)')
    .option('--shell-command <cmd>', 'same as --command')
    .option('--destroy-existing [bool]', 'destroy instances that already carry the test InstanceSetID, instead of refusing to start', goBool)
    .option('--instance-set-id <id>', 'InstanceSetID tag of the test instance (default: cloudtest-USER@HOST, so a running dispatcher is never touched)')
    .option('--pause-before-destroy [bool]', 'before destroying the instance (also after a failed step), print how to log in to it and wait for Enter', goBool)
    .action(async (cmdOpts: { instanceType?: string; imageId?: string; command?: string; shellCommand?: string; destroyExisting?: boolean; instanceSetId?: string; pauseBeforeDestroy?: boolean }) => {
      const { cloudtestCommand } = await import('./cloudtest/command.js');
      const { shellCommand, ...rest } = cmdOpts;
      process.exitCode = await cloudtestCommand({ ...program.opts(), ...rest, command: rest.command ?? shellCommand });
    });

  // Operator commands against a running daemon's management API; the URL
  // and token come from the same config file, so there is nothing else to pass.
  const instances = program
    .command('instances')
    .description("list a running dispatcher's VMs (the default), or hold, drain, run or kill some");
  instances
    .command('list', { isDefault: true })
    .description('list the VMs as a table')
    .option('--json', 'print the management API items as JSON')
    // The default subcommand: a misspelt one (`instances hlod`) arrives here as a word.
    .allowExcessArguments()
    .action(async (cmdOpts: { json?: boolean }, cmd: Command) => {
      if (cmd.args.length > 0) await strayWord(instances, cmd);
      const { listInstances } = await import('./admin/commands.js');
      process.exitCode = await listInstances(program.opts(), cmdOpts);
    });
  const behaviors = {
    hold: 'keep the VM, but start no new containers on it',
    drain: 'start no new containers on the VM, and shut it down when idle',
    run: 'use the VM normally (undoes hold and drain)',
  } as const;
  // Several IDs at once, as the reference's `instance` commands take them;
  // each is tried, and the exit status is the worst.
  const eachInstance = async (action: 'hold' | 'drain' | 'run' | 'kill', ids: string[], reason?: string): Promise<number> => {
    const { instanceActions } = await import('./admin/commands.js');
    return instanceActions(program.opts(), action, ids, reason);
  };
  for (const [action, what] of Object.entries(behaviors) as Array<[keyof typeof behaviors, string]>) {
    instances
      .command(`${action} <instance-id...>`)
      .description(what)
      .action(async (ids: string[]) => {
        process.exitCode = await eachInstance(action, ids);
      });
  }
  instances
    .command('kill <instance-id...>')
    .description('destroy the VM now, whatever runs on it')
    .option('--reason <text>', 'why, for the logs')
    .action(async (ids: string[], cmdOpts: { reason?: string }) => {
      process.exitCode = await eachInstance('kill', ids, cmdOpts.reason);
    });

  const containers = program
    .command('containers')
    .description("list a running dispatcher's queue in scheduling order (the default), say why one waits, or kill one");
  containers
    .command('list', { isDefault: true })
    .description('list the queued and running containers as a table')
    .option('--json', 'print the management API items as JSON')
    .allowExcessArguments()
    .action(async (cmdOpts: { json?: boolean }, cmd: Command) => {
      if (cmd.args.length > 0) await strayWord(containers, cmd);
      const { listContainers } = await import('./admin/commands.js');
      process.exitCode = await listContainers(program.opts(), cmdOpts);
    });
  containers
    .command('why <container-uuid>')
    .description('why the container is not running yet, when it should start, what would help, and its timeline')
    .option('--json', 'print the management API answers as JSON')
    .action(async (uuid: string, cmdOpts: { json?: boolean }) => {
      const { whyContainer } = await import('./admin/commands.js');
      process.exitCode = await whyContainer(program.opts(), uuid, cmdOpts);
    });
  containers
    .command('kill <container-uuid>')
    .description("stop a container running on one of the dispatcher's VMs (crunch-run gets SIGTERM); a queued or locked one is on no VM yet: cancel its container request instead")
    .option('--reason <text>', 'why, for the logs and the container record')
    .action(async (uuid: string, cmdOpts: { reason?: string }) => {
      const { killContainer } = await import('./admin/commands.js');
      process.exitCode = await killContainer(program.opts(), uuid, cmdOpts.reason);
    });

  // Only now, so no subcommand copies it: the root's own action (the daemon)
  // would otherwise refuse a stray word as "too many arguments" before
  // unknownCommand can name it. Every subcommand still refuses extra words.
  program.allowExcessArguments();
  return program;
}

/**
 * A word where a subcommand goes that names none: commander's "unknown
 * command" usage error, with a subcommand whose name is close (as config
 * keys get theirs). commander says this itself only for a root without an
 * action, and the root's action here runs the daemon.
 */
async function unknownCommand(program: Command, name: string): Promise<never> {
  const { closestKey } = await import('./config/fields.js');
  const names = program
    .createHelp()
    .visibleCommands(program)
    .flatMap((c) => [c.name(), ...c.aliases()]);
  const near = closestKey(name, names);
  program.error(`error: unknown command '${name}'${near ? ` (did you mean ${near}?)` : ''}`, { code: 'commander.unknownCommand', exitCode: EXIT_USAGE });
}

/**
 * A word given to a default subcommand (`list`): a subcommand misspelt
 * (`instances hlod`), or, after an explicit `list`, one word too many.
 */
async function strayWord(parent: Command, list: Command): Promise<never> {
  if (parent.args[0] === list.name()) list.error(`error: too many arguments for '${list.name()}'`, { code: 'commander.excessArguments', exitCode: EXIT_USAGE });
  return unknownCommand(parent, list.args[0]);
}

/** The settings file, and whether the user named it (flag or environment), in which case it must exist. */
function settingsOption(program: Command): { settings: string; settingsExplicit: boolean } {
  return { settings: program.opts<{ settings: string }>().settings, settingsExplicit: program.getOptionValueSource('settings') !== 'default' };
}

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} wants a whole number, not "${value}"`);
  return n;
}

/** A boolean option's value as Go's flag package (strconv.ParseBool) reads it, so `--strict=false` means what `-strict=false` means to Arvados. */
function goBool(value: string): boolean {
  if (['1', 't', 'T', 'true', 'TRUE', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'false', 'FALSE', 'False'].includes(value)) return false;
  throw new InvalidArgumentError(`expected true or false, not "${value}"`);
}

/** The legacy per-service config flags every reference service takes (its config loader's). */
const LEGACY_CONFIG_FLAGS = [
  'legacy-keepstore-config',
  'legacy-keepweb-config',
  'legacy-crunch-dispatch-slurm-config',
  'legacy-ws-config',
  'legacy-keepproxy-config',
  'legacy-keepbalance-config',
];

/** Every long option name (`--config`) of `cmd` and its subcommands. */
function longOptionNames(cmd: Command, into = new Set<string>()): Set<string> {
  for (const o of cmd.options) if (o.long) into.add(o.long);
  for (const sub of cmd.commands) longOptionNames(sub, into);
  into.add('--help');
  return into;
}

/**
 * `argv` with Go-style options (`-config FILE`, `-strict=false`, as the
 * reference's commands take them) written with two dashes, for each name
 * this program knows; anything else, and everything after `--`, as given.
 */
export function goStyleArgs(argv: readonly string[], longNames: ReadonlySet<string>): string[] {
  const out = argv.slice(0, 2);
  let rest = false;
  for (const arg of argv.slice(2)) {
    if (arg === '--') rest = true;
    const name = arg.split('=')[0];
    out.push(!rest && /^-[^-]./.test(arg) && longNames.has(`-${name}`) ? `-${arg}` : arg);
  }
  return out;
}

/**
 * commander's error message as one line with a hint, as the reference's
 * "error parsing command line arguments: ... (try -help)": its suggestion
 * ("(Did you mean --config?)") comes on a line of its own, joined here.
 */
export function usageErrorLine(message: string): string {
  return `${message.trim().replace(/\s*\n\s*/g, ' ')} (try --help)\n`;
}

/** Runs the command line; the exit status goes to `process.exitCode`. */
export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(goStyleArgs(argv, longOptionNames(program)));
  } catch (err) {
    if (!(err instanceof CommanderError)) throw err;
    // --help (and `help`) ends with status 0; everything else commander
    // refuses is a usage error, already written as one line.
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
  }
}
