/**
 * One scheduling pass over the queue: decide, in priority order, which
 * containers to lock, where to start the locked ones (several may share an
 * instance), which instances to create, and, at quota, what to unlock and
 * which idle instances to shut down. Every queued or locked container
 * leaves the pass with a `scheduling_status`.
 *
 * Placement, for a container within the concurrency limit:
 * - candidates: instances in state unknown, booting, idle or running, with
 *   idle behaviour `run`, of an eligible type, under
 *   MaxRunningContainersPerInstance, with room left for the container;
 * - among them, in price order (then bigger first): the one already given
 *   the most containers, else an idle/running one over a booting/unknown one;
 * - a container placed on a booting or unknown instance holds its room
 *   there but is not started: StartContainer happens once the pool says
 *   the instance is ready (an unknown one may turn out to be busy or gone);
 * - no candidate: create the cheapest eligible type the pool does not
 *   report at capacity, and place the container on the new instance.
 */
import type { InstanceType } from '../config/types.js';
import type { Container } from '../arvados/types.js';
import { lockContainer, unlockContainer } from './actions.js';
import { crunchRunRecords, type PassContext } from './deps.js';
import type { InstanceResources, InstanceView, QueueEntry, WorkerState } from './interfaces.js';
import type { ConcurrencyLimit } from './limits.js';
import { containerCharge, fits, minus, noResources, resourcesOfType } from './resources.js';
import * as status from './status.js';

/** A queue entry with the status the last pass gave it. */
export interface QueueViewEntry {
  entry: QueueEntry;
  /** Empty for containers that are neither Queued nor Locked (e.g. Running). */
  schedulingStatus: string;
}

export interface RunQueueResult {
  /** Every queue entry, in scheduling order. */
  view: QueueViewEntry[];
  /** Containers placed on an instance that is not ready yet (booting, unknown, or declined the start). */
  allocatedNotStarted: number;
  /** Containers left waiting because of the cloud quota or the supervisor cap. */
  notAllocatedOverQuota: number;
}

/** An instance as the pass sees it: the pool's view plus what is left on it. */
interface Slot {
  view: InstanceView;
  type: InstanceType | undefined;
  free: InstanceResources;
}

const PLACEABLE: ReadonlySet<WorkerState> = new Set(['unknown', 'booting', 'idle', 'running']);
const READY: ReadonlySet<WorkerState> = new Set(['idle', 'running']);

export function runQueue(ctx: PassContext, limit: ConcurrencyLimit): RunQueueResult {
  const { queue, pool, cluster, logger } = ctx;
  const records = crunchRunRecords(pool);
  const { entries } = queue.entries();
  const maxPerInstance = cluster.Containers.CloudVMs.MaxRunningContainersPerInstance;

  const slots = pool.instances().map((v) => slotFor(ctx, v, entries));
  slots.sort(compareSlots);
  const totalInstances = Object.values(pool.countWorkers()).reduce((a, b) => a + b, 0);

  const sorted: QueueViewEntry[] = [...entries.values()].map((entry) => ({ entry, schedulingStatus: '' }));
  sorted.sort((a, b) => compareEntries(a.entry, b.entry, records));

  limit.observe({
    now: ctx.clock.now(),
    last503: ctx.client.last503(),
    running: records.size,
    totalInstances,
    atQuota: pool.atQuota(),
  });
  const maxContainers = limit.maxContainers;
  const maxSupervisors = limit.maxSupervisors();
  logger.debug('runQueue', { Containers: sorted.length, Processes: records.size, maxContainers });

  // Capacity answers are cached for the pass: if the pool's flag clears
  // between a higher- and a lower-priority container, the higher one should
  // get the type on the next pass rather than the lower one now.
  const atCapacity = new Map<string, boolean>();
  const availableType = (types: InstanceType[]): InstanceType | undefined =>
    types.find((it) => {
      const key = `${it.ProviderType}, preemptible=${it.Preemptible}`;
      let full = atCapacity.get(key);
      if (full === undefined) {
        full = pool.atCapacity(it);
        atCapacity.set(key, full);
      }
      return !full;
    });

  let overQuota: QueueViewEntry[] = [];
  const overMaxSupervisors: QueueViewEntry[] = [];
  let allocatedNotStarted = 0;
  // Containers running or being started: once it reaches maxContainers,
  // nothing more is locked or started (but nothing is unlocked for it).
  let trying = records.size;
  let qpos = 0;
  let supervisors = 0;

  for (let i = 0; i < sorted.length; i++) {
    const item = sorted[i];
    const { container: ctr, instanceTypes: types } = item.entry;
    const uuid = ctr.uuid;
    if (ctr.scheduling_parameters?.supervisor) supervisors++;
    if (records.has(uuid)) {
      if (ctr.state === 'Queued' || ctr.state === 'Locked') item.schedulingStatus = status.STATUS_PREPARING;
      continue;
    }
    if (ctr.priority < 1) {
      item.schedulingStatus = status.statusPriorityZero(ctr.state);
      continue;
    }
    if (ctr.scheduling_parameters?.supervisor && maxSupervisors > 0 && supervisors > maxSupervisors) {
      overMaxSupervisors.push(item);
      item.schedulingStatus = status.statusSupervisorLimit(overMaxSupervisors.length);
      continue;
    }
    if (ctr.state !== 'Queued' && ctr.state !== 'Locked') continue;
    if (maxContainers > 0 && trying >= maxContainers) continue;
    trying++;

    const charge = containerCharge(item.entry.instanceResources);
    const ready = findSlot(ctx, slots, types, charge, maxPerInstance, uuid);

    if (ctr.state === 'Queued') {
      if (ready < 0 && pool.atQuota()) {
        overQuota = sorted.slice(i);
        break;
      }
      if (ready < 0 && !availableType(types)) continue;
      if (pool.killContainer(uuid, 'about to lock')) {
        ctx.once.info(uuid, 'not locking: crunch-run process from previous attempt has not exited');
        continue;
      }
      // The room is held even if an earlier pass's lock is still in flight:
      // the container will be Locked and need it either way.
      lockContainer(ctx, uuid, ready >= 0 ? placementFields(slots[ready]) : {});
      if (ready >= 0) allocate(slots[ready], uuid, charge);
      continue;
    }

    // Locked.
    if (ready >= 0) {
      const slot = slots[ready];
      allocate(slot, uuid, charge);
      if (!READY.has(slot.view.workerState)) {
        item.schedulingStatus = status.statusWaitingNewInstance(slot.view.arvadosInstanceType);
        allocatedNotStarted++;
      } else if (pool.killContainer(uuid, 'about to start')) {
        item.schedulingStatus = status.STATUS_WAITING_FOR_PREVIOUS_ATTEMPT;
        ctx.once.info(uuid, 'not starting yet: crunch-run process from previous attempt has not exited', placementFields(slot));
      } else if (startContainer(ctx, slot, ctr)) {
        item.schedulingStatus = status.STATUS_PREPARING;
      } else {
        item.schedulingStatus = status.statusWaitingNewInstance(slot.view.arvadosInstanceType);
        allocatedNotStarted++;
      }
      continue;
    }
    if (pool.atQuota()) {
      // Lower-priority containers must not keep idle instances of other
      // types alive while this one waits for quota.
      overQuota = sorted.slice(i);
      break;
    }
    const it = availableType(types);
    if (!it) {
      // Lower-priority containers may still fit types that are available.
      qpos++;
      item.schedulingStatus = status.statusWaitingInstanceTypes(qpos, types.map((t) => t.Name));
      continue;
    }
    const created = pool.create(it);
    if (!created) {
      // Not at quota, yet declined (e.g. cloud calls throttled): retry next pass.
      logger.debug('pool declined to create an instance', { ContainerUUID: uuid, InstanceType: it.Name });
      continue;
    }
    logger.info('creating new instance', { ContainerUUID: uuid, InstanceType: it.Name });
    item.schedulingStatus = status.statusWaitingNewInstance(it.Name);
    allocatedNotStarted++;
    const slot: Slot = {
      view: { ...created, runningContainerUUIDs: [...created.runningContainerUUIDs] },
      type: it,
      free: resourcesOfType(it),
    };
    allocate(slot, uuid, charge);
    let at = 0;
    while (at < slots.length && compareSlots(slots[at], slot) < 0) at++;
    slots.splice(at, 0, slot);
  }

  const waiting = pool.atQuota() ? status.statusWaitingCloudResources : status.statusWaitingClusterCapacity;
  for (const item of sorted) {
    const state = item.entry.container.state;
    if (item.schedulingStatus === '' && (state === 'Queued' || state === 'Locked')) item.schedulingStatus = waiting(++qpos);
  }

  unlockOverQuota(ctx, overQuota, overMaxSupervisors, totalInstances, records);
  if (overQuota.length > 0) shutdownUnallocated(ctx, slots);

  return { view: sorted, allocatedNotStarted, notAllocatedOverQuota: overQuota.length + overMaxSupervisors.length };
}

function slotFor(ctx: PassContext, v: InstanceView, entries: Map<string, QueueEntry>): Slot {
  const type = ctx.cluster.InstanceTypes[v.arvadosInstanceType];
  let free = resourcesOfType(type);
  for (const uuid of v.runningContainerUUIDs) {
    const ent = entries.get(uuid);
    if (!ent) {
      // A container of unknown size: assume it leaves nothing to spare.
      free = noResources();
      break;
    }
    free = minus(free, containerCharge(ent.instanceResources));
  }
  return { view: { ...v, runningContainerUUIDs: [...v.runningContainerUUIDs] }, type, free };
}

/** Cheapest first; at equal price the bigger instance (more to pack into), then by id for a stable order. */
function compareSlots(a: Slot, b: Slot): number {
  return (
    a.view.price - b.view.price ||
    (b.type?.VCPUs ?? 0) - (a.type?.VCPUs ?? 0) ||
    (b.type?.RAM ?? 0) - (a.type?.RAM ?? 0) ||
    (b.type?.Scratch ?? 0) - (a.type?.Scratch ?? 0) ||
    (a.view.instance < b.view.instance ? -1 : a.view.instance > b.view.instance ? 1 : 0)
  );
}

/**
 * Scheduling order: containers with a crunch-run first (so running
 * supervisors are counted before new ones are admitted); then Locked before
 * Queued, so a newly arrived higher priority does not make the scheduler
 * unlock what it holds and reshuffle instances; then priority; then first
 * seen, so equal priorities keep their order from pass to pass instead of
 * trading locks.
 */
function compareEntries(a: QueueEntry, b: QueueEntry, records: Map<string, unknown>): number {
  const ar = records.has(a.container.uuid);
  const br = records.has(b.container.uuid);
  if (ar !== br) return ar ? -1 : 1;
  const al = a.container.state === 'Locked';
  const bl = b.container.state === 'Locked';
  if (al !== bl) return al ? -1 : 1;
  return b.container.priority - a.container.priority || a.firstSeenAt - b.firstSeenAt;
}

/** Index of the instance to place the container on, or -1. */
function findSlot(
  ctx: PassContext,
  slots: Slot[],
  types: InstanceType[],
  charge: InstanceResources,
  maxPerInstance: number,
  uuid: string,
): number {
  const eligible = new Set(types.map((t) => t.Name));
  let ready = -1;
  for (let i = 0; i < slots.length; i++) {
    const { view, free } = slots[i];
    if (!PLACEABLE.has(view.workerState) || view.idleBehavior !== 'run') continue;
    if (maxPerInstance > 0 && view.runningContainerUUIDs.length >= maxPerInstance) continue;
    if (!eligible.has(view.arvadosInstanceType)) continue;
    if (!fits(free, charge)) {
      if (view.workerState === 'idle' && view.runningContainerUUIDs.length === 0) {
        // The type was chosen as big enough, yet an empty instance of it is not.
        ctx.rateLimited.warn('BUG? insufficient resources on idle instance', { ContainerUUID: uuid, ...placementFields(slots[i]) });
      }
      continue;
    }
    if (ready < 0) {
      ready = i;
      continue;
    }
    const best = slots[ready].view;
    if (view.runningContainerUUIDs.length > best.runningContainerUUIDs.length) {
      // Fill busy instances first: when the workload shrinks, the empty
      // ones can then go idle and shut down.
      ready = i;
    } else if (!READY.has(best.workerState) && READY.has(view.workerState)) {
      // Start now on a ready instance rather than wait for a (maybe cheaper) booting one.
      ready = i;
    }
  }
  return ready;
}

function allocate(slot: Slot, uuid: string, charge: InstanceResources): void {
  slot.free = minus(slot.free, charge);
  slot.view.runningContainerUUIDs.push(uuid);
}

function placementFields(slot: Slot): Record<string, unknown> {
  // An instance created in this pass has no id yet.
  const id = slot.view.instance === '' ? {} : { Instance: slot.view.instance };
  return { ...id, InstanceType: slot.view.arvadosInstanceType };
}

function startContainer(ctx: PassContext, slot: Slot, ctr: Container): boolean {
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
function unlockOverQuota(
  ctx: PassContext,
  overQuota: QueueViewEntry[],
  overMaxSupervisors: QueueViewEntry[],
  totalInstances: number,
  records: Map<string, unknown>,
): void {
  const candidates: Array<[QueueViewEntry, string]> = overMaxSupervisors.map((e) => [e, 'supervisor limit reached']);
  const quotaLine = totalInstances > 0 ? overQuota.slice(1) : overQuota;
  for (const e of quotaLine) candidates.push([e, 'pool capacity is used by higher priority containers']);
  for (const [{ entry }, reason] of candidates) {
    const ctr = entry.container;
    if (ctr.state === 'Locked' && !records.has(ctr.uuid)) void unlockContainer(ctx, ctr.uuid, reason);
  }
}

/** At quota, instances nothing was placed on only hold quota the queue's head needs. */
function shutdownUnallocated(ctx: PassContext, slots: Slot[]): void {
  for (const { view } of slots) {
    if (view.runningContainerUUIDs.length > 0 || view.idleBehavior !== 'run') continue;
    if (ctx.pool.shutdown(view.instance)) {
      ctx.logger.info('shutting down instance with nothing to run: at cloud quota', {
        Instance: view.instance,
        InstanceType: view.arvadosInstanceType,
      });
    }
  }
}
