/**
 * A started command's output: what `SshConnection.run` reads from the
 * channel until it closes, up to a limit per stream.
 */
import type { ClientChannel } from 'ssh2';
import type { ExecuteResult } from './executor.js';
import { exitCodeForSignal } from './util.js';

export type OutputStream = 'stdout' | 'stderr';

/**
 * The most output a command may write to each stream; past it the command
 * fails (CommandOutputTooLargeError) and what it wrote is dropped. Without a
 * limit, a VM (or, before its host key is trusted, any host at its address)
 * could stream into memory until the daemon is killed.
 *
 * The largest legitimate outputs are far smaller. `crunch-run --list`
 * prints a line per container lock on the VM (a UUID, maybe ` stale`: at
 * most 34 bytes), so even 10 000 containers are 340 kB; `md5sum` of the
 * runner is one line (under 4.2 kB); the boot probe, `--detach`, `--kill`
 * and the instance secret (40 bytes) print a few lines. stderr is only
 * logged (cut to 1000 characters) or searched for a known message, and
 * `--list` writes a line there per bad lock file. The limits still sit far
 * above those, because a false hit is costly: a `--list` failing again and
 * again shuts the VM down, with its containers, at TimeoutProbe. 16 MiB is
 * half a million `--list` lines and room for what an operator runs with
 * `cloudtest --command`; 1 MiB of error text is thousands of lines. A
 * command holds at most its limit (twice while joining it at the end).
 */
export const OUTPUT_LIMITS: Readonly<Record<OutputStream, number>> = { stdout: 16 * 1024 * 1024, stderr: 1024 * 1024 };

/**
 * Reads a started command's output until its channel closes, writing and
 * closing stdin first. Calls `done` with the result, or `tooLarge` (once,
 * and then nothing more) when a stream passes its limit: the caller closes
 * the channel.
 */
export function collect(
  ch: ClientChannel,
  stdin: Buffer | undefined,
  done: (result: ExecuteResult) => void,
  tooLarge: (stream: OutputStream, limitBytes: number) => void,
): void {
  const chunks: Record<OutputStream, Buffer[]> = { stdout: [], stderr: [] };
  const sizes: Record<OutputStream, number> = { stdout: 0, stderr: 0 };
  let overflowed = false;
  let exitCode = -1;
  let channelClosed = false;
  let stderrEnded = false;
  const maybeDone = (): void => {
    if (channelClosed && stderrEnded && !overflowed) done({ stdout: Buffer.concat(chunks.stdout), stderr: Buffer.concat(chunks.stderr), exitCode });
  };
  const take = (stream: OutputStream, chunk: Buffer): void => {
    if (overflowed) return;
    sizes[stream] += chunk.length;
    if (sizes[stream] <= OUTPUT_LIMITS[stream]) {
      chunks[stream].push(chunk);
      return;
    }
    // Drop what was kept now; whatever is still on the wire is ignored.
    overflowed = true;
    chunks.stdout = [];
    chunks.stderr = [];
    tooLarge(stream, OUTPUT_LIMITS[stream]);
  };
  ch.on('data', (chunk: Buffer) => take('stdout', chunk));
  ch.stderr.on('data', (chunk: Buffer) => take('stderr', chunk));
  // 'exit' is (code) for a normal exit, (null, 'SIGNAME', ...) for a signal.
  ch.on('exit', (...args: unknown[]) => {
    exitCode = typeof args[0] === 'number' ? args[0] : exitCodeForSignal(typeof args[1] === 'string' ? args[1] : undefined);
  });
  // The channel's 'close' follows the end of stdout, but stderr is a
  // separate stream that may end a moment later: wait for both.
  const onStderrEnd = (): void => {
    stderrEnded = true;
    maybeDone();
  };
  ch.stderr.once('end', onStderrEnd);
  ch.stderr.once('close', onStderrEnd);
  ch.once('close', () => {
    channelClosed = true;
    if (ch.stderr.readableEnded) stderrEnded = true;
    maybeDone();
  });
  // Always end stdin, even when empty, so a command reading it sees EOF.
  if (stdin && stdin.length > 0) ch.end(stdin);
  else ch.end();
}
