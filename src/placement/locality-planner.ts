/**
 * Locality in the scheduling pass: learns from the pool which VM ran which
 * images and inputs (`warm-memory.ts`), and for each container that could
 * start, looks up its warm VMs (by index, not by scanning every VM), picks
 * a ready warm one or, by the rule of `locality.ts`, holds the container
 * for a busy warm VM expected to have room soon. Created only when
 * settings `Locality.Enable` is true: with it off the pass does not call
 * anything here.
 */
import type { InstanceType } from '../config/types.js';
import type { QueueEntry, InstanceResources, InstanceView } from '../scheduler/interfaces.js';
import { fits, plus, containerCharge } from '../scheduler/resources.js';
import { READY, type Slot, type SlotIndex } from '../scheduler/slots.js';
import { decideLocality, type HoldState, type LocalityTimeouts, type WarmHold, type WarmLevel, type WarmOption } from './locality.js';
import { WarmMemory } from './warm-memory.js';
import { PullTimeLearner } from './pull-time.js';
import { estimateImageSize } from '../queue/instance-types.js';
import { runtimeKey } from '../estimate/estimator.js';
import type { RuntimeHistory } from '../estimate/history.js';
import { HOLD_CONFIDENCE, pooledFreeInMs, runEndOdds, vmFreeOdds, WarmWaiters, type BusyVm, type EndOdds, type RunEnd } from './warm-odds.js';

/** What the planner tells the timeline: a hold that starts (or changes target), or ends. */
export type WarmWaitDetail = Record<string, string | number>;

export interface LocalityPlannerDeps {
  timeouts: LocalityTimeouts;
  /** The odds that a container running since `startedAt` ends within t ms of `now`: the estimator's runtime history. */
  endOdds(entry: QueueEntry, startedAt: number, now: number): EndOdds;
  /** Expected create-to-ready time of an instance type, ms; absent: containers sent to a VM not ready count as waiting for a warm one throughout. */
  bootMs?(type: string): number;
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

/** Busy warm VMs pooled for one container at most: bounded, so the pass stays cheap with many warm VMs. */
const MAX_POOL = 16;

/** A busy warm VM in a pool: its id and warm level beside what `vmFreeOdds` needs. */
type PoolVm = BusyVm<InstanceResources> & { id: string; level: 1 | 2 };

export class LocalityPlanner {
  readonly memory = new WarmMemory();
  /** How long an image takes to pull, learnt from the starts this planner placed. */
  readonly pulls = new PullTimeLearner();
  readonly counts: LocalityCounts = { started: { image: 0, inputs: 0, none: 0 }, holds: 0 };
  /** Containers the rule has started timing, by uuid; dropped when they leave the queue. */
  private readonly states = new Map<string, HoldState>();
  /** The hold each container had at the last pass that held it (for the timeline: said once per target). */
  private readonly held = new Map<string, WarmHold>();
  /** Busy VMs a hold names in this pass: the next hold names another if it can (the waits themselves are counted in `waitingWarm`). */
  private readonly claimed = new Set<string>();
  /** Per busy VM, its runs and their odds of ending, for this pass (null: one of unknown size). */
  private readonly runs = new Map<string, ReadonlyArray<RunEnd<InstanceResources>> | null>();
  /** Ready VMs a held container would have started on this pass: left idle by the hold, so not to be shut down for quota. */
  readonly passedOver = new Set<string>();
  /** Images of the containers waiting to start, with how many want each, less those `place` has seen this pass. */
  private readonly wanted = new Map<string, number>();
  /** Per image, the containers with it that this pass held or sent to a VM not ready yet: each will take one of its warm VMs when it frees (the latter until their own VM is ready). */
  private readonly waitingWarm = new Map<string, WarmWaiters>();
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
    this.runs.clear();
    this.passedOver.clear();
    this.entries = entries;
    this.running = running;
    const live = new Set<string>();
    for (const inst of instances) {
      live.add(inst.instance);
      for (const uuid of inst.runningContainerUUIDs) {
        const e = entries.get(uuid);
        if (e) this.memory.observe(inst.instance, e.container.container_image, e.inputs, now);
      }
    }
    this.memory.retain(live);
    for (const uuid of this.pulls.watching()) {
      const e = entries.get(uuid);
      if (!e) {
        this.pulls.forget(uuid);
        continue;
      }
      // A VM taken to have the image pulled it: VMs keep less than the memory said.
      const dropped = this.pulls.seen(uuid, e.container.state, now);
      if (dropped !== undefined) this.memory.limitBytes(dropped);
    }
    this.wanted.clear();
    this.waitingWarm.clear();
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
   * `types`: the types the pass places it on (on-demand ones after a spot
   * fallback); default its own.
   */
  place(
    entry: QueueEntry,
    dflt: Slot | undefined,
    slots: SlotIndex,
    said?: (uuid: string, detail: WarmWaitDetail) => void,
    shape?: number,
    types: readonly InstanceType[] = entry.instanceTypes,
  ): LocalityPlacement {
    const uuid = entry.container.uuid;
    const image = entry.container.container_image;
    const inputs = entry.inputs ?? [];
    const left = (this.wanted.get(image) ?? 0) - 1;
    if (left > 0) this.wanted.set(image, left);
    else this.wanted.delete(image);
    if (shape !== undefined) dflt = this.spareWarm(entry, types, dflt, slots, shape);
    const ids1 = this.memory.withImage(image);
    let ids2: Set<string> | undefined;
    for (const pdh of inputs) {
      const ids = this.memory.withInput(pdh);
      if (ids) for (const id of ids) if (!ids1?.has(id)) (ids2 ??= new Set()).add(id);
    }
    if (!ids1 && !ids2) return this.took(uuid, dflt, 0, said);

    const charge = containerCharge(entry.instanceResources);
    let best: Slot | undefined;
    // Set inside `consider`, which the compiler does not follow: declared, not narrowed to 0.
    let bestLevel = 0 as WarmLevel;
    const busy: Array<{ id: string; level: 1 | 2; slot: Slot }> = [];
    const consider = (id: string, level: 1 | 2): void => {
      const slot = slots.slotOf(id);
      if (!slot || !slots.eligible(slot, types)) return;
      if (READY.has(slot.view.workerState) && slots.hasRoomFor(slot, charge)) {
        if (!best || level < bestLevel || (level === bestLevel && slot.rank < best.rank)) {
          best = slot;
          bestLevel = level;
        }
        return;
      }
      busy.push({ id, level, slot });
    };
    for (const id of ids1 ?? []) consider(id, 1);
    for (const id of ids2 ?? []) consider(id, 2);
    // A ready VM with its image: taken, as the rule says, with no odds to work out for the busy ones.
    if (best && bestLevel === 1) return this.took(uuid, best, 1, said);
    const busy1: PoolVm[] = [];
    const busy2: PoolVm[] = [];
    for (const { id, level, slot } of busy) {
      const runs = this.runsOn(slot);
      if (runs) (level === 1 ? busy1 : busy2).push({ id, level, free: slot.free, runs });
    }
    let ahead = this.waitingWarm.get(image);
    if (!ahead) this.waitingWarm.set(image, (ahead = new WarmWaiters(MAX_POOL + 1)));
    // The deps phase waits for the first of both kinds together.
    const soonest1 = this.pooled(busy1, charge, ahead);
    const soonest2 = busy2.length > 0 ? this.pooled([...busy1, ...busy2], charge, ahead) : undefined;

    const startsNow = dflt !== undefined && READY.has(dflt.view.workerState);
    const pullMs = this.pulls.pullMs(estimateImageSize(image));
    const d = decideLocality(this.deps.timeouts, this.states.get(uuid), { now: this.now, startsNow, pullMs, readyLevel: bestLevel, soonest1, soonest2 });
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
          ...(d.hold.pool !== undefined ? { pool: d.hold.pool } : {}),
        });
      }
      this.held.set(uuid, d.hold);
      this.claimed.add(d.hold.instance);
      ahead.add(Infinity);
      if (dflt) this.passedOver.add(dflt.view.instance);
      return { hold: d.hold, level: 0 };
    }
    const slot = best ?? dflt;
    // Sent to a VM that is not ready: it moves to a warm VM that frees first (if any), ahead of those behind it.
    if (!slot || !READY.has(slot.view.workerState)) ahead.add(this.readyAt(slot, types));
    return this.took(uuid, slot, best ? bestLevel : 0, said);
  }

  /**
   * A ready VM for a container that has none of its own warm ones: `dflt`,
   * unless `dflt` has the image of a container still waiting in this pass
   * and another ready VM with room has none, then that one. The VM-centric
   * half of the rule: a VM that frees goes, as far as the order allows, to
   * a container that has its image, not to the first in line that fits.
   * Nobody waits for it: the container starts now all the same.
   */
  private spareWarm(entry: QueueEntry, types: readonly InstanceType[], dflt: Slot | undefined, slots: SlotIndex, shape: number): Slot | undefined {
    if (!dflt || !READY.has(dflt.view.workerState) || !this.wantedBy(dflt)) return dflt;
    const charge = containerCharge(entry.instanceResources);
    for (const s of slots.readyWithRoom(shape, types, charge, SPARE_CANDIDATES)) if (!this.wantedBy(s)) return s;
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

  /** A container was handed to crunch-run on `instance`, of this warm level (`place` said it): counted, and its start timed for the pull time. */
  started(level: WarmLevel, entry?: QueueEntry, instance?: string): void {
    this.counts.started[level === 1 ? 'image' : level === 2 ? 'inputs' : 'none']++;
    if (!entry) return;
    const image = entry.container.container_image;
    const bytes = estimateImageSize(image);
    // Not when the image came to the VM less than a pull ago: another container's pull of it may be going on.
    const pull = this.pulls.pullMs(bytes);
    const depth = level === 1 && instance !== undefined && pull !== undefined ? this.memory.depthOf(instance, image, this.now - pull) : undefined;
    this.pulls.started(entry.container.uuid, bytes, level === 1, this.now, depth);
  }

  /** When a VM that is not ready (undefined: one to create) is expected to be: when a container sent there stops wanting a warm VM. */
  private readyAt(slot: Slot | undefined, types: readonly InstanceType[]): number {
    const type = slot?.view.arvadosInstanceType ?? types[0]?.Name;
    const boot = type !== undefined && this.deps.bootMs ? this.deps.bootMs(type) : Infinity;
    // A booting VM's lastBusy is when it was created; a create the cloud has not answered has none.
    const since = slot && slot.view.lastBusy > 0 ? Math.min(slot.view.lastBusy, this.now) : this.now;
    return since + boot;
  }

  /** A busy VM's runs with their odds of ending (once per pass); undefined when one of them is of unknown size (the slot index takes it to fill the VM). */
  private runsOn(slot: Slot): ReadonlyArray<RunEnd<InstanceResources>> | undefined {
    const id = slot.view.instance;
    if (this.runs.has(id)) return this.runs.get(id) ?? undefined;
    let runs: Array<RunEnd<InstanceResources>> | null = [];
    for (const uuid of slot.view.runningContainerUUIDs) {
      const e = this.entries.get(uuid);
      if (!e) {
        runs = null;
        break;
      }
      runs.push({ odds: this.deps.endOdds(e, this.running.get(uuid) ?? this.now, this.now), charge: containerCharge(e.instanceResources) });
    }
    this.runs.set(id, runs);
    return runs ?? undefined;
  }

  /**
   * The first of these busy VMs to have room for `charge` after the
   * containers `ahead` still waiting for the same ones then have taken
   * theirs, pooled: when that is so at HOLD_CONFIDENCE (ms from now), named
   * by the VM likeliest to be that one (not already named by another hold,
   * if it can). Undefined when not within the longer timeout. At most
   * MAX_POOL VMs count, those likeliest to have room by then.
   */
  private pooled(vms: readonly PoolVm[], charge: InstanceResources, ahead: WarmWaiters): WarmOption | undefined {
    const horizon = Math.max(this.deps.timeouts.cacheTimeoutMs, this.deps.timeouts.depsTimeoutMs);
    if (vms.length <= ahead.at(this.now + horizon)) return undefined;
    const need = (t: number): number => 1 + ahead.at(this.now + t);
    let scored = vms.map((vm) => ({ vm, p: vmFreeOdds(vm, horizon, plus, fits, charge) })).filter((s) => s.p > 0);
    if (scored.length > MAX_POOL) scored = scored.sort((a, b) => b.p - a.p).slice(0, MAX_POOL);
    const inMs = pooledFreeInMs(scored.length, need, (i, t) => vmFreeOdds(scored[i].vm, t, plus, fits, charge), HOLD_CONFIDENCE, horizon);
    if (!Number.isFinite(inMs)) return undefined;
    let named = scored[0].vm;
    let namedP = -Infinity;
    for (const { vm } of scored) {
      const p = vmFreeOdds(vm, inMs, plus, fits, charge) - (this.claimed.has(vm.id) ? 1 : 0);
      if (p > namedP) [named, namedP] = [vm, p];
    }
    return { instance: named.id, level: named.level, freeInMs: inMs, ...(scored.length > 1 ? { pool: scored.length } : {}) };
  }
}

/**
 * The planner for settings `Locality` (durations in ms), with the odds of a
 * running container ending taken from the estimator's runtime history
 * (`runEndOdds`).
 */
export function localityPlanner(settings: { CacheTimeout: number; DepsTimeout: number }, runtimes: RuntimeHistory, bootMs?: (type: string) => number): LocalityPlanner {
  return new LocalityPlanner({
    ...(bootMs ? { bootMs } : {}),
    timeouts: { cacheTimeoutMs: settings.CacheTimeout, depsTimeoutMs: settings.DepsTimeout },
    endOdds: (entry, startedAt, now) => runEndOdds(runtimes.estimate(runtimeKey(entry.container)!, entry.container.uuid), now - startedAt),
  });
}
