/**
 * The ssh2 implementation of `Executor`: one SSH connection per VM, made on
 * demand, shared by concurrent commands, re-made when it drops, and trusted
 * only after the VM's host key has been verified through the instance.
 *
 * Connection states, per executor:
 *
 * | state        | execute() does                                   | leaves when                                   |
 * | ------------ | ------------------------------------------------ | --------------------------------------------- |
 * | none         | starts connecting                                | -> connecting                                 |
 * | connecting   | waits                                            | auth ok -> verifying; failure -> none (reject) |
 * | verifying    | waits (only the verifier's executor runs)        | key trusted -> ready; refused or not yet verifiable -> none (reject) |
 * |              |                                                  | a waiting caller's timeout -> none (that caller: CommandTimeoutError; the others: SshConnectionLostError) |
 * | ready        | runs the command (at most maxSessions at once)   | drop/close/setTarget -> none                  |
 */
import ssh2 from 'ssh2';
import { type Clock, systemClock } from '../clock/index.js';
import { type Logger, RateLimitedLog, silentLogger } from '../log.js';
import { SshConnection } from './connection.js';
import { CommandTimeoutError, HostKeyCheckPendingError, HostKeyRefusedError, HostKeyUnverifiedError, SshConnectError, SshConnectionLostError } from './errors.js';
import type { ExecuteOptions, ExecuteResult, Executor } from './executor.js';
import { fingerprint, formatTarget, parseTarget, sameKey, type SshTarget, withEnvPrefix } from './util.js';

export {
  CommandOutputTooLargeError,
  CommandTimeoutError,
  HostKeyCheckPendingError,
  HostKeyRefusedError,
  HostKeyUnverifiedError,
  SshConnectError,
  SshConnectionLostError,
  SshSessionError,
  type SshConnectFailure,
} from './errors.js';

export interface SshExecutorOptions {
  /** `host`, `host:port`, `[v6]:port`; may be empty until the VM has an address (see `setTarget`). */
  target: string;
  /** Used when `target` has no port. Default 22. */
  defaultPort?: number;
  username: string;
  /** The dispatcher's private key, OpenSSH format (or PEM for RSA/ECDSA). */
  privateKey: string | Buffer;
  /**
   * Decides whether to trust a host key. Called after the SSH handshake with
   * the key the server presented and an Executor that runs commands over this
   * not-yet-trusted connection (the InstanceSecret check reads a file through
   * it). Throw to refuse; throw HostKeyCheckPendingError when the VM cannot
   * prove itself yet (still booting), which is logged at debug only and is
   * no refusal. Called again only when the key differs from the last one it
   * accepted.
   */
  verifyHostKey: (key: Buffer, untrusted: Executor) => Promise<void>;
  /** Handshake plus authentication deadline (ssh2's readyTimeout). Default 60 000. */
  connectTimeoutMs?: number;
  /**
   * Default per-command timeout; 0 = none. `ExecuteOptions.timeoutMs`
   * overrides it per call. Counted from when the connection is up and
   * trusted, so it includes any wait for a free session. The wait for the
   * connection and its host key check is bounded by it too, separately (a
   * call can take up to twice it); connecting alone also by connectTimeoutMs.
   * It is also what the verifier's commands get unless they say otherwise.
   */
  commandTimeoutMs?: number;
  /**
   * Commands running at once over the connection; more wait their turn.
   * Default 8: OpenSSH's sshd refuses a connection's 11th session
   * (MaxSessions 10), and the verifier's commands share the connection.
   */
  maxSessions?: number;
  /** SSH keepalive: a dead peer is noticed after about interval x (countMax + 1). Default 10 000 ms. */
  keepaliveIntervalMs?: number;
  /** Default 3. */
  keepaliveCountMax?: number;
  /** Time source for command timeouts. Default the system clock. */
  clock?: Clock;
  logger?: Logger;
  /**
   * Where `SSH host key refused` warnings go. The dispatcher shares one
   * among all its VMs' executors, so a fleet refusing for one reason logs
   * about one line a minute. Default: one per executor, over `logger`.
   */
  warnings?: Pick<RateLimitedLog, 'warn'>;
}

/**
 * Runs commands on one VM over SSH. Concurrent `execute` calls share one
 * connection (N calls while disconnected cause one connect). A command whose
 * connection died before it reached the server is retried once on a new
 * connection; one that may have run is not (it could be `crunch-run
 * --detach`), and rejects with SshConnectionLostError.
 */
export class SshExecutor implements Executor {
  private target: SshTarget | Error;
  private targetText: string;
  private current: Current | undefined;
  /** The last host key the verifier accepted: reconnects presenting it skip verification. */
  private trustedKey: Buffer | undefined;
  /** When the first connection logged in (before its host key was verified); see `Executor.firstLoginAt`. */
  private loggedInAt: number | undefined;
  private readonly opts: Required<Omit<SshExecutorOptions, 'logger' | 'clock' | 'target' | 'warnings'>>;
  private readonly clock: Clock;
  private readonly log: Logger;
  private readonly warnings: Pick<RateLimitedLog, 'warn'>;

  constructor(opts: SshExecutorOptions) {
    this.opts = {
      defaultPort: opts.defaultPort ?? 22,
      username: opts.username,
      privateKey: opts.privateKey,
      verifyHostKey: opts.verifyHostKey,
      connectTimeoutMs: opts.connectTimeoutMs ?? 60_000,
      commandTimeoutMs: opts.commandTimeoutMs ?? 0,
      maxSessions: Math.max(1, opts.maxSessions ?? 8),
      keepaliveIntervalMs: opts.keepaliveIntervalMs ?? 10_000,
      keepaliveCountMax: opts.keepaliveCountMax ?? 3,
    };
    // Fail at construction, with a clear message, rather than at every connect.
    const parsed = ssh2.utils.parseKey(opts.privateKey);
    if (parsed instanceof Error) throw new Error(`cannot parse the SSH private key: ${parsed.message}`);
    if (!parsed.isPrivateKey()) throw new Error('the SSH private key given is a public key');
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLogger();
    this.warnings = opts.warnings ?? new RateLimitedLog(this.log, this.clock);
    this.targetText = opts.target;
    this.target = this.parse(opts.target);
  }

  async execute(command: string, options: ExecuteOptions = {}): Promise<ExecuteResult> {
    const line = withEnvPrefix(command, options.env);
    const stdin = toBuffer(options.stdin);
    const timeoutMs = options.timeoutMs ?? this.opts.commandTimeoutMs;
    // Env values carry tokens: log their names only, never stdin.
    this.log.debug('SSH execute', { Address: this.label(), Command: command, EnvKeys: Object.keys(options.env ?? {}) });
    for (let attempt = 0; ; attempt++) {
      const cur = this.connection();
      const { conn } = cur;
      try {
        await this.untilTrusted(cur, command, timeoutMs);
        return await conn.run(line, command, stdin, timeoutMs);
      } catch (err) {
        // The connection went away on its own (idle, then the VM rebooted or
        // the network dropped it; or during host key verification) before
        // the command reached the server: one retry on a fresh connection is
        // safe and spares the caller a spurious failure. Not after close()
        // or setTarget(): the dispatcher meant it.
        if (attempt === 0 && err instanceof SshConnectionLostError && !err.started && !conn.closedLocally) continue;
        throw err;
      }
    }
  }

  setTarget(address: string): void {
    const next = this.parse(address);
    const prev = this.target;
    this.targetText = address;
    this.target = next;
    const same = !(prev instanceof Error) && !(next instanceof Error) && prev.host === next.host && prev.port === next.port;
    if (same) return;
    this.dropConnection(`was closed: the target changed to ${address}`);
  }

  close(): void {
    this.dropConnection('was closed by the dispatcher');
  }

  firstLoginAt(): number | undefined {
    return this.loggedInAt;
  }

  private dropConnection(detail: string): void {
    const cur = this.current;
    this.current = undefined;
    if (!cur) return;
    cur.conn.close(new SshConnectionLostError(cur.conn.label, detail, true));
  }

  private parse(address: string): SshTarget | Error {
    try {
      return parseTarget(address, this.opts.defaultPort);
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  private label(): string {
    return this.target instanceof Error ? this.targetText || '(no address)' : formatTarget(this.target);
  }

  /**
   * Waits for `cur` to be up and trusted, at most `timeoutMs` (0: no limit).
   * The host key check runs commands on a host not trusted yet, which may
   * never answer them, and a caller's timeout must hold all the same. On
   * expiry the connection is closed, so the next call starts afresh (a new
   * connection, a new check); other callers waiting on it get
   * SshConnectionLostError (not started).
   */
  private untilTrusted(cur: Current, command: string, timeoutMs: number): Promise<SshConnection> {
    if (timeoutMs <= 0 || cur.trusted) return cur.ready;
    return new Promise<SshConnection>((resolve, reject) => {
      let done = false;
      const timer = this.clock.setTimer(timeoutMs, () => {
        if (done) return;
        done = true;
        const { label } = cur.conn;
        this.log.debug('SSH connection not up and trusted in time; closing it', { Address: label, Command: command, TimeoutMs: timeoutMs });
        cur.conn.close(new SshConnectionLostError(label, `was closed: not up and trusted within ${timeoutMs} ms`, false));
        reject(new CommandTimeoutError(label, command, timeoutMs, 'connecting'));
      });
      const finish = (fn: () => void): void => {
        if (done) return;
        done = true;
        timer.cancel();
        fn();
      };
      cur.ready.then(
        (conn) => finish(() => resolve(conn)),
        (err: unknown) => finish(() => reject(err as Error)),
      );
    });
  }

  /**
   * The shared connection and the promise of it being verified; makes one if
   * there is none (or it died). Throws SshConnectError without an address.
   */
  private connection(): Current {
    if (this.current && !this.current.conn.isClosed) return this.current;
    const target = this.target;
    if (target instanceof Error) {
      throw new SshConnectError(this.label(), 'no-address', target.message);
    }
    const label = formatTarget(target);
    const conn = new SshConnection({
      target,
      label,
      username: this.opts.username,
      privateKey: this.opts.privateKey,
      connectTimeoutMs: this.opts.connectTimeoutMs,
      keepaliveIntervalMs: this.opts.keepaliveIntervalMs,
      keepaliveCountMax: this.opts.keepaliveCountMax,
      maxSessions: this.opts.maxSessions,
      clock: this.clock,
      logger: this.log,
    });
    const cur: Current = {
      conn,
      ready: conn.ready.then(async () => {
        // Logged in: SSH works, whatever the host key check says next.
        this.loggedInAt ??= this.clock.now();
        await this.trust(conn, label);
        cur.trusted = true;
        return conn;
      }),
      trusted: false,
    };
    cur.ready.catch(() => undefined); // every caller awaits it; this only silences the bookkeeping copy
    this.current = cur;
    return cur;
  }

  /**
   * Runs host key verification when the presented key is not the one last
   * trusted. Callers wait on it (they await `ready`); only the verifier's
   * own executor runs commands meanwhile.
   */
  private async trust(conn: SshConnection, label: string): Promise<SshConnection> {
    const key = conn.presentedKey;
    if (!key) {
      // ssh2 always calls hostVerifier before 'ready'; this guards a future change.
      const err = new SshConnectError(label, 'handshake', 'the server presented no host key');
      conn.close(err);
      throw err;
    }
    if (this.trustedKey && sameKey(key, this.trustedKey)) return conn;
    const fp = fingerprint(key);
    const untrusted = new UntrustedExecutor(conn, label, this.opts.commandTimeoutMs);
    try {
      await this.opts.verifyHostKey(key, untrusted);
    } catch (cause) {
      if (conn.isClosed) {
        // The verifier failed because its connection went away (a drop,
        // setTarget, close): that says nothing about the key.
        throw new SshConnectionLostError(label, 'was lost during host key verification', false, { cause });
      }
      if (cause instanceof HostKeyCheckPendingError) {
        // The VM is still booting (its init script has not written the
        // instance secret): expected, so debug; the next connection asks again.
        const err = new HostKeyUnverifiedError(label, fp, cause);
        this.log.debug('SSH host key not verified yet', { Address: label, Fingerprint: fp, error: cause });
        conn.close(err);
        throw err;
      }
      const err = new HostKeyRefusedError(label, fp, cause);
      // Every refusal at debug; at most one warning a minute per key (kind).
      this.log.debug('SSH host key refused', { Address: label, Fingerprint: fp, error: cause });
      this.warnings.warn('SSH host key refused', { Address: label, Fingerprint: fp, error: cause }, 'SSH host key refused');
      conn.close(err);
      throw err;
    } finally {
      untrusted.revoke();
    }
    // Proven through this connection: remember it even if the connection
    // dropped meanwhile, so the reconnect does not verify again.
    this.trustedKey = key;
    this.log.info('SSH host key verified', { Address: label, Fingerprint: fp });
    if (conn.isClosed) throw new SshConnectionLostError(label, 'was lost during host key verification', false);
    return conn;
  }
}

/** The shared connection, the promise of it being up and trusted, and whether it is. */
interface Current {
  conn: SshConnection;
  ready: Promise<SshConnection>;
  trusted: boolean;
}

/**
 * The Executor handed to the verifier: runs commands over the connection
 * being verified, before it is trusted, and stops working once verification
 * is over (a verifier must not keep a back door to an unverified host).
 * `setTarget` and `close` are no-ops: the connection belongs to the
 * SshExecutor, and a verifier that wants out throws.
 */
class UntrustedExecutor implements Executor {
  private revoked = false;

  constructor(
    private readonly conn: SshConnection,
    private readonly label: string,
    private readonly defaultTimeoutMs: number,
  ) {}

  execute(command: string, options: ExecuteOptions = {}): Promise<ExecuteResult> {
    if (this.revoked) return Promise.reject(new Error(`host key verification for ${this.label} is over; this executor no longer runs commands`));
    let line: string;
    try {
      line = withEnvPrefix(command, options.env);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.conn.run(line, command, toBuffer(options.stdin), options.timeoutMs ?? this.defaultTimeoutMs);
  }

  setTarget(): void {}

  close(): void {}

  revoke(): void {
    this.revoked = true;
  }
}

function toBuffer(stdin: string | Buffer | undefined): Buffer | undefined {
  if (stdin === undefined) return undefined;
  return typeof stdin === 'string' ? Buffer.from(stdin, 'utf8') : stdin;
}
