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
 *   report at capacity, and place the container on the new instance
 *   (cheapest at current spot prices where the driver quotes them:
 *   `spotPriceOrder`, `src/cost/price.ts`).
 */
import type { InstanceType } from '../config/types.js';
import { type QueueEntry, shownNote } from './interfaces.js';
import { lockContainer } from './actions.js';
import { placementFields, shutdownUnallocated, startContainer, unlockOverQuota } from './pass-edges.js';
import { spotPriceOrder } from '../cost/price.js';
import { crunchRunRecords, type PassContext } from './deps.js';
import type { ConcurrencyLimit } from './limits.js';
import { Cause, heldStatus, LEAD_PRIORITY_BELOW_1, LEAD_RECORD, LEAD_SHAPE, LEAD_SUPERVISOR, leadState, PassView, State, Status } from './pass-view.js';
import { containerCharge, resourcesOfType } from './resources.js';
import { READY, SlotIndex, type Slot } from './slots.js';
import type { WarmLevel } from '../placement/locality.js';
import type { SpotWait } from '../placement/spot-fallback.js';
import { freeMoneyForHeld, sayHeld } from '../placement/spending-cap-pass.js';

export type { QueueViewEntry } from './pass-view.js';

export interface RunQueueResult {
  /** Every queue entry, in scheduling order, with its status. */
  view: PassView | undefined;
  /** Containers placed on an instance that is not ready yet (booting, unknown, or declined the start). */
  allocatedNotStarted: number;
  /** Containers left waiting because of the cloud quota or the supervisor cap. */
  notAllocatedOverQuota: number;
}

export function runQueue(ctx: PassContext, limit: ConcurrencyLimit): RunQueueResult {
  const { queue, pool, cluster, logger } = ctx;
  const records = crunchRunRecords(pool);
  const { entries: queued } = queue.entries();
  // Off: one check. On: containers sent on demand get on-demand types.
  const entries = ctx.reclaimPlan?.adjusts ? ctx.reclaimPlan.adjust(queued, ctx.timeline) : queued;
  const maxPerInstance = cluster.Containers.CloudVMs.MaxRunningContainersPerInstance;
  const drain = ctx.drain;

  const slots = SlotIndex.build(
    pool.instances(),
    (name) => cluster.InstanceTypes[name],
    (uuid) => {
      const ent = entries.get(uuid);
      return ent && containerCharge(ent.instanceResources);
    },
    maxPerInstance,
    ctx.rateLimited,
    drain && ((all) => drain.plan(all, ctx.clock.now())),
  );
  const totalInstances = Object.values(pool.countWorkers()).reduce((a, b) => a + b, 0);

  const view = new PassView(entries, records);
  // Off: one check. On: `view.order` is rewritten in place before it is read.
  const fair = ctx.fairShare?.reorder(view, records);
  view.fairShare = fair;
  const locality = ctx.locality;
  const saidWarm = (uuid: string, detail: Record<string, string | number>): void => {
    ctx.timeline?.warmWait?.(uuid, detail);
    ctx.logger.info(detail.ended === undefined ? 'holding container for an instance that has its image or inputs' : 'stopped holding container for a warm instance', {
      ContainerUUID: uuid,
      ...detail,
    });
  };
  locality?.beginPass(ctx.clock.now(), slots.all.map((s) => s.view), entries, pool.running());
  const { list, order, state, priority, hasRecord } = view;
  const leads = view.leadsInOrder();
  const cap = ctx.spendingCap;
  cap?.beginPass(() => entries.keys());
  const gate = ctx.startBreaker;
  gate?.beginPass();
  // Whether it holds is decided for the whole pass: asked once, not per container.
  const holding = gate?.holding ? gate : undefined;

  limit.observe({
    now: ctx.clock.now(),
    last503: ctx.client.last503(),
    signals: ctx.client.signals?.(),
    running: records.size,
    totalInstances,
    atQuota: pool.atQuota(),
  });
  const maxContainers = limit.maxContainers;
  const maxSupervisors = limit.maxSupervisors();
  logger.debug('runQueue', { Containers: view.size, Processes: records.size, maxContainers });

  // Capacity answers are cached for the pass: if the pool's flag clears
  // between a higher- and a lower-priority container, the higher one should
  // get the type on the next pass rather than the lower one now.
  const atCapacity = new Map<string, boolean>();
  const typeAtCapacity = new Map<InstanceType, boolean>();
  const byPrice = ctx.reclaimPlan ? ctx.reclaimPlan.orderTypes(spotPriceOrder(pool), (t) => pool.spotPrice?.(t)) : spotPriceOrder(pool);
  const availableType = (types: InstanceType[]): InstanceType | undefined =>
    byPrice(types).find((it) => {
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
  const saidFallback = (entry: QueueEntry, type: InstanceType | undefined, wait: SpotWait | undefined): void => {
    const r = spot?.fellBack(entry, type, wait);
    if (!r) return;
    logger.info('spot capacity out: running container on demand', { ContainerUUID: r.uuid, InstanceType: r.onDemandType, SpotInstanceType: r.spotType });
    ctx.timeline?.spotFallback?.(r.uuid, { spot_instance_type: r.spotType, instance_type: r.onDemandType, ...(wait ? { spot_out_since: new Date(wait.since).toISOString() } : {}) });
  };
  // Creates the pool declined, by type: one log line each per pass, not one per container.
  const declined = new Map<string, number>();

  // Per shape: 1 + the instance count when a Locked container of that shape
  // found no room and nothing could be created for it (0: not so). Until an
  // instance is added, every later Locked container of that shape fares the
  // same, so it is passed over without looking again.
  // Spot fallback (settings SpotFallback; off: undefined, one check per container) places a
  // fallen-back container under a shape id of its own: its shape + shapeCount.
  const spot = ctx.spotFallback;
  const shapes = spot ? 2 * view.shapeCount : view.shapeCount;
  const stuck = new Float64Array(shapes);
  const stuckNoType = new Uint8Array(shapes);
  // A higher-priority container waits for money (SpendingCap.HighPriorityFirst):
  // as at the quota, nothing after it starts on a ready VM, wherever the VM came from.
  const lineHeld = (slot: Slot | undefined): Slot | undefined => (slot && cap?.holdsLine && READY.has(slot.view.workerState) ? undefined : slot);
  // A container with no room whose every type is out of capacity is not
  // being started: it gives back its place under maxContainers (`trying`),
  // which at quota is the instance count, so that it does not leave an
  // instance idle that a container behind it could use.
  const typesOut = (k: number, wait: SpotWait | undefined): void => {
    view.cause[k] = wait ? Cause.SpotFallbackWait : Cause.TypesAtCapacity;
    if (wait) (view.spotWaits ??= new Map()).set(k, wait);
    trying--;
  };

  // Only a create in this pass can change the pool's answer: asked again after each.
  let atQuota = pool.atQuota();

  /** Scheduling-order index from which everything waits for quota; order.length for none. */
  let overQuotaFrom = order.length;
  const overMaxSupervisors: number[] = [];
  let createdInPass = 0;
  let allocatedNotStarted = 0;
  // Containers running or being started: once it reaches maxContainers,
  // nothing more is locked or started (but nothing is unlocked for it).
  let trying = records.size;
  let qpos = 0;
  let supervisors = 0;

  for (let i = 0; i < order.length; i++) {
    const k = order[i];
    const w = leads[i];
    const st = leadState(w);
    if (w & LEAD_SUPERVISOR) supervisors++;
    if (w & LEAD_RECORD) {
      if (st !== State.Other) view.set(k, Status.Preparing);
      continue;
    }
    if (w & LEAD_PRIORITY_BELOW_1) {
      view.set(k, Status.PriorityZero);
      continue;
    }
    if (w & LEAD_SUPERVISOR && maxSupervisors > 0 && supervisors > maxSupervisors) {
      overMaxSupervisors.push(k);
      view.set(k, Status.SupervisorLimit, overMaxSupervisors.length);
      continue;
    }
    if (st === State.Other) continue;
    // Starts keep failing (settings StartBreaker), or the daemon has just started and this lock would be its last attempt.
    const held = holding && st === State.Queued && holding.holds(list[k].container.uuid, list[k].container.lock_count);
    if (held) {
      view.cause[k] = held === 'starts' ? Cause.StartsHeld : Cause.LastAttemptHeld;
      continue;
    }
    if (maxContainers > 0 && trying >= maxContainers) {
      view.cause[k] = Cause.ConcurrencyLimit;
      continue;
    }
    trying++;

    let sh = w & LEAD_SHAPE;
    // With the spot fallback off, a container passed over by the shortcut
    // below is never read: at 100k queued, touching each entry costs more
    // than the rest of that path.
    let spotWait: SpotWait | undefined;
    // When it falls back: the on-demand types it takes, and since when its spot types have been out (for the timeline).
    let fallbackTypes: InstanceType[] | undefined;
    let fellBackWait: SpotWait | undefined;
    if (spot && list[k].instanceTypes[0]?.Preemptible) {
      const e = list[k];
      const spotTypes = e.instanceTypes;
      const d = spot.decide(e, () => availableType(spotTypes) !== undefined);
      spotWait = d?.wait;
      // On demand only when no spot VM has room for it either.
      if (d?.onDemand && d.onDemand.length > 0 && !slots.find(sh, spotTypes, containerCharge(e.instanceResources), e.container.uuid)) {
        fallbackTypes = d.onDemand as InstanceType[];
        sh += view.shapeCount;
        fellBackWait = spotWait;
        spotWait = undefined;
      }
    }
    if (st === State.Locked && stuck[sh] === slots.all.length + 1 && !atQuota) {
      // Same outcome as the last container of this shape: no room, and no
      // instance to create for it, with no instance added since.
      if (stuckNoType[sh]) view.set(k, Status.WaitingInstanceTypes, ++qpos);
      if (stuckNoType[sh]) typesOut(k, spotWait);
      else view.cause[k] = Cause.CreateDeclined;
      // It will need a VM as the one before it did: the spending cap counts its cheapest type as claimed.
      if (cap && !stuckNoType[sh]) cap.claim(list[k].container.uuid, list[k].instanceTypes[0]?.Price ?? 0);
      continue;
    }
    const entry = list[k];
    const types = fallbackTypes ?? entry.instanceTypes;
    const ctr = entry.container;
    const uuid = ctr.uuid;
    const charge = containerCharge(entry.instanceResources);
    let ready = lineHeld(slots.find(sh, types, charge, uuid));
    let warmLevel: WarmLevel = 0;
    // Locality only reroutes or holds a container that could start now.
    if (locality && (ready || (!atQuota && availableType(types)))) {
      const p = locality.place(entry, ready, slots, saidWarm, sh, types);
      if (p.hold) {
        (view.warmHolds ??= new Map()).set(k, p.hold);
        view.cause[k] = Cause.WaitingWarmInstance;
        // Queued: locked all the same (placed nowhere), so that it comes
        // before Queued containers when the warm VM frees. Either way it is
        // not waiting for quota: at quota, the pass must not end here and
        // shut down the idle VMs the containers behind it can use.
        if (st === State.Queued && !pool.killContainer(uuid, 'about to lock')) lockContainer(ctx, uuid, {});
        continue;
      }
      ready = lineHeld(p.slot);
      warmLevel = p.level;
    }

    if (st === State.Queued) {
      if (!ready && atQuota && availableType(types)) {
        overQuotaFrom = i;
        break;
      }
      if (!ready && !availableType(types)) {
        typesOut(k, spotWait);
        continue;
      }
      const capped = ready ? undefined : cap?.decide(uuid, priority[k], types, availableType);
      if (capped?.hold) {
        sayHeld(view, k, uuid, capped.hold, cap!, ctx.timeline);
        continue;
      }
      if (pool.killContainer(uuid, 'about to lock')) {
        ctx.once.info(uuid, 'not locking: crunch-run process from previous attempt has not exited');
        view.cause[k] = Cause.PreviousAttempt;
        continue;
      }
      view.cause[k] = Cause.Locking;
      // The room is held even if an earlier pass's lock is still in flight:
      // the container will be Locked and need it either way.
      lockContainer(ctx, uuid, ready ? placementFields(ready) : {});
      if (ready) {
        slots.allocate(ready, uuid, charge);
        view.placed(k, ready.view.instance);
      }
      continue;
    }

    // Locked.
    if (ready) {
      if (fallbackTypes) saidFallback(entry, ready.type, fellBackWait);
      slots.allocate(ready, uuid, charge);
      view.placed(k, ready.view.instance);
      const prepared = shownNote(ready.view);
      if (prepared !== undefined) ctx.timeline?.placedOnPrepared?.(uuid, ready.view.instance, prepared);
      if (!READY.has(ready.view.workerState)) {
        view.setWaitingNewInstance(k, ready.view.arvadosInstanceType, ready.view.instance);
        if (ready.view.instance !== '') ctx.timeline?.placedOnBooting?.(uuid, ready.view.instance, ready.view.arvadosInstanceType);
        allocatedNotStarted++;
      } else if (pool.killContainer(uuid, 'about to start')) {
        view.set(k, Status.WaitingPreviousAttempt);
        ctx.once.info(uuid, 'not restarting yet: crunch-run process from previous attempt has not exited', placementFields(ready));
      } else if (startContainer(ctx, ready, ctr)) {
        view.set(k, Status.Preparing);
        locality?.started(warmLevel, entry, ready.view.instance);
        if (ready.draining) drain?.tookDraining(ready.view.arvadosInstanceType, ctx.clock.now());
      } else {
        view.setWaitingNewInstance(k, ready.view.arvadosInstanceType, ready.view.instance);
        allocatedNotStarted++;
      }
      continue;
    }
    // Lower-priority containers must not keep idle instances of other types
    // alive while this one waits for quota; but when every type it could
    // use is out of capacity, quota freed for it would go unused (and the
    // instances shut down for it would be created again for the containers
    // behind it, pass after pass): it waits for its types instead, as it
    // would below the quota.
    if (atQuota && availableType(types)) {
      overQuotaFrom = i;
      break;
    }
    const decided = cap?.decide(uuid, priority[k], types, availableType);
    if (decided?.hold) {
      sayHeld(view, k, uuid, decided.hold, cap!, ctx.timeline);
      continue;
    }
    const it = decided ? decided.type : availableType(types);
    if (!it) {
      // Lower-priority containers may still fit types that are available.
      view.set(k, Status.WaitingInstanceTypes, ++qpos);
      typesOut(k, spotWait);
      stuck[sh] = slots.all.length + 1;
      stuckNoType[sh] = 1;
      continue;
    }
    // A type the pool declined once is not asked for again in this pass:
    // what declines it (throttled cloud calls, MaxInstances) lasts longer.
    const created = declined.has(it.Name) ? undefined : pool.create(it);
    if (!created) {
      // Not at quota, yet declined (e.g. cloud calls throttled): retry next pass.
      declined.set(it.Name, (declined.get(it.Name) ?? 0) + 1);
      view.cause[k] = Cause.CreateDeclined;
      stuck[sh] = slots.all.length + 1;
      stuckNoType[sh] = 0;
      continue;
    }
    atQuota = pool.atQuota();
    if (fallbackTypes) saidFallback(entry, it, fellBackWait);
    cap?.created(uuid, created.instance);
    logger.info('creating new instance', { ContainerUUID: uuid, InstanceType: it.Name });
    ctx.timeline?.vmRequested(uuid, it.Name, created.instance);
    const blamed = drain?.vmCreated(it.Name, types, ctx.clock.now());
    if (blamed !== undefined) ctx.timeline?.drainWait?.(uuid, it.Name, blamed);
    view.setWaitingNewInstance(k, it.Name, created.instance);
    allocatedNotStarted++;
    const slot: Slot = {
      view: { ...created, runningContainerUUIDs: [...created.runningContainerUUIDs] },
      type: it,
      free: resourcesOfType(it),
      rank: 0,
    };
    slots.addCreated(slot);
    createdInPass++;
    slots.allocate(slot, uuid, charge);
  }

  spot?.prune((uuid) => entries.has(uuid));
  gate?.endPass();
  if (gate?.holding) view.gateHold = gate.hold();
  const endAtQuota = pool.atQuota();
  const waiting = endAtQuota ? Status.WaitingCloudResources : Status.WaitingClusterCapacity;
  for (let i = 0; i < order.length; i++) {
    const k = order[i];
    // Passed over for other owners' containers while waiting for room (the limit or the quota cut the order after them): fair share says why.
    if (fair && view.status[k] === Status.None && (view.cause[k] === Cause.None || view.cause[k] === Cause.ConcurrencyLimit) && !hasRecord[k] && state[k] !== State.Other && fair.note(k)) {
      view.cause[k] = Cause.FairShare;
    }
    const w = leads[i];
    if (i >= overQuotaFrom && view.cause[k] === Cause.None && !(w & LEAD_RECORD)) view.cause[k] = Cause.OverQuota;
    if (leadState(w) !== State.Other && view.status[k] === Status.None) view.set(k, heldStatus(view.cause[k] as Cause) ?? waiting, ++qpos);
  }
  view.facts = { at: ctx.clock.now(), maxContainers, running: records.size, maxSupervisors, atQuota: endAtQuota };

  for (const [name, n] of declined) logger.debug('pool declined to create instances', { InstanceType: name, Containers: n });
  const overQuota = Array.from(order.subarray(overQuotaFrom), (k) => list[k]);
  unlockOverQuota(
    ctx,
    overQuota,
    overMaxSupervisors.map((k) => list[k]),
    // An instance this pass began to create exists too: the head of the line may run once it is up.
    totalInstances + createdInPass,
    records,
  );
  if (overQuota.length > 0) shutdownUnallocated(ctx, slots.all, locality?.passedOver);
  else if (cap?.holdsLine) freeMoneyForHeld(pool, logger, slots.all, cap.moneyWanted, locality?.passedOver);
  // A VM a locality hold left idle is wanted within CacheTimeout: not shut down at TimeoutIdle meanwhile.
  if (locality) pool.keepWarm?.(new Set(locality.passedOver), 'locality');
  ctx.capacity?.afterPlacement(
    slots.all.map((s) => s.view),
    entries,
    endAtQuota || overQuota.length > 0,
  );

  return { view, allocatedNotStarted, notAllocatedOverQuota: overQuota.length + overMaxSupervisors.length };
}
