/**
 * Reconciles the queue (the controller's view) with the pool (what
 * crunch-run processes exist), once per scheduling pass:
 *
 * | container state     | crunch-run record                 | action                                 |
 * | ------------------- | --------------------------------- | -------------------------------------- |
 * | Running             | none, every worker listed before the last poll | cancel: it runs nowhere   |
 * | Running             | exited before the last queue poll | cancel: crunch-run died without ending |
 * | Running             | live, priority 0                  | kill                                   |
 * | Complete, Cancelled | any                               | kill (and forget the record)           |
 * | Complete, Cancelled | none                              | drop from the queue                    |
 * | Queued              | any (a late start after unlock)   | kill                                   |
 * | Queued, priority 0  | none                              | drop from the queue                    |
 * | Locked              | exited before the last queue poll | unlock (requeue)                       |
 * | Locked, priority 0  | live                              | kill (unlocked once it has exited)     |
 * | Locked, priority 0  | none                              | unlock                                 |
 * | not in the queue    | any                               | kill                                   |
 *
 * "Exited before the last queue poll" matters: a crunch-run that exited
 * after the poll may have moved the container on, and the queue does not
 * know yet.
 */
import { cancelContainer, killCrunchRun, unlockContainer } from './actions.js';
import type { Container } from '../arvados/types.js';
import { type CrunchRunRecord, crunchRunRecords, type PassContext, unlistedWorkers } from './deps.js';
import { type PassView, State } from './pass-view.js';

/** Why sync requeues a Locked container whose crunch-run is gone (the reference's words; the timeline's wasted-attempt count reads it). */
export const CRUNCH_RUN_EXITED = 'crunch-run exited';

/**
 * @param view the run-queue pass just before, if any: when the queue has
 *   not changed since, its arrays say which entries are backlog without
 *   reading 100k entries again.
 */
export function sync(ctx: PassContext, view?: PassView): void {
  const { queue, pool } = ctx;
  const records = crunchRunRecords(pool);
  const { entries, updated } = queue.entries();
  // A worker not listed yet may be running anything, and a poll begun
  // before the last one was listed may show Running a container that ended
  // since (after a restart, between the poll and its worker's first
  // --list): no container is "running nowhere" until every worker has
  // answered and a poll has begun after that.
  const orphansKnown = unlistedWorkers(pool) === 0 && updated > (pool.listedAt?.() ?? 0);

  // The backlog (Queued or Locked, priority > 0) needs nothing unless it
  // has a crunch-run record, so it is reached through the records rather
  // than by looking each of its (maybe 100k) containers up in them.
  if (view && view.source === entries) {
    for (let k = 0; k < view.size; k++) {
      if (view.state[k] !== State.Other && view.priority[k] > 0) continue;
      const ctr = view.list[k].container;
      syncOne(ctx, ctr.uuid, ctr, records.get(ctr.uuid), updated, orphansKnown);
    }
  } else {
    for (const [uuid, ent] of entries) {
      const ctr = ent.container;
      if ((ctr.state === 'Queued' || ctr.state === 'Locked') && ctr.priority > 0) continue;
      syncOne(ctx, uuid, ctr, records.get(uuid), updated, orphansKnown);
    }
  }
  for (const [uuid, rec] of records) {
    const ctr = entries.get(uuid)?.container;
    if (!ctr) {
      if (!queue.readingDetails(uuid)) killCrunchRun(ctx, uuid, 'not in queue');
    }
    else if ((ctr.state === 'Queued' || ctr.state === 'Locked') && ctr.priority > 0) syncOne(ctx, uuid, ctr, rec, updated, orphansKnown);
  }
  ctx.once.prune((uuid) => entries.has(uuid) || records.has(uuid));
}

/** The table's row for one container. */
function syncOne(ctx: PassContext, uuid: string, ctr: Container, rec: CrunchRunRecord | undefined, updated: number, orphansKnown: boolean): void {
  const { queue, logger } = ctx;
  const exitedBeforePoll = rec?.exitedAt !== undefined && updated > rec.exitedAt;
  switch (ctr.state) {
    case 'Running':
      if (!rec) {
        if (orphansKnown) cancelContainer(ctx, uuid, 'not running on any worker');
      } else if (exitedBeforePoll) {
        cancelContainer(ctx, uuid, 'state=Running after crunch-run exited');
      } else if (ctr.priority === 0) {
        killCrunchRun(ctx, uuid, 'priority=0');
      }
      break;
    case 'Complete':
    case 'Cancelled':
      if (rec) {
        // crunch-run may be stuck; nothing it does matters now. If it has
        // already exited, this frees its record, hence the worker.
        killCrunchRun(ctx, uuid, `state=${ctr.state}`, true);
      } else if (!ctx.ops.busy(uuid)) {
        logger.info('container finished -- dropping from queue', { ContainerUUID: uuid, State: ctr.state });
        queue.forget(uuid);
      }
      break;
    case 'Queued':
      if (rec) {
        // A worker back from a network outage may still be starting a
        // container that was requeued meanwhile.
        killCrunchRun(ctx, uuid, `pool says running, but queue says state=${ctr.state}`);
      } else if (ctr.priority === 0 && !ctx.ops.busy(uuid)) {
        logger.info('container on hold -- dropping from queue', { ContainerUUID: uuid, State: ctr.state, Priority: ctr.priority });
        queue.forget(uuid);
      }
      break;
    case 'Locked':
      if (rec && exitedBeforePoll) {
        // At priority 0 we killed it (its user cancelled it): no start went
        // wrong, and the wasted-attempt count must not take it for one. The
        // log says "crunch-run exited" all the same, as the reference's does;
        // the timeline says why.
        void unlockContainer(ctx, uuid, CRUNCH_RUN_EXITED, true, ctr.priority === 0 ? 'priority=0' : CRUNCH_RUN_EXITED);
      } else if (rec && rec.exitedAt === undefined && ctr.priority === 0) {
        killCrunchRun(ctx, uuid, 'priority=0');
      } else if (!rec && ctr.priority === 0) {
        void unlockContainer(ctx, uuid, 'priority=0', true);
      }
      break;
    default:
      ctx.once.error(uuid, 'BUG: unexpected state', { State: ctr.state });
  }
}
