/**
 * Why an SSH command could not be run, classified by what the caller should
 * do about it (DESIGN.md, rule 4): a connect failure or a lost connection is
 * worth retrying at the next probe; a refused host key means the VM is not
 * the one we think it is, an unverified one that it cannot show it yet (it
 * is still booting); a timeout means the VM is too slow or stuck.
 */

/** The kinds of connect failure, so callers can tell "not up yet" from "our key is not accepted". */
export type SshConnectFailure =
  | 'no-address' // the executor has no (valid) target yet
  | 'refused' // TCP connection refused: nothing listens yet
  | 'unreachable' // DNS failure, no route
  | 'timeout' // no SSH handshake within connectTimeoutMs
  | 'authentication' // the server did not accept our key
  | 'handshake' // SSH protocol negotiation failed
  | 'closed'; // the server hung up before the session was ready (a reset, an EOF, an SSH disconnect)

/** The SSH connection could not be established (or not authenticated). */
export class SshConnectError extends Error {
  override readonly name = 'SshConnectError';
  constructor(
    /** `host:port` we tried. */
    readonly target: string,
    readonly kind: SshConnectFailure,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`SSH connection to ${target} failed: ${detail}`, options);
  }
}

/**
 * The host key the server presented was not trusted: the verifier (the
 * instance's `verifyHostKey`, or the InstanceSecret check) said no. Its
 * reason is the `cause`. A verifier that cannot tell yet throws
 * HostKeyCheckPendingError instead, which is not a refusal.
 */
export class HostKeyRefusedError extends Error {
  override readonly name = 'HostKeyRefusedError';
  constructor(
    readonly target: string,
    /** `SHA256:...`, as `ssh-keygen -l` prints it. */
    readonly fingerprint: string,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`host key ${fingerprint} presented by ${target} was refused: ${reason}`, { cause });
  }
}

/**
 * What a host key verifier throws when the VM cannot prove who it is *yet*,
 * as opposed to proving it is someone else: the InstanceSecret check throws
 * it while the VM's init script has not written the secret file. The
 * executor reports it as HostKeyUnverifiedError, an outcome expected while a
 * VM boots, not as a refusal.
 */
export class HostKeyCheckPendingError extends Error {
  override readonly name = 'HostKeyCheckPendingError';
  constructor(
    message: string,
    /**
     * The read failed in sudo itself (no passwordless sudo for AdminUsername,
     * no sudo on the image): no amount of waiting helps, so the boot probe
     * warns about it at once though the check still counts as pending.
     */
    readonly sudoRefused = false,
  ) {
    super(message);
  }
}

/**
 * The host key could not be verified yet (the verifier threw
 * HostKeyCheckPendingError, its `cause`): normal while a VM boots, and
 * checked again on the next connection. Like a refusal, the command never
 * ran; unlike one, it says nothing against the VM.
 */
export class HostKeyUnverifiedError extends Error {
  override readonly name = 'HostKeyUnverifiedError';
  constructor(
    readonly target: string,
    /** `SHA256:...`, as `ssh-keygen -l` prints it. */
    readonly fingerprint: string,
    cause: unknown,
  ) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    super(`host key ${fingerprint} presented by ${target} cannot be verified yet: ${reason}`, { cause });
  }
}

/**
 * The command did not finish within its timeout; its channel was closed.
 * With `phase` 'connecting', the connection was not up and trusted in time
 * (most often a host key check whose command never answered): the command
 * never ran, and the connection was closed.
 */
export class CommandTimeoutError extends Error {
  override readonly name = 'CommandTimeoutError';
  constructor(
    readonly target: string,
    /** The command line without its environment prefixes. */
    readonly command: string,
    readonly timeoutMs: number,
    readonly phase: 'connecting' | 'running' = 'running',
  ) {
    const waiting = phase === 'connecting' ? ' waiting for the SSH connection and its host key check (it never ran)' : '';
    super(`command on ${target} timed out after ${timeoutMs} ms${waiting}: ${command}`);
  }
}

/**
 * The command wrote more to `stream` than the executor keeps
 * (`OUTPUT_LIMITS` in collect.ts): its channel was closed and its output
 * dropped; the connection stays usable. Unlike SshSessionError the command
 * did run (a `--detach` may have started crunch-run).
 */
export class CommandOutputTooLargeError extends Error {
  override readonly name = 'CommandOutputTooLargeError';
  constructor(
    readonly target: string,
    /** The command line without its environment prefixes. */
    readonly command: string,
    readonly stream: 'stdout' | 'stderr',
    readonly limitBytes: number,
  ) {
    super(`command on ${target} wrote more than ${formatBytes(limitBytes)} to ${stream}, the most kept; its output was dropped: ${command}`);
  }
}

/** `16 MiB` for whole MiB, else `N bytes`. */
function formatBytes(n: number): string {
  const mib = 1024 * 1024;
  return n >= mib && n % mib === 0 ? `${n / mib} MiB` : `${n} bytes`;
}

/**
 * The connection went away while a command was in flight (or was closed by
 * the dispatcher: `close()`, `setTarget()`). Whether the command ran is
 * unknown unless `started` is false.
 */
export class SshConnectionLostError extends Error {
  override readonly name = 'SshConnectionLostError';
  constructor(
    readonly target: string,
    detail: string,
    /** False when the command certainly never reached the server. */
    readonly started: boolean,
    options?: { cause?: unknown },
  ) {
    super(`SSH connection to ${target} ${detail}`, options);
  }
}

/**
 * The connection is fine but the server would not run the command: it
 * refused to open a session (e.g. sshd's MaxSessions) or the exec request.
 */
export class SshSessionError extends Error {
  override readonly name = 'SshSessionError';
  constructor(
    readonly target: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`SSH server at ${target} did not run the command: ${detail}`, options);
  }
}
