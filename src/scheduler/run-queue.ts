/**
 * One scheduling pass over the queue: decide, in priority order, which
 * containers to lock, where to start the locked ones (several may share an
 * instance), which instances to create, and, at quota, what to unlock and
 * which idle instances to shut down. Every queued or locked container
 * leaves the pass with a `scheduling_status`.
 *
 * Placement, for a container within the concurrency limit:
 * - candidates and preference: see `slots.ts` (first fit: ready before
 *   booting, then busier, then cheaper);
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
import type { QueueEntry } from './interfaces.js';
import type { ConcurrencyLimit } from './limits.js';
import { containerCharge, resourcesOfType } from './resources.js';
import { READY, SlotIndex, type Slot } from './slots.js';
import * as status from './status.js';

/** A queue entry with the status the last pass gave it. */
export interface QueueViewEntry {
  entry: QueueEntry;
  /** Empty for containers that are neither Queued nor Locked (e.g. Running). */
  readonly schedulingStatus: string;
}

export interface RunQueueResult {
  /** Every queue entry, in scheduling order. */
  view: QueueViewEntry[];
  /** Containers placed on an instance that is not ready yet (booting, unknown, or declined the start). */
  allocatedNotStarted: number;
  /** Containers left waiting because of the cloud quota or the supervisor cap. */
  notAllocatedOverQuota: number;
  /** created_at (epoch ms) of the longest-waiting Queued/Locked container with priority > 0 and no crunch-run (as of the pass's end), if any. */
  earliestWaiting: number | undefined;
}

const enum Status {
  None,
  Preparing,
  PriorityZero,
  SupervisorLimit,
  WaitingNewInstance,
  WaitingPreviousAttempt,
  WaitingInstanceTypes,
  WaitingCloudResources,
  WaitingClusterCapacity,
}

/**
 * A view entry whose status text is built only when asked for: a pass over
 * a 100k-container backlog would otherwise format 100k strings that only
 * the management API ever reads.
 */
class ViewItem implements QueueViewEntry {
  status = Status.None;
  /** Queue position, or the type name for WaitingNewInstance. */
  detail: number | string = 0;
  private text: string | undefined;

  constructor(readonly entry: QueueEntry) {}

  set(s: Status, detail: number | string = 0): void {
    this.status = s;
    this.detail = detail;
    this.text = undefined;
  }

  get schedulingStatus(): string {
    this.text ??= this.format();
    return this.text;
  }

  private format(): string {
    const pos = this.detail as number;
    switch (this.status) {
      case Status.None:
        return '';
      case Status.Preparing:
        return status.STATUS_PREPARING;
      case Status.PriorityZero:
        return status.statusPriorityZero(this.entry.container.state);
      case Status.SupervisorLimit:
        return status.statusSupervisorLimit(pos);
      case Status.WaitingNewInstance:
        return status.statusWaitingNewInstance(this.detail as string);
      case Status.WaitingPreviousAttempt:
        return status.STATUS_WAITING_FOR_PREVIOUS_ATTEMPT;
      case Status.WaitingInstanceTypes:
        return status.statusWaitingInstanceTypes(pos, this.entry.instanceTypes.map((t) => t.Name));
      case Status.WaitingCloudResources:
        return status.statusWaitingCloudResources(pos);
      case Status.WaitingClusterCapacity:
        return status.statusWaitingClusterCapacity(pos);
    }
  }
}

/** created_at parsed once per container record (records are replaced, not changed, when they change). */
const createdAtMs = new WeakMap<Container, number>();

function createdAt(ctr: Container): number {
  let t = createdAtMs.get(ctr);
  if (t === undefined) {
    t = Date.parse(ctr.created_at);
    createdAtMs.set(ctr, t);
  }
  return t;
}

export function runQueue(ctx: PassContext, limit: ConcurrencyLimit): RunQueueResult {
  const { queue, pool, cluster, logger } = ctx;
  const records = crunchRunRecords(pool);
  const { entries } = queue.entries();
  const maxPerInstance = cluster.Containers.CloudVMs.MaxRunningContainersPerInstance;

  const slots = SlotIndex.build(
    pool.instances(),
    (name) => cluster.InstanceTypes[name],
    (uuid) => {
      const ent = entries.get(uuid);
      return ent && containerCharge(ent.instanceResources);
    },
    maxPerInstance,
    ctx.rateLimited,
  );
  const totalInstances = Object.values(pool.countWorkers()).reduce((a, b) => a + b, 0);

  const sorted = sortEntries(entries, records);

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
  const typeAtCapacity = new Map<InstanceType, boolean>();
  const availableType = (types: InstanceType[]): InstanceType | undefined =>
    types.find((it) => {
      let full = typeAtCapacity.get(it);
      if (full === undefined) {
        const key = `${it.ProviderType}, preemptible=${it.Preemptible}`;
        full = atCapacity.get(key);
        if (full === undefined) {
          full = pool.atCapacity(it);
          atCapacity.set(key, full);
        }
        typeAtCapacity.set(it, full);
      }
      return !full;
    });
  // Creates the pool declined, by type: one log line each per pass, not one per container.
  const declined = new Map<string, number>();

  let overQuota: ViewItem[] = [];
  const overMaxSupervisors: ViewItem[] = [];
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
      if (ctr.state === 'Queued' || ctr.state === 'Locked') item.set(Status.Preparing);
      continue;
    }
    if (ctr.priority < 1) {
      item.set(Status.PriorityZero);
      continue;
    }
    if (ctr.scheduling_parameters?.supervisor && maxSupervisors > 0 && supervisors > maxSupervisors) {
      overMaxSupervisors.push(item);
      item.set(Status.SupervisorLimit, overMaxSupervisors.length);
      continue;
    }
    if (ctr.state !== 'Queued' && ctr.state !== 'Locked') continue;
    if (maxContainers > 0 && trying >= maxContainers) continue;
    trying++;

    const charge = containerCharge(item.entry.instanceResources);
    const ready = slots.find(item.entry, charge);

    if (ctr.state === 'Queued') {
      if (!ready && pool.atQuota()) {
        overQuota = sorted.slice(i);
        break;
      }
      if (!ready && !availableType(types)) continue;
      if (pool.killContainer(uuid, 'about to lock')) {
        ctx.once.info(uuid, 'not locking: crunch-run process from previous attempt has not exited');
        continue;
      }
      // The room is held even if an earlier pass's lock is still in flight:
      // the container will be Locked and need it either way.
      lockContainer(ctx, uuid, ready ? placementFields(ready) : {});
      if (ready) slots.allocate(ready, uuid, charge);
      continue;
    }

    // Locked.
    if (ready) {
      slots.allocate(ready, uuid, charge);
      if (!READY.has(ready.view.workerState)) {
        item.set(Status.WaitingNewInstance, ready.view.arvadosInstanceType);
        allocatedNotStarted++;
      } else if (pool.killContainer(uuid, 'about to start')) {
        item.set(Status.WaitingPreviousAttempt);
        ctx.once.info(uuid, 'not starting yet: crunch-run process from previous attempt has not exited', placementFields(ready));
      } else if (startContainer(ctx, ready, ctr)) {
        item.set(Status.Preparing);
      } else {
        item.set(Status.WaitingNewInstance, ready.view.arvadosInstanceType);
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
      item.set(Status.WaitingInstanceTypes, ++qpos);
      continue;
    }
    const created = pool.create(it);
    if (!created) {
      // Not at quota, yet declined (e.g. cloud calls throttled): retry next pass.
      declined.set(it.Name, (declined.get(it.Name) ?? 0) + 1);
      continue;
    }
    logger.info('creating new instance', { ContainerUUID: uuid, InstanceType: it.Name });
    item.set(Status.WaitingNewInstance, it.Name);
    allocatedNotStarted++;
    const slot: Slot = {
      view: { ...created, runningContainerUUIDs: [...created.runningContainerUUIDs] },
      type: it,
      free: resourcesOfType(it),
      rank: 0,
    };
    slots.addCreated(slot);
    slots.allocate(slot, uuid, charge);
  }

  const waiting = pool.atQuota() ? Status.WaitingCloudResources : Status.WaitingClusterCapacity;
  let earliest: number | undefined;
  for (const item of sorted) {
    const ctr = item.entry.container;
    if (ctr.state !== 'Queued' && ctr.state !== 'Locked') continue;
    if (item.status === Status.None) item.set(waiting, ++qpos);
    // Preparing: it has a crunch-run, from before or from this pass.
    if (ctr.priority > 0 && item.status !== Status.Preparing) {
      const t = createdAt(ctr);
      if (!Number.isNaN(t) && (earliest === undefined || t < earliest)) earliest = t;
    }
  }

  for (const [name, n] of declined) logger.debug('pool declined to create instances', { InstanceType: name, Containers: n });
  unlockOverQuota(ctx, overQuota, overMaxSupervisors, totalInstances, records);
  if (overQuota.length > 0) shutdownUnallocated(ctx, slots.all);

  return { view: sorted, allocatedNotStarted, notAllocatedOverQuota: overQuota.length + overMaxSupervisors.length, earliestWaiting: earliest };
}

/**
 * Scheduling order: containers with a crunch-run first (so running
 * supervisors are counted before new ones are admitted); then Locked before
 * Queued, so a newly arrived higher priority does not make the scheduler
 * unlock what it holds and reshuffle instances; then priority; then first
 * seen, so equal priorities keep their order from pass to pass instead of
 * trading locks. The keys are read once into typed arrays, and an index
 * array is sorted: a 100k-entry sort then costs tens of milliseconds.
 */
function sortEntries(entries: ReadonlyMap<string, QueueEntry>, records: ReadonlyMap<string, unknown>): ViewItem[] {
  const n = entries.size;
  const items: ViewItem[] = new Array<ViewItem>(n);
  const group = new Uint8Array(n);
  const priority = new Float64Array(n);
  const seen = new Float64Array(n);
  const order = new Array<number>(n);
  let k = 0;
  for (const entry of entries.values()) {
    const c = entry.container;
    items[k] = new ViewItem(entry);
    group[k] = records.has(c.uuid) ? 0 : c.state === 'Locked' ? 1 : 2;
    priority[k] = c.priority;
    seen[k] = entry.firstSeenAt;
    order[k] = k;
    k++;
  }
  // Array.prototype.sort is stable: full ties keep the queue's order.
  order.sort((a, b) => group[a] - group[b] || priority[b] - priority[a] || seen[a] - seen[b]);
  return order.map((i) => items[i]);
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
  overQuota: readonly QueueViewEntry[],
  overMaxSupervisors: readonly QueueViewEntry[],
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
