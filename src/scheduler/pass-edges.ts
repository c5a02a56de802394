/**
 * What a scheduling pass (`run-queue.ts`) does to the pool and the
 * controller besides placing: starting a container on a ready instance,
 * and at the quota line, unlocking who cannot run and shutting down the
 * instances nothing was placed on.
 */
import type { Container } from '../arvados/types.js';
import type { QueueEntry } from './interfaces.js';
import { unlockContainer } from './actions.js';
import type { PassContext } from './deps.js';
import type { Slot } from './slots.js';

export function placementFields(slot: Slot): Record<string, unknown> {
  // The real pool names a create in flight by a placeholder (pending-N); a pool that gives it no id names no instance.
  const id = slot.view.instance === '' ? {} : { Instance: slot.view.instance };
  return { ...id, InstanceType: slot.view.arvadosInstanceType };
}

export function startContainer(ctx: PassContext, slot: Slot, ctr: Container): boolean {
  if (!ctx.pool.startContainer(slot.view.instance, ctr)) {
    ctx.logger.debug('pool declined to start container', { ContainerUUID: ctr.uuid, ...placementFields(slot) });
    return false;
  }
  ctx.logger.info('starting container', { ContainerUUID: ctr.uuid, ...placementFields(slot) });
  return true;
}

/**
 * Unlocks supervisors over the cap, and the over-quota containers except the
 * head of that line: unlocking it too would let it be locked again as soon
 * as the quota error expires, fail again, and run out of lock attempts. When
 * no instance exists at all, the head goes too: evidently it cannot run, and
 * it should use up its attempts and be cancelled rather than block the queue.
 * Containers already handed to crunch-run are left to run.
 */
export function unlockOverQuota(
  ctx: PassContext,
  overQuota: readonly QueueEntry[],
  overMaxSupervisors: readonly QueueEntry[],
  totalInstances: number,
  records: ReadonlyMap<string, unknown>,
): void {
  const quotaLine = totalInstances > 0 ? overQuota.slice(1) : overQuota;
  // One reason for both, in the reference's words (the blocker says which limit held each back).
  for (const entry of [...overMaxSupervisors, ...quotaLine]) {
    const ctr = entry.container;
    if (ctr.state === 'Locked' && !records.has(ctr.uuid)) void unlockContainer(ctx, ctr.uuid, 'pool capacity is used by higher priority containers');
  }
}

/**
 * At quota, instances nothing was placed on only hold quota the queue's head
 * needs (except those `keep` names), so they are shut down for it: all of
 * them at the cloud's quota, whose units (VCPUs, GPUs, instances) the pass
 * does not know. At MaxInstances, which counts instances, the head needs one
 * place: as many are shut down as bring the count one below the limit (one,
 * unless the limit was lowered), the ones placement would use last, less
 * those already shutting down (they count until the cloud no longer lists
 * them). The others stay for the containers behind the head,
 * which the next passes place on them once the head has its instance. The
 * log says which limit it is.
 */
export function shutdownUnallocated(ctx: PassContext, slots: Slot[], keep?: ReadonlySet<string>): void {
  const limit = quotaFields(ctx);
  let left = Infinity;
  if (limit.Quota === 'MaxInstances') {
    // The pool counts instances shut down until the cloud stops listing them; the pass does not see them.
    const leaving = Math.max(0, Number(limit.Instances) - slots.length);
    left = Number(limit.Instances) - Number(limit.MaxInstances) + 1 - leaving;
  }
  // Placement order: the last are the ones placement would use last.
  for (let i = slots.length - 1; i >= 0 && left > 0; i--) {
    const { view } = slots[i];
    if (view.runningContainerUUIDs.length > 0 || view.idleBehavior !== 'run') continue;
    // Left idle this pass by a locality hold: in use again within CacheTimeout.
    if (keep?.has(view.instance)) continue;
    if (ctx.pool.shutdown(view.instance)) {
      left--;
      ctx.logger.info(`shutting down instance with nothing to run: at ${String(limit.Quota)}`, {
        Instance: view.instance,
        InstanceType: view.arvadosInstanceType,
        ...limit,
      });
    }
  }
}

function quotaFields(ctx: PassContext): Record<string, unknown> {
  const q = ctx.pool.createLimits?.([]).quota;
  if (q?.bucket === 'MaxInstances') return { Quota: 'MaxInstances', Instances: q.inUse, MaxInstances: q.limit };
  return q ? { Quota: 'cloud quota', Instances: q.inUse } : { Quota: 'cloud quota' };
}
