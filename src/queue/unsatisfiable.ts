/**
 * Cancelling containers no configured instance type can run, as the
 * reference does (container/queue.go `cancelUnsatisfiableContainer`): lock
 * it if it is Queued (the controller takes runtime_status only from the lock
 * holder), set `runtime_status.error` to the reason (e.g. "constraints not
 * satisfiable by any configured instance type"), then cancel it.
 *
 * The reference starts over on every poll for as long as the container
 * stays queued: giving up would leave a workflow waiting forever on a child
 * that can never run. Here too it keeps trying, but backs off after each
 * failure (first retry after `firstRetryMs`, doubling up to `maxRetryMs`), so
 * a controller that keeps refusing does not get three requests per poll for
 * every such container. The warning that starts it is logged once per
 * container; failures are logged rate-limited.
 *
 * A container stays here (not in the queue's entries) until it is cancelled,
 * or until it is no longer ours to cancel: Queued with priority 0, locked by
 * someone else, or final.
 */
import type { ContainerPatch, ControllerClient } from '../arvados/client.js';
import type { Container } from '../arvados/types.js';
import type { Clock } from '../clock/index.js';
import { RateLimitedLog, type Logger } from '../log.js';
import { lockCountOf } from './validate.js';

/** Wait before the second attempt; it doubles after each failure. */
export const UNSATISFIABLE_FIRST_RETRY_MS = 10_000;
/** The wait between attempts never exceeds this. */
export const UNSATISFIABLE_MAX_RETRY_MS = 5 * 60_000;

export interface UnsatisfiableOptions {
  client: Pick<ControllerClient, 'lockContainer' | 'updateContainer' | 'getContainer'>;
  logger: Logger;
  clock: Clock;
  /** Runs `fn` as the one operation on the container (rejects if another is in flight). */
  runExclusive: (uuid: string, name: string, fn: () => Promise<void>) => Promise<void>;
  /** Hands the controller's answer to the queue (marks the container changed for the poll in flight); `locked` for a lock's. */
  applyReply: (uuid: string, reply: ContainerPatch | Container, locked?: boolean) => void;
  firstRetryMs?: number;
  maxRetryMs?: number;
}

interface Attempt {
  container: Container;
  reason: string;
  /** Failed attempts so far. */
  failures: number;
  /** Epoch ms: no attempt before this. */
  nextAt: number;
  busy: boolean;
}

export class UnsatisfiableCanceller {
  private readonly records = new Map<string, Attempt>();
  private readonly failureLog: RateLimitedLog;

  constructor(private readonly opts: UnsatisfiableOptions) {
    this.failureLog = new RateLimitedLog(opts.logger, opts.clock, 60_000);
  }

  /**
   * Called when a container (Queued, or Locked by us) turns out to have no
   * instance type, or mounts that cannot be read: tries at once. `warned`:
   * the caller has already logged why (mounts: 'error getting mounts', the
   * reference's only line then), so the no-suitable-type warning, which
   * would send the operator to the instance types, is not logged.
   */
  handle(ctr: Container, reason: string, warned = false): void {
    if (this.records.has(ctr.uuid)) return;
    if (!warned) this.opts.logger.warn('cancel container with no suitable instance type', { ContainerUUID: ctr.uuid, error: reason });
    const rec: Attempt = { container: ctr, reason, failures: 0, nextAt: this.opts.clock.now(), busy: false };
    this.records.set(ctr.uuid, rec);
    this.attempt(rec);
  }

  has(uuid: string): boolean {
    return this.records.has(uuid);
  }

  /** A container being cancelled, as last known. */
  get(uuid: string): Container | undefined {
    return this.records.get(uuid)?.container;
  }

  /** The containers being cancelled, as last known: the queue's poll keeps them fresh. */
  *containers(): Iterable<[string, Container]> {
    for (const [uuid, rec] of this.records) yield [uuid, rec.container];
  }

  /**
   * A newer record of the container. `stillOurs` false (final, priority 0,
   * locked by someone else) ends the effort, unless an attempt is in flight.
   */
  refresh(uuid: string, update: Partial<Container>, stillOurs: boolean): void {
    const rec = this.records.get(uuid);
    if (!rec) return;
    rec.container = { ...rec.container, ...update };
    if (!stillOurs && !rec.busy) this.records.delete(uuid);
  }

  /** Stops trying (the controller no longer has the container). */
  forget(uuid: string): void {
    this.records.delete(uuid);
  }

  /** Tries again for every container whose back-off has expired; called after each poll. */
  retryDue(): void {
    const now = this.opts.clock.now();
    for (const rec of this.records.values()) if (!rec.busy && rec.nextAt <= now) this.attempt(rec);
  }

  /** Containers being handled; for tests and the status page. */
  pending(): string[] {
    return [...this.records.keys()];
  }

  private attempt(rec: Attempt): void {
    rec.busy = true;
    void this.cancel(rec).then((done) => {
      rec.busy = false;
      if (done) {
        this.records.delete(rec.container.uuid);
        return;
      }
      rec.failures++;
      const first = this.opts.firstRetryMs ?? UNSATISFIABLE_FIRST_RETRY_MS;
      const max = this.opts.maxRetryMs ?? UNSATISFIABLE_MAX_RETRY_MS;
      rec.nextAt = this.opts.clock.now() + Math.min(max, first * 2 ** Math.min(rec.failures - 1, 30));
    });
  }

  /** One attempt; true when the container is cancelled (by us or by someone else). */
  private async cancel(rec: Attempt): Promise<boolean> {
    const { client } = this.opts;
    const uuid = rec.container.uuid;
    const failed = (msg: string, err: unknown): false => {
      this.failureLog.warn(msg, { ContainerUUID: uuid, error: (err as Error).message, Attempts: rec.failures + 1 });
      return false;
    };
    let locking = false;
    try {
      await this.opts.runExclusive(uuid, 'cancel (no suitable instance type)', async () => {
        if (rec.container.state === 'Queued') {
          locking = true;
          const locked = await client.lockContainer(uuid);
          locking = false;
          this.opts.applyReply(uuid, locked, true);
          rec.container = { ...rec.container, state: locked.state, locked_by_uuid: locked.locked_by_uuid };
          const locks = lockCountOf(locked.lock_count);
          if (locks !== undefined) rec.container.lock_count = locks;
        }
        await client.updateContainer(uuid, { runtime_status: { error: rec.reason } });
        this.opts.applyReply(uuid, await client.updateContainer(uuid, { state: 'Cancelled' }));
      });
    } catch (err) {
      // Tried again after the back-off, if it is still queued then.
      if (locking) return failed('lock failed', err);
      // Losing a race (a user cancelled it first) is not worth a warning.
      const latest = await client.getContainer(uuid, ['state']).catch(() => undefined);
      if (latest?.state === 'Cancelled') return true;
      return failed('error while trying to cancel unsatisfiable container', err);
    }
    this.opts.logger.info('cancelled container with no suitable instance type', { ContainerUUID: uuid, Reason: rec.reason });
    return true;
  }
}
