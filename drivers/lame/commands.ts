/**
 * The lame VM's "shell": the commands the dispatcher runs on a worker
 * (ARVADOS.md section 2), interpreted by one handler shared by the SSH and
 * in-process transports. Anything else is "command not found" (127), and
 * shell syntax beyond one simple command is refused (2) rather than guessed.
 *
 * Choices, where a real VM has no single behaviour:
 * - The configured BootProbeCommand (and `systemctl is-system-running`)
 *   reports the boot state: exit 1 "starting" until the VM's boot time, then
 *   0 "running". It answers from the moment SSH is up, as on a VM whose sshd
 *   starts before the rest of boot.
 * - crunch-run, in every form, fails (exit 1) until boot completes, the way
 *   a VM whose docker is not up yet cannot run containers; files (the
 *   instance secret, `md5sum`, the runner install) work from the start.
 * - `--detach` and `--kill` need root (`sudo`, or AdminUsername root),
 *   judged by the mode crunch-run takes (`--list --detach` detaches, so it
 *   needs root); reading the instance secret too (the file is mode 0600). A dispatcher
 *   that forgets `sudo` fails here as it would on a real VM.
 */
import { createHash } from 'node:crypto';
import { INSTANCE_SECRET_PATH, parseRunnerInstallCommand } from '../../src/arvados/crunch-run.js';
import { type ParsedCommand, parseCommandLine, ShellParseError } from '../../src/ssh/shell-words.js';
import { crunchRun } from './crunch-run.js';
import type { CommandContext, CommandResult } from './sshd.js';
import type { LameVM } from './vm.js';

/** Files only root may read. */
const ROOT_ONLY = new Set([INSTANCE_SECRET_PATH]);

const notFound = (prog: string): CommandResult => ({ stderr: `sh: 1: ${prog}: not found\n`, exitCode: 127 });

function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Runs `ctx.command` on `vm`. Never rejects: every failure is an exit status. */
export async function runCommand(vm: LameVM, ctx: CommandContext): Promise<CommandResult> {
  if (vm.state === 'terminated') return { stderr: 'lame: the VM is terminated\n', exitCode: 255 };
  const command = ctx.command.trim();
  const probe = vm.cloud.ctx.cluster?.Containers?.CloudVMs?.BootProbeCommand?.trim();
  if (probe && (command === probe || command.replace(/^sudo\s+/, '') === probe)) return bootStatus(vm);

  const installPath = parseRunnerInstallCommand(command);
  if (installPath !== undefined) return install(vm, installPath, ctx.stdin);

  let parsed: ParsedCommand;
  try {
    parsed = parseCommandLine(command);
  } catch (err) {
    if (!(err instanceof ShellParseError)) throw err;
    return { stderr: `lame: unsupported shell command ${JSON.stringify(command)}: ${err.message}\n`, exitCode: 2 };
  }
  const { argv } = parsed;
  if (argv.length === 0) return { exitCode: 0 };
  const asRoot = parsed.sudo || ctx.username === 'root';

  const crunchRunArgs = crunchRunArguments(vm, argv);
  if (crunchRunArgs === 'missing') return { stderr: `sh: 1: ${argv[0]}: No such file or directory\n`, exitCode: 127 };
  if (crunchRunArgs !== undefined) {
    if (!vm.booted) return { stderr: 'crunch-run: cannot run yet: the VM has not finished booting\n', exitCode: 1 };
    return crunchRun(vm, crunchRunArgs, ctx.stdin, asRoot);
  }

  switch (argv[0]) {
    case 'true':
      return { exitCode: 0 };
    case 'false':
      return { exitCode: 1 };
    case 'echo': {
      const noNewline = argv[1] === '-n';
      const words = argv.slice(noNewline ? 2 : 1);
      return { stdout: words.join(' ') + (noNewline ? '' : '\n'), exitCode: 0 };
    }
    case 'cat':
      return cat(vm, argv.slice(1), asRoot);
    case 'md5sum':
      return md5sum(vm, argv.slice(1));
    case 'systemctl':
      if (argv[1] === 'is-system-running') return bootStatus(vm);
      return { stderr: `lame: systemctl ${argv.slice(1).join(' ')}: not emulated\n`, exitCode: 1 };
    default:
      return notFound(argv[0]);
  }
}

function bootStatus(vm: LameVM): CommandResult {
  return vm.booted ? { stdout: 'running\n', exitCode: 0 } : { stdout: 'starting\n', exitCode: 1 };
}

/**
 * The arguments after the crunch-run program when `argv` invokes crunch-run:
 * the configured CrunchRunCommand (possibly several words), `crunch-run` on
 * any path, `arvados-server crunch-run`, or a deployed `crunch-run~HEX`
 * (which must have been installed: 'missing' otherwise). Undefined: not crunch-run.
 */
function crunchRunArguments(vm: LameVM, argv: string[]): string[] | 'missing' | undefined {
  const configured = vm.cloud.ctx.cluster?.Containers?.CrunchRunCommand;
  if (configured) {
    try {
      const words = parseCommandLine(configured).argv;
      if (words.length > 0 && words.every((w, i) => argv[i] === w)) return argv.slice(words.length);
    } catch {
      // A configured command we cannot parse cannot match either.
    }
  }
  const name = basename(argv[0]);
  if (name === 'crunch-run') return argv.slice(1);
  if (name === 'arvados-server' && argv[1] === 'crunch-run') return argv.slice(2);
  if (/^crunch-run~[0-9a-f]+$/.test(name)) return vm.files.has(argv[0]) ? argv.slice(1) : 'missing';
  return undefined;
}

function cat(vm: LameVM, paths: string[], asRoot: boolean): CommandResult {
  const out: Buffer[] = [];
  let stderr = '';
  let exitCode = 0;
  for (const path of paths) {
    const data = vm.files.get(path);
    if (data === undefined) {
      stderr += `cat: ${path}: No such file or directory\n`;
      exitCode = 1;
    } else if (ROOT_ONLY.has(path) && !asRoot) {
      stderr += `cat: ${path}: Permission denied\n`;
      exitCode = 1;
    } else {
      out.push(data);
    }
  }
  return { stdout: Buffer.concat(out), stderr, exitCode };
}

function md5sum(vm: LameVM, paths: string[]): CommandResult {
  let stdout = '';
  let stderr = '';
  let exitCode = 0;
  for (const path of paths) {
    const data = vm.files.get(path);
    if (data === undefined) {
      stderr += `md5sum: ${path}: No such file or directory\n`;
      exitCode = 1;
    } else {
      stdout += `${createHash('md5').update(data).digest('hex')}  ${path}\n`;
    }
  }
  return { stdout, stderr, exitCode };
}

function install(vm: LameVM, path: string, data: Buffer): CommandResult {
  if (!path.startsWith('/')) return { stderr: `lame: refusing to install the runner at relative path ${path}\n`, exitCode: 1 };
  vm.files.set(path, Buffer.from(data));
  vm.logger.debug('lame: runner installed', { Path: path, Bytes: data.length });
  return { exitCode: 0 };
}
