/**
 * The interface the worker pool uses to run commands on a VM. The ssh2
 * implementation keeps one connection per VM, shared by concurrent commands;
 * tests and the simulator hand the pool an in-process one instead
 * (`newExecutor(instance)` factory).
 */

export interface ExecuteOptions {
  /** Bytes or text written to the command's stdin, which is then closed. */
  stdin?: string | Buffer;
  /** Environment variables to set for the command (sent as `VAR=value` prefixes). */
  env?: Record<string, string>;
  /**
   * Give up (and close the channel) after this many ms. Default: the
   * executor's command timeout. The wait for the connection and its host
   * key check gets the same limit, counted separately.
   */
  timeoutMs?: number;
  /**
   * Set when the command acts on the VM (starts or kills crunch-run,
   * installs it), as opposed to reading: the dispatcher's fence
   * (`src/dblock/fence.ts`) is consulted for it, and records it.
   */
  action?: { Action: string; [field: string]: unknown };
}

export interface ExecuteResult {
  stdout: Buffer;
  stderr: Buffer;
  /** The command's exit status; a command killed by a signal gives 128 + signal number, or -1 if unknown. */
  exitCode: number;
}

/** How much of a command's output a log line or an error message shows: a VM's output is not ours to log whole. */
export const LOGGED_OUTPUT_CHARS = 1000;

/** The start of `output` as text, at most LOGGED_OUTPUT_CHARS characters, decoding no more than that needs. */
export function outputExcerpt(output: Buffer): string {
  // UTF-8 takes at most 4 bytes a character (an invalid byte decodes as one).
  return output.subarray(0, LOGGED_OUTPUT_CHARS * 4).toString().slice(0, LOGGED_OUTPUT_CHARS);
}

/**
 * A command's exit code and the start of its output, as log fields; a
 * non-zero exit also as `error`, in the words the reference's lines carry
 * there (its SSH library's), so a filter on the field finds them.
 */
export function outputFields(r: ExecuteResult): { ExitCode: number; stdout: string; stderr: string; error?: string } {
  const fields = { ExitCode: r.exitCode, stdout: outputExcerpt(r.stdout), stderr: outputExcerpt(r.stderr) };
  return r.exitCode === 0 ? fields : { ...fields, error: `Process exited with status ${r.exitCode}` };
}

export interface Executor {
  /**
   * Runs `command` (a shell command line) on the VM. Resolves with the
   * result whatever the exit code; rejects only when the command could not
   * be run or its result not obtained (connection refused, host key refused,
   * timeout, connection lost).
   */
  execute(command: string, options?: ExecuteOptions): Promise<ExecuteResult>;
  /** Points the executor at a new address (the VM got one after boot); drops the old connection. */
  setTarget(address: string): void;
  /** Closes the connection; later `execute` calls reconnect. */
  close(): void;
  /**
   * When this executor first logged in to the VM (dispatcher clock, ms):
   * the moment its first SSH connection finished the handshake and
   * authentication, before the host key is verified and before any
   * command ran; undefined until then. This is where the reference ends
   * `instances_time_to_ssh_seconds`. Optional: an executor that cannot tell
   * (the in-process transport, test fakes) leaves it out, and the worker
   * then takes the first boot probe answer as the first SSH contact.
   */
  firstLoginAt?(): number | undefined;
}
