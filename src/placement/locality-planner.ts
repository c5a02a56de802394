/**
 * Locality in the scheduling pass: learns from the pool which VM ran which
 * images and inputs (`warm-memory.ts`), and for each container that could
 * start, looks up its warm VMs (by index, not by scanning every VM), picks
 * a ready warm one or, by the rule of `locality.ts`, holds the container
 * for a busy warm VM expected to have room soon. Created only when
 * settings `Locality.Enable` is true: with it off the pass does not call
 * anything here.
 */
import type { QueueEntry, InstanceResources, InstanceView } from '../scheduler/interfaces.js';
import { fits, minus, noResources, containerCharge } from '../scheduler/resources.js';
import { READY, type Slot, type SlotIndex } from '../scheduler/slots.js';
import { decideLocality, freeInMs, type HoldState, type LocalityTimeouts, type WarmHold, type WarmLevel, type WarmOption } from './locality.js';
import { WarmMemory } from './warm-memory.js';
import { runtimeKey } from '../estimate/estimator.js';
import type { RuntimeHistory, Spread } from '../estimate/history.js';

/** What the planner tells the timeline: a hold that starts (or changes target), or ends. */
export type WarmWaitDetail = Record<string, string | number>;

export interface LocalityPlannerDeps {
  timeouts: LocalityTimeouts;
  /** Expected time left (ms) for a container running since `startedAt`: the estimator's runtime history. */
  remainingMs(entry: QueueEntry, startedAt: number, now: number): number;
}

/** What `place` answers: a slot (maybe the ordinary one, maybe none), or a hold. */
export interface LocalityPlacement {
  slot?: Slot;
  hold?: WarmHold;
  /** The warm level of the slot taken. */
  level: WarmLevel;
}

/** Counts since start, for the metrics: containers started by warm level of their VM, and holds begun. */
export interface LocalityCounts {
  started: Record<'image' | 'inputs' | 'none', number>;
  holds: number;
}

/** How many ready VMs `spareWarm` looks at for one that no waiting container wants: bounded, so the pass stays cheap. */
const SPARE_CANDIDATES = 8;

const plus = (a: InstanceResources, b: InstanceResources): InstanceResources => minus(a, minus(noResources(), b));

export class LocalityPlanner {
  readonly memory = new WarmMemory();
  readonly counts: LocalityCounts = { started: { image: 0, inputs: 0, none: 0 }, holds: 0 };
  /** Containers the rule has started timing, by uuid; dropped when they leave the queue. */
  private readonly states = new Map<string, HoldState>();
  /** The hold each container had at the last pass that held it (for the timeline: said once per target). */
  private readonly held = new Map<string, WarmHold>();
  /** Busy VMs a container is held for in this pass: one waiter each, or a burst of ten would all wait for one VM. */
  private readonly claimed = new Set<string>();
  /** Ready VMs a held container would have started on this pass: left idle by the hold, so not to be shut down for quota. */
  readonly passedOver = new Set<string>();
  /** Images of the containers waiting to start, with how many want each, less those `place` has seen this pass. */
  private readonly wanted = new Map<string, number>();
  private entries: ReadonlyMap<string, QueueEntry> = new Map();
  private running: ReadonlyMap<string, number> = new Map();
  private now = 0;

  constructor(private readonly deps: LocalityPlannerDeps) {}

  /**
   * At the start of a pass: learns what each instance runs (so it has that
   * image and those inputs), forgets instances that are gone and containers
   * that left the queue.
   */
  beginPass(now: number, instances: readonly InstanceView[], entries: ReadonlyMap<string, QueueEntry>, running: ReadonlyMap<string, number>): void {
    this.now = now;
    this.claimed.clear();
    this.passedOver.clear();
    this.entries = entries;
    this.running = running;
    const live = new Set<string>();
    for (const inst of instances) {
      live.add(inst.instance);
      for (const uuid of inst.runningContainerUUIDs) {
        const e = entries.get(uuid);
        if (e) this.memory.observe(inst.instance, e.container.container_image, e.inputs);
      }
    }
    this.memory.retain(live);
    this.wanted.clear();
    for (const [uuid, e] of entries) {
      const c = e.container;
      if ((c.state !== 'Queued' && c.state !== 'Locked') || c.priority < 1 || running.has(uuid) || c.container_image === '') continue;
      this.wanted.set(c.container_image, (this.wanted.get(c.container_image) ?? 0) + 1);
    }
    for (const uuid of this.states.keys()) if (!entries.has(uuid)) this.states.delete(uuid);
    for (const uuid of this.held.keys()) if (!entries.has(uuid)) this.held.delete(uuid);
  }

  /**
   * Where `entry` should go, given the ordinary placement's choice `dflt`
   * (undefined: a new VM would be created). The caller has checked that the
   * container could start (on `dflt`, or on a VM it can create). `said` is
   * told of holds that begin or change target, and of holds that end.
   */
  place(entry: QueueEntry, dflt: Slot | undefined, slots: SlotIndex, said?: (uuid: string, detail: WarmWaitDetail) => void, shape?: number): LocalityPlacement {
    const uuid = entry.container.uuid;
    const image = entry.container.container_image;
    const inputs = entry.inputs ?? [];
    const left = (this.wanted.get(image) ?? 0) - 1;
    if (left > 0) this.wanted.set(image, left);
    else this.wanted.delete(image);
    if (shape !== undefined) dflt = this.spareWarm(entry, dflt, slots, shape);
    const ids1 = this.memory.withImage(image);
    let ids2: Set<string> | undefined;
    for (const pdh of inputs) {
      const ids = this.memory.withInput(pdh);
      if (ids) for (const id of ids) if (!ids1?.has(id)) (ids2 ??= new Set()).add(id);
    }
    if (!ids1 && !ids2) return this.took(uuid, dflt, 0, said);

    const charge = containerCharge(entry.instanceResources);
    let best: Slot | undefined;
    let bestLevel: WarmLevel = 0;
    let soonest1: WarmOption | undefined;
    let soonest2: WarmOption | undefined;
    const consider = (id: string, level: 1 | 2): void => {
      const slot = slots.slotOf(id);
      if (!slot || !slots.eligible(slot, entry.instanceTypes)) return;
      if (READY.has(slot.view.workerState) && slots.hasRoomFor(slot, charge)) {
        if (!best || level < bestLevel || (level === bestLevel && slot.rank < best.rank)) {
          best = slot;
          bestLevel = level;
        }
        return;
      }
      if (this.claimed.has(id)) return;
      const inMs = this.freeIn(slot, charge);
      if (!Number.isFinite(inMs)) return;
      const cur = level === 1 ? soonest1 : soonest2;
      if (cur && cur.freeInMs <= inMs) return;
      const opt: WarmOption = { instance: id, level, freeInMs: inMs };
      if (level === 1) soonest1 = opt;
      else soonest2 = opt;
    };
    for (const id of ids1 ?? []) consider(id, 1);
    for (const id of ids2 ?? []) consider(id, 2);

    const startsNow = dflt !== undefined && READY.has(dflt.view.workerState);
    const d = decideLocality(this.deps.timeouts, this.states.get(uuid), { now: this.now, startsNow, readyLevel: bestLevel, soonest1, soonest2 });
    if (d.state) this.states.set(uuid, d.state);
    if (d.hold) {
      const last = this.held.get(uuid);
      if (!last || last.instance !== d.hold.instance || last.level !== d.hold.level) {
        if (!last) this.counts.holds++;
        said?.(uuid, {
          waiting_for: d.hold.instance,
          has: d.hold.level === 1 ? 'image' : 'inputs',
          frees_in_ms: Math.round(d.hold.freeInMs),
          wait_until: new Date(d.hold.until).toISOString(),
        });
      }
      this.held.set(uuid, d.hold);
      this.claimed.add(d.hold.instance);
      if (dflt) this.passedOver.add(dflt.view.instance);
      return { hold: d.hold, level: 0 };
    }
    return this.took(uuid, best ?? dflt, best ? bestLevel : 0, said);
  }

  /**
   * A ready VM for a container that has none of its own warm ones: `dflt`,
   * unless `dflt` has the image of a container still waiting in this pass
   * and another ready VM with room has none, then that one. The VM-centric
   * half of the rule: a VM that frees goes, as far as the order allows, to
   * a container that has its image, not to the first in line that fits.
   * Nobody waits for it: the container starts now all the same.
   */
  private spareWarm(entry: QueueEntry, dflt: Slot | undefined, slots: SlotIndex, shape: number): Slot | undefined {
    if (!dflt || !READY.has(dflt.view.workerState) || !this.wantedBy(dflt)) return dflt;
    const charge = containerCharge(entry.instanceResources);
    for (const s of slots.readyWithRoom(shape, entry.instanceTypes, charge, SPARE_CANDIDATES)) if (!this.wantedBy(s)) return s;
    return dflt;
  }

  /** True if the VM has the image of a container still waiting in this pass. */
  private wantedBy(slot: Slot): boolean {
    for (const image of this.memory.imagesOf(slot.view.instance)) if (this.wanted.has(image)) return true;
    return false;
  }

  /** The container is placed (or a VM will be created for it): ends a hold it had. */
  private took(uuid: string, slot: Slot | undefined, level: WarmLevel, said?: (uuid: string, detail: WarmWaitDetail) => void): LocalityPlacement {
    const last = this.held.get(uuid);
    if (last) {
      this.held.delete(uuid);
      const on = slot ? (slot.view.instance === '' ? 'a new instance' : slot.view.instance) : 'a new instance';
      const gaveUp: WarmWaitDetail = level === 0 ? { gave_up_on: last.instance } : {};
      said?.(uuid, { ended: level === 1 ? 'took a VM with its image' : level === 2 ? 'took a VM with some of its inputs' : 'waited long enough', instance: on, ...gaveUp });
    }
    return { slot, level };
  }

  /** A container was handed to crunch-run on a VM of this warm level (`place` said it). */
  started(level: WarmLevel): void {
    this.counts.started[level === 1 ? 'image' : level === 2 ? 'inputs' : 'none']++;
  }

  /** When a busy VM is expected to have room for `charge` (ms from now; Infinity: not from its present containers). */
  private freeIn(slot: Slot, charge: InstanceResources): number {
    const ends: Array<{ inMs: number; charge: InstanceResources }> = [];
    for (const uuid of slot.view.runningContainerUUIDs) {
      const e = this.entries.get(uuid);
      if (!e) return Infinity; // of unknown size: the slot index takes it to fill the VM
      const startedAt = this.running.get(uuid) ?? this.now;
      ends.push({ inMs: this.deps.remainingMs(e, startedAt, this.now), charge: containerCharge(e.instanceResources) });
    }
    return freeInMs(slot.free, charge, ends, plus, fits);
  }
}

/**
 * The planner for settings `Locality` (durations in ms), with the expected
 * time left of a running container taken from the estimator's runtime
 * history (`expectedLeftMs`).
 */
export function localityPlanner(settings: { CacheTimeout: number; DepsTimeout: number }, runtimes: RuntimeHistory): LocalityPlanner {
  return new LocalityPlanner({
    timeouts: { cacheTimeoutMs: settings.CacheTimeout, depsTimeoutMs: settings.DepsTimeout },
    remainingMs: (entry, startedAt, now) => expectedLeftMs(runtimes.estimate(runtimeKey(entry.container)!, entry.container.uuid), now - startedAt),
  });
}

/**
 * Time left of a run that has lasted `elapsedMs`, given its total's spread:
 * to its 90th percentile, and past that nothing is known (Infinity). The
 * median would be right half the time, and a container held on it that
 * loses the toss waits for nothing; measured on image-reuse.json, holds on
 * the median cut more pulls but made the p95 queue wait worse.
 */
export function expectedLeftMs(total: Spread, elapsedMs: number): number {
  if (elapsedMs < total.high) return total.high - elapsedMs;
  return Infinity;
}
