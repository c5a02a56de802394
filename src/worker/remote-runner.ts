/**
 * One container's crunch-run on one worker, as the pool knows it: started by
 * us (`--detach`) or found by a probe (`--list`), and, once asked to stop,
 * signalled until it is gone.
 *
 * Stopping sends SIGTERM (`crunch-run --kill 15 UUID`) at once and again
 * every TimeoutSignal until `--kill` exits 0 (the process is gone) or a
 * probe no longer lists it. After TimeoutTERM it gives up and tells the
 * worker, which drains itself. SIGKILL is never sent: it would kill only the
 * crunch-run supervisor and leave its container and arv-mount running,
 * invisible to us.
 */
import type { Clock, Timer } from '../clock/index.js';
import type { Logger } from '../log.js';
import { SshConnectError, SshConnectionLostError, SshSessionError, HostKeyRefusedError, HostKeyUnverifiedError } from '../ssh/errors.js';
import { type Executor, outputFields } from '../ssh/executor.js';
import { isDispatchLockLostError } from '../dblock/fence.js';
import type { PoolConfig } from './pool-config.js';
import { crunchRunKillCommand, withSudo } from '../arvados/crunch-run.js';

/** What a `--detach` attempt came to. */
export type StartOutcome =
  /** crunch-run said it started. */
  | 'started'
  /** It certainly did not start (refused, never reached the VM, non-zero exit). */
  | 'failed'
  /** The command may have run (connection lost mid-way, timeout): the next probe will tell. */
  | 'unknown';

export const START_OUTCOMES: readonly StartOutcome[] = ['started', 'failed', 'unknown'];

/** What crunch-run said when it refused a start (the command ran and exited non-zero): its exit code and the first line of its stderr. */
interface StartRefusal {
  exitCode: number;
  stderr: string;
}

/** How much of a refusal's stderr is kept (for the container's timeline): its first line, at most this long. */
const REFUSAL_CHARS = 300;

/** What a runner needs from its worker. */
export interface RunnerHost {
  readonly executor: Executor;
  readonly remoteUser: string;
  readonly log: Logger;
  /** `--kill` reported the process gone. */
  onKilled(uuid: string): void;
  /** TimeoutTERM passed and the process is still there. */
  onUnkillable(uuid: string): void;
}

export class RemoteRunner {
  /** A stop was requested. */
  stopping = false;
  /** TimeoutTERM passed without the process going away. */
  givenUp = false;
  /** The pool no longer tracks this process (it exited, or the worker went away). */
  closed = false;
  /** What crunch-run said when it refused our `--detach` (the command ran and exited non-zero), its stderr cut to its first line. */
  refusal: StartRefusal | undefined;
  readonly log: Logger;
  /** False while our `--detach` is in flight: there is nothing to signal yet. */
  private settled: boolean;
  private termDeadline = 0;
  private killTimer: Timer | undefined;
  private signalling = false;

  /**
   * @param since epoch ms when it was started or first seen (the pool's `running()` value)
   * @param adopted true for a process found by a probe rather than started by us
   */
  constructor(
    readonly uuid: string,
    readonly since: number,
    private readonly host: RunnerHost,
    private readonly clock: Clock,
    private readonly cfg: PoolConfig,
    adopted: boolean,
  ) {
    this.settled = adopted;
    this.log = host.log.child({ ContainerUUID: uuid });
  }

  /**
   * Runs `command` (the full `--detach` line) with `stdin` (the config JSON,
   * which holds a token: never logged). Never rejects.
   */
  async start(command: string, stdin: string): Promise<StartOutcome> {
    try {
      const r = await this.host.executor.execute(command, { stdin, timeoutMs: this.cfg.commandTimeout, action: { Action: 'start', ContainerUUID: this.uuid } });
      if (r.exitCode === 0) {
        this.log.info('crunch-run process started');
        return 'started';
      }
      this.log.error('error starting crunch-run process', outputFields(r));
      this.refusal = { exitCode: r.exitCode, stderr: r.stderr.toString().split('\n', 1)[0].slice(0, REFUSAL_CHARS) };
      return 'failed';
    } catch (err) {
      const certain =
        err instanceof SshConnectError ||
        err instanceof SshSessionError ||
        err instanceof HostKeyRefusedError ||
        err instanceof HostKeyUnverifiedError ||
        (err instanceof SshConnectionLostError && !err.started) ||
        isDispatchLockLostError(err);
      this.log.error(certain ? 'error starting crunch-run process' : 'error starting crunch-run process (it may have started: the next probe will tell)', {
        error: err,
      });
      return certain ? 'failed' : 'unknown';
    }
  }

  /** Our `--detach` has settled and the process is (maybe) there: a pending stop can begin. */
  markSettled(): void {
    if (this.settled) return;
    this.settled = true;
    if (this.stopping && !this.closed) this.beginSignals();
  }

  /** Starts stopping the process (once; later calls change nothing). */
  kill(reason: string): void {
    if (this.stopping || this.closed) return;
    this.stopping = true;
    this.termDeadline = this.clock.now() + this.cfg.timeoutTERM;
    this.log.info('killing crunch-run process', { Reason: reason });
    if (this.settled) this.beginSignals();
  }

  /** Stops all activity; the process itself is left alone. */
  close(): void {
    this.closed = true;
    this.killTimer?.cancel();
    this.killTimer = undefined;
  }

  private beginSignals(): void {
    void this.signal();
    this.killTimer = this.clock.setRepeatingTimer(this.cfg.timeoutSignal, () => this.tick());
  }

  private tick(): void {
    if (this.closed) {
      this.close();
      return;
    }
    // `>=`: the reference tests "after the deadline", but its ticker starts after
    // the deadline is taken, so its tick at TimeoutTERM is always past it. With
    // an exact clock, that same tick is the one equal to the deadline.
    if (this.clock.now() >= this.termDeadline) {
      this.killTimer?.cancel();
      this.killTimer = undefined;
      this.givenUp = true;
      this.log.warn('crunch-run process did not stop within TimeoutTERM; giving up', { TimeoutTERM: this.cfg.timeoutTERM });
      this.host.onUnkillable(this.uuid);
      return;
    }
    void this.signal();
  }

  private async signal(): Promise<void> {
    // `--kill` itself waits about a second for the process to go; do not
    // pile up a second one behind a slow first.
    if (this.signalling || this.closed) return;
    this.signalling = true;
    const cmd = withSudo(crunchRunKillCommand(this.cfg.crunchRunCommand, this.uuid, 15), this.host.remoteUser);
    try {
      this.log.info('sending signal', { Signal: 15 });
      const r = await this.host.executor.execute(cmd, { timeoutMs: this.cfg.commandTimeout, action: { Action: 'kill', ContainerUUID: this.uuid } });
      if (this.closed) return;
      if (r.exitCode === 0) {
        this.host.onKilled(this.uuid);
      } else {
        this.log.info('kill attempt unsuccessful', { Signal: 15, ...outputFields(r) });
      }
    } catch (err) {
      if (!this.closed) this.log.info('kill attempt unsuccessful', { Signal: 15, error: err });
    } finally {
      this.signalling = false;
    }
  }
}
