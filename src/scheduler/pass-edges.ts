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
  // An instance created in this pass has no id yet.
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
  const candidates: Array<[QueueEntry, string]> = overMaxSupervisors.map((e) => [e, 'supervisor limit reached']);
  const quotaLine = totalInstances > 0 ? overQuota.slice(1) : overQuota;
  for (const e of quotaLine) candidates.push([e, 'pool capacity is used by higher priority containers']);
  for (const [entry, reason] of candidates) {
    const ctr = entry.container;
    if (ctr.state === 'Locked' && !records.has(ctr.uuid)) void unlockContainer(ctx, ctr.uuid, reason);
  }
}

/** At quota, instances nothing was placed on only hold quota the queue's head needs (except those `keep` names). */
export function shutdownUnallocated(ctx: PassContext, slots: Slot[], keep?: ReadonlySet<string>): void {
  for (const { view } of slots) {
    if (view.runningContainerUUIDs.length > 0 || view.idleBehavior !== 'run') continue;
    // Left idle this pass by a locality hold: in use again within CacheTimeout.
    if (keep?.has(view.instance)) continue;
    if (ctx.pool.shutdown(view.instance)) {
      ctx.logger.info('shutting down instance with nothing to run: at cloud quota', {
        Instance: view.instance,
        InstanceType: view.arvadosInstanceType,
      });
    }
  }
}
