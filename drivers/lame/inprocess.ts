/**
 * The in-process transport: an Executor that hands each command straight to
 * a lame VM's handler, with no socket and no SSH. The simulator runs
 * thousands of VMs this way under a manual clock; the handler is the same one
 * the SSH server calls, so commands behave identically. Failures use the SSH
 * executor's error classes, so the pool cannot tell the transports apart.
 */
import type { Timer } from '../../src/clock/index.js';
import type { ExecuteOptions, ExecuteResult, Executor } from '../../src/ssh/executor.js';
import { CommandTimeoutError, SshConnectError } from '../../src/ssh/errors.js';
import type { LameCloud } from './cloud.js';
import type { CommandResult } from './sshd.js';

/** The exit status sshd reports when the command could not be run; the SSH server uses it for a failing handler. */
const HANDLER_FAILED_EXIT = 255;

export class InProcessExecutor implements Executor {
  private target: string;

  /**
   * @param cloud where to find the VM (looked up at each call, so a destroyed VM refuses connections)
   * @param vmId the VM's instance id
   * @param username who the commands run as (the instance's remoteUser)
   */
  constructor(
    private readonly cloud: LameCloud,
    private readonly vmId: string,
    private readonly username: string,
  ) {
    this.target = vmId;
  }

  async execute(command: string, options: ExecuteOptions = {}): Promise<ExecuteResult> {
    const vm = this.cloud.vm(this.vmId);
    if (!vm || vm.state === 'terminated') {
      throw new SshConnectError(this.target, 'refused', `instance ${this.vmId} is not running`);
    }
    const stdin = options.stdin === undefined ? Buffer.alloc(0) : Buffer.from(options.stdin);
    const run: Promise<CommandResult> = vm
      .handle({ command, stdin, env: { ...(options.env ?? {}) }, username: this.username })
      .catch((err: unknown) => ({ stderr: `${(err as Error).message}\n`, exitCode: HANDLER_FAILED_EXIT }));
    let result: CommandResult;
    if (options.timeoutMs !== undefined && options.timeoutMs > 0) {
      const timeoutMs = options.timeoutMs;
      // A plain timer, not an aborted sleep: an abort builds a DOMException
      // (with its stack), and the simulator runs millions of commands.
      let timer: Timer | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = this.cloud.ctx.clock.setTimer(timeoutMs, () => resolve('timeout'));
      });
      const winner = await Promise.race([run, timedOut]);
      timer!.cancel();
      if (winner === 'timeout') throw new CommandTimeoutError(this.target, command, timeoutMs);
      result = winner;
    } else {
      result = await run;
    }
    return {
      stdout: toBuffer(result.stdout),
      stderr: toBuffer(result.stderr),
      exitCode: result.exitCode,
    };
  }

  /** Records the address for error messages; the VM is found by id, whatever its address. */
  setTarget(address: string): void {
    this.target = address || this.vmId;
  }

  /** Nothing to close: there is no connection. */
  close(): void {}
}

function toBuffer(data: string | Buffer | undefined): Buffer {
  if (data === undefined) return Buffer.alloc(0);
  return Buffer.isBuffer(data) ? data : Buffer.from(data);
}
