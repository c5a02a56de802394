/**
 * The scheduler's actions on one container, each under the container's
 * operation slot (`UUIDOps`), each logged once when decided. Controller
 * calls run in the background: errors are logged, never thrown, and the
 * queue's next poll shows the outcome either way.
 */
import type { PassContext } from './deps.js';

/** Locks a Queued container, unless something changed it since the pass looked. The start breaker hears of every lock asked for (a trial's among them). */
export function lockContainer(ctx: PassContext, uuid: string, fields: Record<string, unknown> = {}): boolean {
  ctx.startBreaker?.locking(uuid);
  const started = ctx.ops.run(uuid, 'lock', async () => {
    const ctr = ctx.queue.get(uuid);
    if (!ctr || ctr.state !== 'Queued') {
      // Cancelled, or locked by an earlier pass's call, since the pass read
      // the entries; the queue's change notification brings another pass.
      ctx.logger.debug('container no longer queued, not locking', { ContainerUUID: uuid, State: ctr?.state });
      return;
    }
    ctx.logger.info('locking container', { ContainerUUID: uuid, ...fields });
    try {
      await ctx.queue.lock(uuid);
    } catch (err) {
      ctx.logger.warn('error locking container', { ContainerUUID: uuid, error: err });
      return;
    }
    // The reference's checks of what a successful lock left.
    const after = ctx.queue.get(uuid);
    if (!after) ctx.logger.error('(BUG?) container disappeared from queue after Lock succeeded', { ContainerUUID: uuid });
    else if (after.state !== 'Locked') ctx.logger.warn(`(race?) container has state=${JSON.stringify(after.state)} after Lock succeeded`, { ContainerUUID: uuid });
  });
  return started !== undefined;
}

/**
 * Unlocks a Locked container; `reason` says why in the log, and in the
 * timeline unless `cause` says otherwise (the reference's log words may be
 * less precise than the timeline must be). `requeue`: sync found it locked
 * with nothing running it (crunch-run exited, or priority 0), which the
 * reference logs as a requeue, and its failure at error; the pass's own
 * unlocks (quota, supervisor limit, stale locks) as an unlock.
 */
export function unlockContainer(ctx: PassContext, uuid: string, reason: string, requeue = false, cause = reason): Promise<void> | undefined {
  return ctx.ops.run(uuid, 'unlock', async () => {
    const ctr = ctx.queue.get(uuid);
    if (!ctr || ctr.state !== 'Locked') {
      ctx.logger.debug('container no longer locked, not unlocking', { ContainerUUID: uuid, State: ctr?.state });
      return;
    }
    const fields = { ContainerUUID: uuid, State: ctr.state, Priority: ctr.priority };
    ctx.logger.info(requeue ? `requeueing locked container because ${reason}` : `unlock because ${reason}`, fields);
    ctx.timeline?.unlocking(uuid, cause);
    try {
      await ctx.queue.unlock(uuid);
    } catch (err) {
      if (requeue) ctx.logger.error('error requeueing container', { ...fields, error: err });
      else ctx.logger.warn('error unlocking container', { ContainerUUID: uuid, error: err });
    }
  });
}

/** Cancels a container (state only: runtime_status is crunch-run's); `reason` is logged. */
export function cancelContainer(ctx: PassContext, uuid: string, reason: string): void {
  ctx.ops.run(uuid, 'cancel', async () => {
    ctx.logger.info(`cancelling container because ${reason}`, { ContainerUUID: uuid });
    ctx.timeline?.cancelling(uuid, reason);
    try {
      await ctx.queue.cancel(uuid, reason);
    } catch (err) {
      ctx.logger.warn('error cancelling container', { ContainerUUID: uuid, error: err });
    }
  });
}

/**
 * Asks the pool to stop the container's crunch-run and to drop its record
 * once it has exited. Re-sent on every pass while the process lingers (the
 * pool escalates), logged once per reason: at debug when `routine` (the
 * container has finished, and crunch-run is on its way out after every
 * normal run; the pool logs the kill itself), else at info.
 */
export function killCrunchRun(ctx: PassContext, uuid: string, reason: string, routine = false): void {
  ctx.ops.runSync(uuid, 'kill', () => {
    if (routine) ctx.once.debug(uuid, `killing crunch-run: ${reason}`);
    else ctx.once.info(uuid, `killing crunch-run: ${reason}`);
    ctx.pool.killContainer(uuid, reason);
    ctx.pool.forgetContainer(uuid);
  });
}
