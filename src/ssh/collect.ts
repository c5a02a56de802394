/**
 * A started command's output: what `SshConnection.run` reads from the
 * channel until it closes.
 */
import type { ClientChannel } from 'ssh2';
import type { ExecuteResult } from './executor.js';
import { exitCodeForSignal } from './util.js';

/** Reads a started command's output until its channel closes, writing and closing stdin first. */
export function collect(ch: ClientChannel, stdin: Buffer | undefined, done: (result: ExecuteResult) => void): void {
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  let exitCode = -1;
  let channelClosed = false;
  let stderrEnded = false;
  const maybeDone = (): void => {
    if (channelClosed && stderrEnded) done({ stdout: Buffer.concat(stdout), stderr: Buffer.concat(stderr), exitCode });
  };
  ch.on('data', (chunk: Buffer) => stdout.push(chunk));
  ch.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
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
