/**
 * The manual page `arvados-dispatch-cloud(1)`, made from the command line's
 * own help (so the two cannot drift apart) and what the help does not say:
 * the files, the environment, the exit statuses. The Debian package
 * installs it; an operator on a host without the docs reads it with
 * `man arvados-dispatch-cloud`.
 */
import type { Command } from 'commander';
import { DEFAULT_SETTINGS_PATH, SETTINGS_PATH_ENV } from './config/settings-path.js';

/** The width the help is wrapped at, so that `man` shows it in an 80-column terminal after its indent of 7. */
const HELP_WIDTH = 72;

export interface ManPageOptions {
  /** The package version, for the page's footer. */
  version: string;
  /** The date the page is dated, YYYY-MM-DD (the build's commit, so that builds repeat). */
  date: string;
  /** Where the package puts the operators' guide and the examples. */
  docDir: string;
}

/** The page, in roff (man macros), for `program` as cli.ts builds it. */
export function manPage(program: Command, opts: ManPageOptions): string {
  const name = program.name();
  const out: string[] = [
    `.TH ${roffArg(name.toUpperCase())} 1 ${roffArg(opts.date)} ${roffArg(`${name} ${opts.version}`)} "User Commands"`,
    // Key names and paths are not to be hyphenated or stretched.
    '.nh',
    '.ad l',
    '.SH NAME',
    `${escape(name)} \\- ${escape(lowerFirst(program.description()).replace(/\.$/, ''))}`,
    '.SH SYNOPSIS',
    `.B ${escape(name)}`,
    '[\\fIoptions\\fR] [\\fIcommand\\fR [\\fIcommand options\\fR]]',
    '.SH DESCRIPTION',
    paragraph(
      `With no command, ${name} is the dispatcher daemon, as the ${name} systemd service runs it: it polls the cluster's controller for queued containers, creates cloud VMs of the cheapest instance type that fits, starts crunch-run on them over SSH, and shuts them down when idle. It reads the cluster's config file, as every Arvados service does, and an optional settings file of its own for the features the reference dispatcher lacks.`,
    ),
    paragraph(`The commands check the config, run the dispatcher on a simulated cloud, test a cloud driver, and query or steer a running dispatcher through its management API. Each is described below, with its help text; each also takes the options --config, --cluster and --settings (OPTIONS), before or after its name.`),
    '.SH OPTIONS',
    ...preformatted(helpOf(program)),
    '.SH COMMANDS',
  ];
  for (const cmd of visibleCommands(program)) {
    out.push(`.SS ${escape(cmd.name())}`, ...preformatted(helpOf(cmd)));
    for (const sub of visibleCommands(cmd)) out.push(`.SS ${escape(`${cmd.name()} ${sub.name()}`)}`, ...preformatted(helpOf(sub)));
  }
  out.push(
    '.SH FILES',
    ...item('/etc/arvados/config.yml', 'The Arvados cluster config, shared by every Arvados service; ARVADOS_CONFIG or --config names another.'),
    ...item(DEFAULT_SETTINGS_PATH, `This daemon's own settings file; all defaults when it does not exist; ${SETTINGS_PATH_ENV} or --settings names another, which must exist.`),
    ...item('/etc/arvados/environment', 'Variables the systemd unit passes to the daemon (those below).'),
    ...item(opts.docDir, "The operators' guide (operators.md: install, the config keys read, the differences from the reference, the log messages) and example config, settings and unit drop-in files."),
    '.SH ENVIRONMENT',
    ...item('ARVADOS_CONFIG', 'The cluster config file, instead of /etc/arvados/config.yml.'),
    ...item(SETTINGS_PATH_ENV, `The settings file, instead of ${DEFAULT_SETTINGS_PATH}.`),
    ...item('ARVADOS_SERVICE_INTERNAL_URL', 'Which Services.DispatchCloud.InternalURLs entry is this host, when several are.'),
    ...item('ARVADOS_NODE_PROFILE', "The NodeProfiles profile of this host (an old config form), instead of the host's name."),
    ...item('ARVADOS_API_TOKEN, ARVADOS_API_HOST, ARVADOS_API_HOST_INSECURE', 'Taken for SystemRootToken and the controller URL when the config leaves them empty, with a warning (an old way to configure Arvados services).'),
    ...item('HTTPS_PROXY, HTTP_PROXY, NO_PROXY', "The proxy for the controller and the cloud APIs, as Arvados's Go clients read them."),
    ...item('SSL_CERT_FILE, SSL_CERT_DIR', 'The certificate authorities trusted, instead of the system ones.'),
    ...item('AWS_REGION, AWS_DEFAULT_REGION', 'The EC2 region when DriverParameters.Region is empty.'),
    ...item('AWS_CA_BUNDLE', 'A PEM file of certificate authorities the EC2 API calls trust as well.'),
    ...item('GCE_METADATA_HOST, GCE_METADATA_IP', "The GCE metadata server's address, instead of metadata.google.internal."),
    ...item('PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, ...', 'What PostgreSQL.Connection leaves out of the dispatch lock\'s database connection, as libpq reads them.'),
    ...item('LOG_LEVEL', 'The log level, instead of SystemLogs.LogLevel.'),
    '.SH "EXIT STATUS"',
    ...item('0', 'Success; check-config: the config is good.'),
    ...item('1', 'The daemon did not start (a config it refuses, an unreadable key, nowhere to listen: the systemd unit starts it again) or stopped on an error; check-config: the config has warnings (strict mode); cloudtest: a step failed; simulate: its --limit came first; an operator command failed.'),
    ...item('2', 'A usage error (an unknown option or command, a bad value), or a Node.js older than 20.19, after which the systemd unit does not start the daemon again; check-config, demo, simulate, lame-cloud and cloudtest: a config the daemon would not start with (simulate: or a workload or settings file it cannot use, or an output file it cannot open; cloudtest: or an instance type or key it cannot use); instances and containers: a config they cannot read, or one without the ManagementToken or a Services.DispatchCloud.InternalURLs entry to reach the daemon with; after SIGQUIT, whose diagnostic report goes to stderr.'),
    '.SH "SEE ALSO"',
    '.BR systemctl (1),',
    '.BR journalctl (1)',
    '',
  );
  return out.join('\n');
}

/** The commands a user can run (not the hidden ones), in the order the help lists them. */
function visibleCommands(cmd: Command): Command[] {
  return cmd.commands.filter((c) => !(c as Command & { _hidden?: boolean })._hidden);
}

/** The command's help as `--help` prints it, wrapped to fit the page. */
function helpOf(cmd: Command): string {
  // Wrapped even beside a wide first column (the root's command names), which --help leaves long below 40 columns;
  // without the global options each subcommand's --help repeats: OPTIONS has them once.
  cmd.configureHelp({ ...cmd.configureHelp(), helpWidth: HELP_WIDTH, minWidthToWrap: 20, showGlobalOptions: false });
  return cmd.helpInformation();
}

function lowerFirst(s: string): string {
  return s.charAt(0).toLowerCase() + s.slice(1);
}

/** Text as roff prints it: backslashes and minus signs escaped. */
function escape(text: string): string {
  return text.replace(/\\/g, '\\e').replace(/-/g, '\\-');
}

/** A line that roff must not take for a request (one starting with `.` or `'`). */
function literalLine(line: string): string {
  const escaped = escape(line);
  return /^[.']/.test(escaped) ? `\\&${escaped}` : escaped;
}

/** A macro argument, quoted. */
function roffArg(text: string): string {
  return `"${escape(text).replace(/"/g, '\\(dq')}"`;
}

function paragraph(text: string): string {
  return `.PP\n${literalLine(text)}`;
}

/** Lines shown as they are (no filling). */
function preformatted(text: string): string[] {
  const lines = text.replace(/\n+$/, '').split('\n');
  return ['.PP', '.nf', ...lines.map((l) => (l === '' ? '' : literalLine(l))), '.fi'];
}

/** A tagged paragraph: `tag` in bold, then its text. */
function item(tag: string, text: string): string[] {
  return ['.TP', `.B ${escape(tag)}`, literalLine(text)];
}
