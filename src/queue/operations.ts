/**
 * The queue's writes to the controller: the lock, unlock and cancel the
 * scheduler asks for, at most one per container at a time (`exclusive.ts`),
 * each answer merged into the container's entry at once so the scheduler
 * does not wait for the next poll to see it. An answer newer than a read in
 * flight marks the container for that read (`reads.ts`); a refusal, or an
 * answer that is no well-formed record of the container, makes the next
 * poll ask about it by uuid.
 */
import { type ContainerPatch, REPLY_FIELDS } from '../arvados/client.js';
import { isControllerRefusal } from '../arvados/errors.js';
import type { Container } from '../arvados/types.js';
import type { Logger } from '../log.js';
import type { QueueEntry } from '../scheduler/interfaces.js';
import type { EntryMap } from './entry-map.js';
import { ExclusiveOperations } from './exclusive.js';
import type { QueueClient } from './options.js';
import type { ReadsInFlight } from './reads.js';
import { type BadRecordLog, listedFields, replyProblem } from './validate.js';

export interface ContainerOperationsOptions {
  client: Pick<QueueClient, 'getContainer' | 'lockContainer' | 'unlockContainer' | 'updateContainer'>;
  logger: Logger;
  badRecords: BadRecordLog;
  /** The queue's reads in flight: an answer merged here is newer than theirs. */
  reads: ReadsInFlight;
  /** The queue's entries, which answers are merged into. */
  entries: EntryMap;
  /** Replaces an entry (the queue's own `put`, so the timeline sees the change). */
  put: (uuid: string, entry: QueueEntry) => void;
  /** Has the next poll ask about the container by uuid. */
  suspect: (uuid: string) => void;
  /** Tells the queue's subscribers that the entries changed. */
  notify: () => void;
}

export class ContainerOperations {
  private readonly ops = new ExclusiveOperations();

  constructor(private readonly opts: ContainerOperationsOptions) {}

  lock(uuid: string): Promise<void> {
    return this.run(uuid, 'lock', async () => {
      this.applyReply(uuid, await this.refusalChecks(uuid, this.opts.client.lockContainer(uuid)), true);
    });
  }

  unlock(uuid: string): Promise<void> {
    return this.run(uuid, 'unlock', async () => {
      this.applyReply(uuid, await this.refusalChecks(uuid, this.opts.client.unlockContainer(uuid)));
    });
  }

  /**
   * Cancels: sets only `state`, as the reference's scheduler does. A
   * container's runtime_status is crunch-run's (its errors and warnings
   * for the user) and must not be replaced; `reason` goes to the log.
   *
   * Looks first: Arvados lets an admin cancel a Complete container, and
   * the dispatcher's token is an admin's, so a cancel decided on the last
   * poll's view of a container that has completed since (its VM gone
   * before the next poll) would destroy its result. One read per cancel
   * narrows that to the read's round trip.
   */
  cancel(uuid: string, reason?: string): Promise<void> {
    const { client, logger } = this.opts;
    return this.run(uuid, 'cancel', async () => {
      const latest = await client.getContainer(uuid, [...REPLY_FIELDS]);
      // Merged first: an answer that is no well-formed record of this
      // container cannot say whether it has ended, so applyReply reports it
      // (naming the field) and throws, and nothing is cancelled on it.
      this.applyReply(uuid, latest);
      if (latest.state === 'Complete' || latest.state === 'Cancelled') {
        logger.info('not cancelling container: it has ended', { ContainerUUID: uuid, State: latest.state, ...(reason === undefined ? {} : { Reason: reason }) });
        return;
      }
      this.applyReply(uuid, await client.updateContainer(uuid, { state: 'Cancelled' }));
      logger.info('cancelled container', { ContainerUUID: uuid, ...(reason === undefined ? {} : { Reason: reason }) });
    });
  }

  /** Locks, unlocks and cancels in flight (the queue's own included). */
  get inFlight(): number {
    return this.ops.size;
  }

  /** Runs `fn` as the one operation on `uuid`; rejects at once if another is in flight. */
  run<T>(uuid: string, name: string, fn: () => Promise<T>): Promise<T> {
    return this.ops.run(uuid, name, fn);
  }

  /**
   * Merges the answer of a lock, unlock or cancel into the entry (those
   * answers may carry only a few attributes). An answer that is not a
   * well-formed record of this container is not merged: the call fails, and
   * the next poll asks about the container by uuid. `locked`: the answer is
   * to a lock that succeeded.
   */
  applyReply(uuid: string, reply: ContainerPatch | Container, locked = false): void {
    const problem = replyProblem(reply, uuid);
    if (problem) {
      this.opts.badRecords.report('reply', problem, uuid);
      this.opts.suspect(uuid);
      throw new Error(`the controller's answer about ${uuid} is not usable: ${problem.field} ${problem.problem}`);
    }
    this.opts.badRecords.lockCount('reply', reply);
    this.opts.reads.touch(uuid);
    const cur = this.opts.entries.get(uuid);
    // Not tracked (e.g. an unsatisfiable container being cancelled): nothing to merge into.
    if (!cur) return;
    // Only what a lock, unlock or cancel changes (priority when the answer has it).
    const moved = listedFields({ ...reply, priority: reply.priority ?? cur.container.priority });
    // An old controller ignores select and leaves lock_count out: the lock added one to what we knew.
    if (locked && moved.lock_count === undefined && cur.container.lock_count !== undefined) moved.lock_count = cur.container.lock_count + 1;
    this.opts.put(uuid, { ...cur, container: { ...cur.container, ...moved } });
    this.opts.notify();
  }

  /**
   * A lock or unlock the controller refused means the queue's record is
   * stale (cancelled, or taken by someone else, since the poll that read
   * it): the next poll asks about it by uuid.
   */
  private async refusalChecks<T>(uuid: string, call: Promise<T>): Promise<T> {
    try {
      return await call;
    } catch (err) {
      if (isControllerRefusal(err)) this.opts.suspect(uuid);
      throw err;
    }
  }
}
