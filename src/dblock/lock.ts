/**
 * The dispatch lock: PostgreSQL's session-level advisory lock 10005, the
 * single bigint key every Arvados dispatcher (cloud, Slurm, LSF) takes
 * before dispatching, so that only one of them dispatches at a time.
 *
 * Taking it: `pg_try_advisory_lock(10005)` on a connection of its own (the
 * lock belongs to the session), every `retryMs` until it succeeds; while
 * another session holds it, the holder's client address:port (from
 * pg_locks and pg_stat_activity) is logged once per holder.
 *
 * Holding it, as a lease: every `checkMs` the session asks the server
 * whether it still holds the lock. A check that fails, says no, or does not
 * answer within `checkTimeoutMs`, or the connection closing, loses the
 * lock: the epoch's fence closes at once. Independently of any check, the
 * fence refuses once `leaseMs` have passed since the last confirmation was
 * sent, so a hung connection or a stalled process stops acting on its own.
 * A newly taken lock lets its holder act only after `leaseMs + marginMs`:
 * an earlier holder that lost its session without knowing has stopped by
 * then, having had no confirmation since before that session ended.
 *
 *   waiting --(try_lock true)--> settling --(lease waited out)--> held
 *      ^                            |                               |
 *      +-------- lost <-------------+-------------------------------+
 *                (check failed / no answer / connection closed / lease ran out)
 *
 * Lease intervals are measured with a monotonic clock (`steadyNow`), so a
 * step of the wall clock cannot stretch them.
 */
import type pg from 'pg';
import { type Clock, steadyNow } from '../clock/index.js';
import { RateLimitedLog, type Logger } from '../log.js';
import { DispatchLockLostError, type Fence, type FencedAction } from './fence.js';

/** The key of the reference's `dblock.Dispatch`, shared by every Arvados dispatcher. */
export const DISPATCH_LOCK_KEY = 10005;

/** How often and how patiently the lock is taken and checked, in ms. */
export interface LockTiming {
  /** Between attempts to take it (another process holds it, or the database cannot be reached). */
  retryMs: number;
  /** Between checks while holding it. */
  checkMs: number;
  /** A connect, lock or check query with no answer after this long has failed. */
  checkTimeoutMs: number;
  /** Act only while the last confirmation was sent less than this long ago; > checkMs + checkTimeoutMs. */
  leaseMs: number;
  /** A new holder waits `leaseMs + marginMs` before acting: room for an action checked just before an earlier holder's lease ran out to land. */
  marginMs: number;
}

/**
 * Checks every second, each allowed 2 s, so confirmations are sent at most
 * 3 s apart in normal running; the lease (4 s) leaves a second of slack for
 * a busy event loop. A new holder waits 5.5 s: the lease plus 1.5 s for an
 * action that passed the fence at the last moment to reach its target.
 */
export const DEFAULT_LOCK_TIMING: LockTiming = { retryMs: 1000, checkMs: 1000, checkTimeoutMs: 2000, leaseMs: 4000, marginMs: 1500 };

/** Where the lock stands: `held` is the only state in which the dispatcher acts. */
export type LockState = 'waiting' | 'settling' | 'held' | 'lost' | 'released';

export interface LockStatus {
  state: LockState;
  /** Why, in words fit for a health check: who holds it, what failed. */
  detail: string;
  /** `address:port` of the session holding it, when another one does and we know. */
  holder?: string;
  /** How many times a held (or settling) lock was lost. */
  losses: number;
}

export interface DispatchLockOptions {
  /** A new, unconnected client for the cluster's database (one per session). */
  newClient: () => pg.Client;
  clock: Clock;
  logger: Logger;
  key?: number;
  timing?: Partial<LockTiming>;
  /** Called on every state change. */
  onChange?: (status: LockStatus) => void;
}

/** One tenure of the lock: from taking it to losing or releasing it. Its fence never reopens. */
export interface LockEpoch extends Fence {
  /** Resolves with the reason when this tenure ends (lost or released). */
  readonly ended: Promise<string>;
}

/** Node's codes for a server certificate that does not verify. */
const UNTRUSTED_CERTIFICATE = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** For a connection that failed over TLS: which Connection keywords decide it (the error alone names neither). */
function tlsHint(err: NodeJS.ErrnoException): string | undefined {
  if (UNTRUSTED_CERTIFICATE.has(err.code ?? '')) {
    return "the server's TLS certificate is not trusted: sslmode and sslrootcert in PostgreSQL.Connection say what is";
  }
  if (/does not support SSL/i.test(err.message)) {
    return 'sslmode asks for TLS (require when not set, as with the reference); sslmode: disable connects without it';
  }
  return undefined;
}

const CHECK_SQL = `SELECT count(*)::int AS held FROM pg_locks
  WHERE locktype = 'advisory' AND classid = 0 AND objid = $1 AND objsubid = 1 AND granted AND pid = pg_backend_pid()`;

const HOLDER_SQL = `SELECT host(a.client_addr) AS addr, a.client_port AS port, a.pid AS pid
  FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
  WHERE l.locktype = 'advisory' AND l.classid = 0 AND l.objid = $1 AND l.objsubid = 1 AND l.granted`;

class Epoch implements LockEpoch {
  endedReason: string | undefined;
  readonly ended: Promise<string>;
  readonly actFrom: number;
  private resolveEnded!: (reason: string) => void;

  constructor(
    private readonly lock: DispatchLock,
    readonly client: pg.Client,
    /** When the confirming query was sent: the lease runs from here. */
    public confirmedSentAt: number,
    acquiredAt: number,
  ) {
    this.actFrom = acquiredAt + lock.timing.leaseMs + lock.timing.marginMs;
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  check(action: FencedAction): void {
    const now = this.lock.now();
    if (this.endedReason !== undefined) throw new DispatchLockLostError(`not acting (${action.Action}): the dispatch lock is no longer held (${this.endedReason})`);
    if (now < this.actFrom) throw new DispatchLockLostError(`not acting (${action.Action}): waiting out an earlier holder's lease`);
    const age = now - this.confirmedSentAt;
    if (age >= this.lock.timing.leaseMs) {
      this.lock.lose(this, `not confirmed for ${Math.round(age)} ms`);
      throw new DispatchLockLostError(`not acting (${action.Action}): the dispatch lock was not confirmed for ${Math.round(age)} ms`);
    }
    this.lock.logger.info('dispatch action', action);
  }

  end(reason: string): void {
    if (this.endedReason !== undefined) return;
    this.endedReason = reason;
    this.resolveEnded(reason);
  }
}

export class DispatchLock {
  readonly timing: LockTiming;
  readonly key: number;
  readonly logger: Logger;
  /** Monotonic ms. */
  readonly now: () => number;
  private readonly clock: Clock;
  private readonly errorLog: RateLimitedLog;
  private status: LockStatus = { state: 'waiting', detail: 'not taken yet', losses: 0 };
  private epoch: Epoch | undefined;
  private waitingClient: pg.Client | undefined;
  private lastHolder = '';

  constructor(private readonly opts: DispatchLockOptions) {
    this.timing = { ...DEFAULT_LOCK_TIMING, ...opts.timing };
    this.key = opts.key ?? DISPATCH_LOCK_KEY;
    this.clock = opts.clock;
    this.logger = opts.logger.child({ ID: this.key });
    this.now = steadyNow(opts.clock);
    this.errorLog = new RateLimitedLog(this.logger, opts.clock, 60_000);
  }

  /** Where the lock stands now. */
  current(): LockStatus {
    return { ...this.status };
  }

  /**
   * Takes the lock and waits out the lease of any earlier holder; resolves
   * with the tenure whose fence lets actions through, or rejects when
   * `signal` aborts. Losing the lock while waiting starts over.
   */
  async acquire(signal: AbortSignal): Promise<LockEpoch> {
    for (;;) {
      const epoch = await this.take(signal);
      const waitMs = Math.max(0, epoch.actFrom - this.now());
      this.setStatus({ state: 'settling', detail: `taken; waiting ${Math.round(waitMs)} ms for any earlier holder's lease to run out` });
      this.logger.info('acquired the dispatch lock; waiting out any earlier holder before dispatching', { WaitMs: Math.round(waitMs) });
      let settled = true;
      // Timers may fire a little early by the monotonic clock: sleep until it agrees.
      for (let left = waitMs; settled && left > 0; left = epoch.actFrom - this.now()) {
        settled = await Promise.race([this.clock.sleep(Math.ceil(left), signal).then(() => true), epoch.ended.then(() => false)]);
      }
      if (settled && epoch.endedReason === undefined) {
        this.setStatus({ state: 'held', detail: 'held' });
        this.logger.info('holding the dispatch lock: dispatching');
        return epoch;
      }
    }
  }

  /** Ends the current tenure (closing its fence first), unlocks, and closes the lock's connections. */
  async release(): Promise<void> {
    this.dropWaitingClient();
    const e = this.epoch;
    this.epoch = undefined;
    if (e && e.endedReason === undefined) {
      e.end('released');
      try {
        await this.timed(e.client.query('SELECT pg_advisory_unlock($1::bigint)', [this.key]), 'pg_advisory_unlock');
        this.logger.info('released the dispatch lock');
      } catch (err) {
        this.logger.warn('could not release the dispatch lock; closing its session instead, which releases it', { error: err });
      }
      await this.close(e.client);
    }
    this.setStatus({ state: 'released', detail: 'released' });
  }

  /** Ends `epoch` because the lock can no longer be trusted: its fence closes now. */
  lose(epoch: Epoch, reason: string): void {
    if (epoch.endedReason !== undefined) return;
    epoch.end(reason);
    if (this.epoch === epoch) this.epoch = undefined;
    void this.close(epoch.client);
    this.setStatus({ state: 'lost', detail: `lost: ${reason}; taking it again`, losses: this.status.losses + 1 });
    this.logger.warn('lost the dispatch lock: every dispatch action stops until it is taken again', { Reason: reason });
  }

  /** Tries until the lock is ours; starts its checks. */
  private async take(signal: AbortSignal): Promise<Epoch> {
    for (;;) {
      signal.throwIfAborted();
      try {
        const client = await this.connected();
        const sentAt = this.now();
        const r = await this.timed(client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [this.key]), 'pg_try_advisory_lock');
        if (r.rows[0]?.locked === true) {
          this.waitingClient = undefined;
          return this.hold(client, sentAt);
        }
        await this.noteHolder(client);
      } catch (err) {
        this.dropWaitingClient();
        if (signal.aborted) throw signal.reason;
        const hint = tlsHint(err as NodeJS.ErrnoException);
        this.setStatus({ state: 'waiting', detail: `cannot reach the database: ${(err as Error).message}${hint ? ` (${hint})` : ''}` });
        this.errorLog.warn('cannot take the dispatch lock: the database cannot be reached; will retry', { error: err, ...(hint ? { Hint: hint } : {}) }, 'unreachable');
      }
      await this.clock.sleep(this.timing.retryMs, signal);
    }
  }

  private hold(client: pg.Client, sentAt: number): Epoch {
    client.removeAllListeners('error');
    const epoch = new Epoch(this, client, sentAt, this.now());
    this.epoch = epoch;
    this.lastHolder = '';
    client.on('error', (err: Error) => this.lose(epoch, `connection error: ${err.message}`));
    client.on('end', () => this.lose(epoch, 'connection closed'));
    void this.watch(epoch);
    return epoch;
  }

  /** The checks of one tenure, until it ends. */
  private async watch(epoch: Epoch): Promise<void> {
    while (epoch.endedReason === undefined) {
      await this.clock.sleep(this.timing.checkMs);
      if (epoch.endedReason !== undefined) return;
      const sentAt = this.now();
      try {
        const r = await this.timed(epoch.client.query<{ held: number }>(CHECK_SQL, [this.key]), 'the lock check');
        if (epoch.endedReason !== undefined) return;
        if (r.rows[0]?.held !== 1) {
          this.lose(epoch, 'the database says this session no longer holds it');
          return;
        }
        epoch.confirmedSentAt = sentAt;
        this.logger.debug('dispatch lock confirmed');
      } catch (err) {
        this.lose(epoch, `check failed: ${(err as Error).message}`);
        return;
      }
    }
  }

  /** Logs who holds the lock, once per holder, as the reference does. */
  private async noteHolder(client: pg.Client): Promise<void> {
    const r = await this.timed(client.query<{ addr: string | null; port: number | null; pid: number }>(HOLDER_SQL, [this.key]), 'the holder query');
    const row = r.rows[0];
    if (!row) return;
    const holder = row.addr ? `${row.addr.includes(':') ? `[${row.addr}]` : row.addr}:${row.port}` : `local socket (server pid ${row.pid})`;
    this.setStatus({ state: 'waiting', detail: `another process holds it (${holder})`, holder });
    if (holder === this.lastHolder) return;
    this.lastHolder = holder;
    this.logger.info('waiting for other process to release lock', { DBClient: holder });
  }

  /** The connection used while waiting: kept between attempts, replaced after a failure. */
  private async connected(): Promise<pg.Client> {
    if (this.waitingClient) return this.waitingClient;
    const client = this.opts.newClient();
    client.on('error', () => {
      if (this.waitingClient === client) this.dropWaitingClient();
    });
    this.waitingClient = client;
    await this.timed(client.connect(), 'connecting');
    return client;
  }

  private dropWaitingClient(): void {
    const c = this.waitingClient;
    this.waitingClient = undefined;
    if (c) void this.close(c);
  }

  /** Ends a session, without waiting long for a server that does not answer. */
  private async close(client: pg.Client): Promise<void> {
    try {
      await this.timed(client.end(), 'closing');
    } catch {
      // A connection that does not close politely is cut.
      (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    }
  }

  /** `p`, or a rejection after checkTimeoutMs. */
  private timed<T>(p: Promise<T>, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimer(this.timing.checkTimeoutMs, () => reject(new Error(`${what} got no answer within ${this.timing.checkTimeoutMs} ms`)));
      p.then(
        (v) => {
          timer.cancel();
          resolve(v);
        },
        (err: unknown) => {
          timer.cancel();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  private setStatus(change: Partial<LockStatus> & Pick<LockStatus, 'state' | 'detail'>): void {
    this.status = { ...this.status, holder: undefined, ...change };
    this.opts.onChange?.(this.current());
  }
}
