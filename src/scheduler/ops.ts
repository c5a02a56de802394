/**
 * At most one controller operation (lock, unlock, cancel) or kill per
 * container at a time. A scheduling pass that wants to act on a container
 * whose previous operation is still in flight skips it; once that
 * operation clears, `onRetry` asks for another pass soon, so the skipped
 * action is reconsidered against fresh state instead of being queued
 * blindly. This keeps the controller from getting concurrent updates for
 * one container however often the loop runs.
 */
import type { Logger } from '../log.js';

export type OpName = 'lock' | 'unlock' | 'cancel' | 'kill';

export class UUIDOps {
  private readonly inFlight = new Map<string, OpName>();
  /** Uuids some pass wanted to act on while an operation was in flight. */
  private readonly contended = new Set<string>();

  constructor(
    private readonly logger: Logger,
    /** Called when an operation clears that another one waited for. */
    private readonly onRetry: () => void,
  ) {}

  busy(uuid: string): OpName | undefined {
    return this.inFlight.get(uuid);
  }

  size(): number {
    return this.inFlight.size;
  }

  /**
   * Runs a synchronous action under the container's slot; false (and a
   * retry later) if another operation holds it.
   */
  runSync(uuid: string, op: OpName, fn: () => void): boolean {
    if (!this.acquire(uuid, op)) return false;
    try {
      fn();
    } finally {
      this.release(uuid);
    }
    return true;
  }

  /**
   * Starts an asynchronous operation under the container's slot. Returns
   * its promise, which never rejects (`fn` reports its own errors; anything
   * it lets escape is logged here), or undefined if the slot is taken.
   */
  run(uuid: string, op: OpName, fn: () => Promise<void>): Promise<void> | undefined {
    if (!this.acquire(uuid, op)) return undefined;
    let p: Promise<void>;
    try {
      p = fn();
    } catch (err) {
      p = Promise.reject(err);
    }
    return p
      .catch((err: unknown) => {
        this.logger.warn(`${op} failed`, { ContainerUUID: uuid, error: err });
      })
      .finally(() => this.release(uuid));
  }

  private acquire(uuid: string, op: OpName): boolean {
    const current = this.inFlight.get(uuid);
    if (current !== undefined) {
      this.logger.debug('container busy, will retry', { ContainerUUID: uuid, Op: op, InFlight: current });
      this.contended.add(uuid);
      return false;
    }
    this.inFlight.set(uuid, op);
    return true;
  }

  private release(uuid: string): void {
    this.inFlight.delete(uuid);
    if (this.contended.delete(uuid)) this.onRetry();
  }
}
