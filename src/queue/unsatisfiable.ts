/**
 * Cancelling containers no configured instance type can run, as the
 * reference does (container/queue.go `addEnt`): lock it if it is Queued
 * (the controller takes runtime_status only from the lock holder), set
 * `runtime_status.error` to the reason (e.g. "constraints not satisfiable by
 * any configured instance type"), then cancel it.
 *
 * Unlike the reference, which starts over on every poll for as long as the
 * container stays queued, this tries on at most `maxAttempts` polls and then
 * gives up with one error line: a controller that keeps refusing would
 * otherwise get three requests per poll forever. The warning that starts it
 * is logged once per container.
 */
import type { ContainerPatch, ControllerClient } from '../arvados/client.js';
import type { Container } from '../arvados/types.js';
import type { Logger } from '../log.js';

export interface UnsatisfiableOptions {
  client: Pick<ControllerClient, 'lockContainer' | 'updateContainer' | 'getContainer'>;
  logger: Logger;
  maxAttempts: number;
  /** Runs `fn` as the one operation on the container (rejects if another is in flight). */
  runExclusive: (uuid: string, name: string, fn: () => Promise<void>) => Promise<void>;
  /** Hands the controller's answer to the queue (marks the container changed for the poll in flight). */
  applyReply: (uuid: string, reply: ContainerPatch | Container) => void;
}

interface Attempt {
  attempts: number;
  busy: boolean;
  gaveUp: boolean;
}

export class UnsatisfiableCanceller {
  private readonly records = new Map<string, Attempt>();

  constructor(private readonly opts: UnsatisfiableOptions) {}

  /** Called when a poll first shows the container (Queued or Locked) and no type fits it. */
  handle(ctr: Container, err: Error): void {
    const log = this.opts.logger.child({ ContainerUUID: ctr.uuid });
    let rec = this.records.get(ctr.uuid);
    if (!rec) {
      rec = { attempts: 0, busy: false, gaveUp: false };
      this.records.set(ctr.uuid, rec);
      log.warn('cancel container with no suitable instance type', { error: err.message });
    }
    if (rec.busy || rec.gaveUp) return;
    if (rec.attempts >= this.opts.maxAttempts) {
      rec.gaveUp = true;
      log.error('giving up cancelling a container with no suitable instance type', { Attempts: rec.attempts, State: ctr.state });
      return;
    }
    rec.attempts++;
    rec.busy = true;
    const done = rec;
    void this.cancel(ctr, err.message).finally(() => {
      done.busy = false;
    });
  }

  /** Forgets containers the last poll did not return (cancelled, or no longer ours to cancel). */
  retain(seen: (uuid: string) => boolean): void {
    for (const [uuid, rec] of this.records) if (!rec.busy && !seen(uuid)) this.records.delete(uuid);
  }

  /** Containers being handled or given up on; for tests and the status page. */
  pending(): string[] {
    return [...this.records.keys()];
  }

  private async cancel(ctr: Container, reason: string): Promise<void> {
    const { client, logger } = this.opts;
    const log = logger.child({ ContainerUUID: ctr.uuid });
    try {
      await this.opts.runExclusive(ctr.uuid, 'cancel (no suitable instance type)', async () => {
        if (ctr.state === 'Queued') {
          try {
            this.opts.applyReply(ctr.uuid, await client.lockContainer(ctr.uuid));
          } catch (err) {
            // Tried again on a later poll, if it is still queued then.
            log.warn('lock failed', { error: (err as Error).message });
            return;
          }
        }
        await client.updateContainer(ctr.uuid, { runtime_status: { error: reason } });
        this.opts.applyReply(ctr.uuid, await client.updateContainer(ctr.uuid, { state: 'Cancelled' }));
        log.info('cancelled container with no suitable instance type', { Reason: reason });
      });
    } catch (err) {
      // Losing a race (a user cancelled it first) is not worth a warning.
      const latest = await client.getContainer(ctr.uuid, ['state']).catch(() => undefined);
      if (latest?.state === 'Cancelled') return;
      log.warn('error while trying to cancel unsatisfiable container', { error: (err as Error).message });
    }
  }
}
