/**
 * Runs one SSH `exec` request as a real command on this host, the way sshd
 * runs a command without a terminal: `sh -c COMMAND` in a session of its own
 * (so it cannot reach the dispatcher's terminal), stdin, stdout and stderr
 * streamed through the channel, and the exit status, or the signal that
 * ended it, sent back.
 *
 * A leading `sudo ` is dropped: the dispatcher prefixes it whenever the
 * remote user is not root, and on this host the commands run as the user the
 * dispatcher runs as, which is the remote user the instance reports.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import type { ServerChannel } from 'ssh2';
import type { CommandContext } from '../lame/sshd.js';

/** Exit status for a command that could not be started (the shell itself is missing): sh's "not found". */
const SPAWN_FAILED_EXIT = 127;

/** The signals SSH can name in an `exit-signal` message (RFC 4254 section 6.10); others are reported as 128 + n. */
const SSH_SIGNALS = new Set(['ABRT', 'ALRM', 'FPE', 'HUP', 'ILL', 'INT', 'KILL', 'PIPE', 'QUIT', 'SEGV', 'TERM', 'USR1', 'USR2']);

/** The command line as the shell gets it: without a leading `sudo `. */
export function hostCommand(command: string): string {
  return command.startsWith('sudo ') ? command.slice('sudo '.length) : command;
}

/**
 * Starts `ctx.command` on this host for `channel`. The child is added to
 * `children` while it runs, so the instance set can release it at stop. The
 * environment is the dispatcher's, plus what the client set with SSH `env`
 * requests.
 */
export function runOnHost(channel: ServerChannel, ctx: CommandContext, children: Set<ChildProcess>): void {
  let child: ChildProcess;
  try {
    child = spawn('sh', ['-c', hostCommand(ctx.command)], {
      env: { ...process.env, ...ctx.env },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
  } catch (err) {
    finish(channel, `cannot run sh: ${(err as Error).message}\n`, SPAWN_FAILED_EXIT);
    return;
  }
  children.add(child);
  // A command that exits without reading its stdin makes the write fail with EPIPE: not our concern.
  child.stdin!.on('error', () => undefined);
  channel.pipe(child.stdin!);
  child.stdout!.pipe(channel, { end: false });
  child.stderr!.pipe(channel.stderr, { end: false });
  let spawnError: Error | undefined;
  child.on('error', (err) => (spawnError = err));
  // 'close' comes after the process has exited and its stdout and stderr
  // are drained, so everything it wrote precedes the exit status.
  child.on('close', (code, signal) => {
    children.delete(child);
    channel.unpipe(child.stdin!);
    if (spawnError) finish(channel, `cannot run sh: ${spawnError.message}\n`, SPAWN_FAILED_EXIT);
    else finish(channel, '', code ?? signal ?? SPAWN_FAILED_EXIT);
  });
}

/** Sends what is left and the outcome, then closes the channel. */
function finish(channel: ServerChannel, stderr: string, outcome: number | NodeJS.Signals): void {
  if (stderr !== '') channel.stderr.write(stderr);
  if (typeof outcome === 'number') {
    channel.exit(outcome);
  } else {
    const name = outcome.replace(/^SIG/, '');
    if (SSH_SIGNALS.has(name)) channel.exit(name, false, '');
    else channel.exit(128 + (osConstants.signals[outcome] ?? 0));
  }
  channel.end();
}

/**
 * Lets the process exit while `child` still runs: it keeps running (it is
 * in a session of its own, as a command whose SSH client went away), but no
 * longer holds the event loop open.
 */
export function release(child: ChildProcess): void {
  child.stdin?.destroy();
  child.stdout?.destroy();
  child.stderr?.destroy();
  child.unref();
}
