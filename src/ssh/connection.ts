/**
 * One ssh2 client connection and the commands multiplexed over it. The
 * executor (`ssh-executor.ts`) decides when to make one, whether its host key
 * is trusted, and when to retry; this file knows how ssh2 behaves.
 *
 * Lifecycle: `connecting` -> `ready` (authenticated; `ready` resolves) ->
 * `closed`. Any error, an EOF from the server, `close()` or the socket
 * closing moves it to `closed` for good; a new connection replaces it.
 */
import ssh2 from 'ssh2';
import type { Client as Ssh2Client, ClientChannel } from 'ssh2';
import type { Clock, Timer } from '../clock/index.js';
import type { Logger } from '../log.js';
import { CommandOutputTooLargeError, CommandTimeoutError, SshConnectError, SshConnectionLostError, SshSessionError } from './errors.js';
import type { ExecuteResult } from './executor.js';
import { collect } from './collect.js';
import { sameKey, type SshTarget } from './util.js';

const { Client } = ssh2;

export interface SshConnectionOptions {
  target: SshTarget;
  /** `host:port`, for messages. */
  label: string;
  username: string;
  privateKey: string | Buffer;
  connectTimeoutMs: number;
  keepaliveIntervalMs: number;
  keepaliveCountMax: number;
  /** Sessions (commands) open at once; more wait for a free one. */
  maxSessions: number;
  clock: Clock;
  logger: Logger;
}

/**
 * Where a command is. The distinction matters when the connection dies: a
 * `queued` command never reached the server, so it can be retried on a new
 * connection; a `started` one may have run.
 */
type Phase = 'queued' | 'opening' | 'started';

interface InFlight {
  phase: Phase;
  fail(err: Error): void;
}

/** ssh2's error when the connection closed while our channel-open request had no answer yet. */
const UNANSWERED_OPEN = 'No response from server';

export class SshConnection {
  /** Resolves once authenticated; rejects with SshConnectError (or the `close()` reason). */
  readonly ready: Promise<void>;
  /** The host key blob the server presented in the handshake. */
  presentedKey: Buffer | undefined;
  /** True when the dispatcher closed it on purpose (close(), setTarget(), host key refused). */
  closedLocally = false;

  private state: 'connecting' | 'ready' | 'closed' = 'connecting';
  private everReady = false;
  private readonly client: Ssh2Client;
  private readonly inflight = new Set<InFlight>();
  private activeSessions = 0;
  private readonly sessionWaiters: Array<() => void> = [];
  /** The first error seen after `ready`: why the connection went away. */
  private lostCause: unknown;
  private resolveReady!: () => void;
  private rejectReady!: (err: Error) => void;
  /**
   * The handshake deadline on the injected clock. ssh2's own readyTimeout
   * counts real time, which a manual clock (tests, the simulator) cannot
   * move; a VM that accepts TCP and never finishes the handshake must fail
   * its probe after connectTimeoutMs of the dispatcher's time.
   */
  private handshakeTimer: Timer | undefined;

  constructor(private readonly opts: SshConnectionOptions) {
    this.ready = new Promise<void>((resolve, reject) => {
      this.resolveReady = resolve;
      this.rejectReady = reject;
    });
    // Callers await `ready`; this keeps a connection nobody waits on any
    // more from raising an unhandled rejection.
    this.ready.catch(() => undefined);

    const client = new Client();
    this.client = client;
    client.on('ready', () => {
      if (this.state !== 'connecting') return;
      this.endHandshakeTimer();
      this.state = 'ready';
      this.everReady = true;
      opts.logger.debug('SSH connection ready', { Address: opts.label });
      this.resolveReady();
    });
    client.on('error', (err: Error) => this.onError(err));
    // The server's EOF: nothing more can run here. Destroying makes the
    // 'close' (and with it the channel cleanup) happen now.
    client.on('end', () => {
      if (this.state !== 'closed') client.destroy();
    });
    client.on('close', () => this.onClose());
    const hostVerifier = (key: Buffer): boolean => this.onHostKey(key);
    try {
      client.connect({
        host: opts.target.host,
        port: opts.target.port,
        username: opts.username,
        privateKey: opts.privateKey,
        hostVerifier,
        readyTimeout: opts.connectTimeoutMs,
        keepaliveInterval: opts.keepaliveIntervalMs,
        keepaliveCountMax: opts.keepaliveCountMax,
      });
      this.handshakeTimer = opts.clock.setTimer(opts.connectTimeoutMs, () => {
        this.handshakeTimer = undefined;
        if (this.state !== 'connecting') return;
        this.state = 'closed';
        this.rejectReady(new SshConnectError(opts.label, 'timeout', `no SSH handshake within ${opts.connectTimeoutMs} ms`));
        client.destroy();
      });
      // Every command is a few small request/reply packets (open, exec,
      // EOF, close); with Nagle's algorithm each waits out the peer's
      // delayed ACK, ~40 ms a step.
      client.setNoDelay(true);
    } catch (err) {
      // connect() throws synchronously only for bad configuration (an unusable key).
      this.state = 'closed';
      this.rejectReady(new SshConnectError(opts.label, 'authentication', `cannot use the private key: ${messageOf(err)}`, { cause: err }));
    }
  }

  /** `host:port`, for messages. */
  get label(): string {
    return this.opts.label;
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /**
   * Closes the connection now; every command in flight rejects with
   * `reason`, and so does `ready` if it is still pending.
   */
  close(reason: Error): void {
    this.endHandshakeTimer();
    if (this.state === 'closed') return;
    this.closedLocally = true;
    const wasConnecting = this.state === 'connecting';
    this.state = 'closed';
    if (wasConnecting) this.rejectReady(reason);
    for (const entry of [...this.inflight]) entry.fail(reason);
    // destroy, not end: end() waits for the peer's FIN, which a dead peer never sends.
    this.client.destroy();
  }

  /**
   * Runs `commandLine` in a new session: writes `stdin` and closes it,
   * collects output, and resolves on the channel's close. `display` (the
   * command without env values) is what error messages show.
   */
  run(commandLine: string, display: string, stdin: Buffer | undefined, timeoutMs: number): Promise<ExecuteResult> {
    return new Promise<ExecuteResult>((resolve, reject) => {
      if (this.state !== 'ready') {
        reject(this.lostError(false));
        return;
      }
      let settled = false;
      let holdsSession = false;
      let channel: ClientChannel | undefined;
      let timer: Timer | undefined;
      const settle = (err: Error | undefined, result?: ExecuteResult): void => {
        if (settled) return;
        settled = true;
        this.inflight.delete(entry);
        timer?.cancel();
        if (holdsSession) {
          holdsSession = false;
          this.releaseSession();
        }
        if (err) {
          // Closing the channel is what makes a timed-out (or too talkative)
          // command stop costing us a session; on a dead connection it is a no-op.
          channel?.close();
          reject(err);
        } else {
          resolve(result as ExecuteResult);
        }
      };
      const entry: InFlight = { phase: 'queued', fail: (err) => settle(err) };
      this.inflight.add(entry);
      if (timeoutMs > 0) {
        timer = this.opts.clock.setTimer(timeoutMs, () => settle(new CommandTimeoutError(this.opts.label, display, timeoutMs)));
      }
      this.acquireSession(() => {
        if (settled) {
          this.releaseSession();
          return;
        }
        holdsSession = true;
        if (this.state !== 'ready') {
          settle(this.lostError(false));
          return;
        }
        entry.phase = 'opening';
        try {
          this.client.exec(commandLine, (err, ch) => {
            if (err) {
              settle(this.openFailure(err));
              return;
            }
            ch.on('error', () => undefined);
            ch.stderr.on('error', () => undefined);
            if (settled) {
              ch.close();
              return;
            }
            entry.phase = 'started';
            channel = ch;
            collect(
              ch,
              stdin,
              (result) => settle(undefined, result),
              // settle closes the channel; the connection goes on serving other commands.
              (stream, limit) => settle(new CommandOutputTooLargeError(this.opts.label, display, stream, limit)),
            );
          });
        } catch (err) {
          // ssh2 throws "Not connected" when the socket is already gone:
          // nothing was sent, and the 'close' event is on its way.
          this.lostCause ??= err;
          this.state = 'closed';
          this.client.destroy();
          settle(this.lostError(false, err));
        }
      });
    });
  }

  /**
   * ssh2's hostVerifier. The handshake always goes on (the executor decides
   * trust after 'ready', when it can run commands to check the key); a
   * re-key must present the same key as the first handshake.
   */
  private onHostKey(key: Buffer): boolean {
    if (!this.presentedKey) {
      this.presentedKey = Buffer.from(key);
      return true;
    }
    return sameKey(key, this.presentedKey);
  }

  private endHandshakeTimer(): void {
    this.handshakeTimer?.cancel();
    this.handshakeTimer = undefined;
  }

  private onError(err: Error): void {
    this.endHandshakeTimer();
    if (this.state === 'connecting') {
      this.state = 'closed';
      this.rejectReady(connectError(this.opts, err));
      this.client.destroy();
      return;
    }
    if (this.state === 'ready') {
      this.lostCause ??= err;
      // Fail commands in the 'close' handler, after ssh2 has told us which
      // channel opens went unanswered; destroying makes it come now.
      this.state = 'closed';
      this.client.destroy();
    }
  }

  private onClose(): void {
    this.endHandshakeTimer();
    const wasConnecting = this.state === 'connecting';
    this.state = 'closed';
    if (wasConnecting) {
      this.rejectReady(new SshConnectError(this.opts.label, 'closed', 'the server closed the connection before the SSH session was ready', { cause: this.lostCause }));
    }
    if (this.everReady && !this.closedLocally) {
      this.opts.logger.info('SSH connection lost', { Address: this.opts.label, error: this.lostCause });
    }
    // Commands still opening get their answer from ssh2 right after this
    // event (its channel cleanup runs synchronously after emitting 'close'),
    // which tells unanswered opens (safe to retry) from sent exec requests.
    // The microtask is a backstop in case that answer never comes.
    for (const entry of [...this.inflight]) {
      if (entry.phase !== 'opening') entry.fail(this.lostError(entry.phase === 'started'));
    }
    queueMicrotask(() => {
      for (const entry of [...this.inflight]) entry.fail(this.lostError(true));
    });
  }

  /** The error for a failed `exec` (channel open or exec request). */
  private openFailure(err: Error): Error {
    const refusedOpen = typeof (err as { reason?: unknown }).reason === 'number';
    if (this.state === 'closed') {
      // Only an open that was never answered certainly did not start the command.
      const neverOpened = refusedOpen || err.message === UNANSWERED_OPEN;
      return this.lostError(!neverOpened, err);
    }
    return new SshSessionError(this.opts.label, refusedOpen ? `session refused (${err.message})` : err.message, { cause: err });
  }

  private lostError(started: boolean, cause: unknown = this.lostCause): SshConnectionLostError {
    const detail = started ? 'was lost while the command was running' : 'was lost before the command started';
    return new SshConnectionLostError(this.opts.label, detail, started, { cause });
  }

  /** Calls `fn` once a session slot is free (at once if one is): ssh servers cap sessions per connection. */
  private acquireSession(fn: () => void): void {
    if (this.activeSessions < this.opts.maxSessions) {
      this.activeSessions++;
      fn();
    } else {
      this.sessionWaiters.push(fn);
    }
  }

  private releaseSession(): void {
    const next = this.sessionWaiters.shift();
    if (next) next(); // the slot passes straight to the next waiter
    else this.activeSessions--;
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Names what failed, from ssh2's `level` and the socket's `code`. */
function connectError(opts: SshConnectionOptions, err: Error): SshConnectError {
  const level = (err as { level?: unknown }).level;
  const code = (err as NodeJS.ErrnoException).code;
  const target = opts.label;
  const make = (kind: ConstructorParameters<typeof SshConnectError>[1], detail: string): SshConnectError =>
    new SshConnectError(target, kind, detail, { cause: err });
  switch (level) {
    case 'client-authentication':
      return make('authentication', `authentication as ${JSON.stringify(opts.username)} failed: the server did not accept our key`);
    case 'client-timeout':
      return make('timeout', `no SSH handshake within ${opts.connectTimeoutMs} ms`);
    case 'client-dns':
      return make('unreachable', `cannot resolve host: ${err.message}`);
    case 'handshake':
      return make('handshake', `SSH handshake failed: ${err.message}`);
    case 'client-socket':
      switch (code) {
        case 'ECONNREFUSED':
          return make('refused', 'connection refused');
        case 'ETIMEDOUT':
          return make('timeout', 'TCP connect timed out');
        case 'EHOSTUNREACH':
        case 'ENETUNREACH':
        case 'ENOTFOUND':
        case 'EAI_AGAIN':
          return make('unreachable', `${code}: ${err.message}`);
        default:
          return make('closed', `socket error: ${err.message}`);
      }
    default:
      return make('closed', err.message);
  }
}
