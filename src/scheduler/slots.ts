/**
 * The instances one scheduling pass can place containers on, indexed so
 * that placing a container costs, amortised over the pass, a few map
 * lookups: a 100k-container backlog against 10k instances must not cost
 * 100k scans of 10k instances.
 *
 * Placement rule, among instances of an eligible type (state unknown,
 * booting, idle or running; idle behaviour `run`; under
 * MaxRunningContainersPerInstance; with room left), first fit in this
 * order:
 * 1. ready (idle or running) before not ready, so the container starts now
 *    rather than waits for a boot; those drain to save marks draining
 *    (`src/placement/drain.ts`) after the other ready ones that run
 *    something, so they empty, but before empty ones, which could shut down
 *    now while a draining one runs on anyway;
 * 2. more containers (at the start of the pass) before fewer, so busy
 *    instances fill up and empty ones can go idle and shut down; first fit
 *    keeps filling the instance it started on, to the same end;
 * 3. cheapest; at equal price the bigger (more to pack into); then by id;
 * 4. instances created during the pass come last, in order of creation.
 *
 * A VM with the provider's reclaim notice (`InstanceView.reclaimNotice`)
 * takes no new container at all.
 *
 * Within a pass an instance's room only shrinks and its container count
 * only grows, so an instance that cannot take a container of a given
 * (eligible types, size) never can later in the pass. Each such pair keeps a
 * cursor per eligible type that only moves forward past instances without
 * room: over a pass, each list is walked at most once per key.
 */
import type { InstanceType } from '../config/types.js';
import type { RateLimitedLog } from '../log.js';
import type { InstanceResources, InstanceView, WorkerState } from './interfaces.js';
import { fits, minus, noResources, resourcesOfType, take } from './resources.js';
import { compareCodeUnits } from '../compare.js';

/** An instance as the pass sees it: the pool's view plus what is left on it. */
export interface Slot {
  view: InstanceView;
  type: InstanceType | undefined;
  free: InstanceResources;
  /** Position in the placement order (set by `SlotIndex`). */
  rank: number;
  /** Marked by drain to save this pass: new containers go here only if no other ready instance takes them. */
  draining?: boolean;
}

const PLACEABLE: ReadonlySet<WorkerState> = new Set(['unknown', 'booting', 'idle', 'running']);

/**
 * True if containers may be placed on the instance at all: a placeable
 * state, behaviour run, and no interruption notice (a VM the provider is
 * taking back would lose whatever started there now).
 */
function placeable(view: InstanceView): boolean {
  return PLACEABLE.has(view.workerState) && view.idleBehavior === 'run' && view.reclaimNotice === undefined;
}

export const READY: ReadonlySet<WorkerState> = new Set(['idle', 'running']);

/** Ranks of instances created during the pass start here, after every existing one. */
const CREATED_RANK = 2 ** 40;

export class SlotIndex {
  /** Every instance: the pool's in placement order, then those created in the pass. */
  readonly all: Slot[] = [];
  private readonly byType = new Map<string, Slot[]>();
  /** Per shape (see `PassView.shape`): for each eligible type, the first list position that may still have room. */
  private readonly cursors: number[][] = [];
  private created = 0;
  /** Instances by id, for locality's look-ups of warm VMs; built on first use, so a pass without locality never pays for it. */
  private byId: Map<string, Slot> | undefined;

  private constructor(
    private readonly maxPerInstance: number,
    private readonly warnings: RateLimitedLog,
  ) {}

  /**
   * Builds the index from the pool's instances; `sizeOf` gives a running
   * container's charge, undefined if unknown; `drain`, when drain to save is
   * on, names the instances to mark draining.
   */
  static build(
    views: InstanceView[],
    typeOf: (name: string) => InstanceType | undefined,
    sizeOf: (uuid: string) => InstanceResources | undefined,
    maxPerInstance: number,
    warnings: RateLimitedLog,
    drain?: (slots: readonly Slot[]) => ReadonlySet<string>,
  ): SlotIndex {
    const slots: Slot[] = views.map((v) => {
      const type = typeOf(v.arvadosInstanceType);
      // A new object, this slot's alone: charged in place.
      let free = resourcesOfType(type);
      for (const uuid of v.runningContainerUUIDs) {
        const charge = sizeOf(uuid);
        if (!charge) {
          // A container of unknown size: assume it leaves nothing to spare.
          free = noResources();
          break;
        }
        take(free, charge);
      }
      // The pool hands out new view objects: the pass may change them.
      return { view: v, type, free, rank: 0 };
    });
    if (drain) {
      const ids = drain(slots);
      if (ids.size > 0) for (const s of slots) if (ids.has(s.view.instance)) s.draining = true;
    }
    const ordered = placementOrder(slots);
    const index = new SlotIndex(maxPerInstance, warnings);
    ordered.forEach((s, i) => {
      s.rank = i;
      index.add(s);
    });
    return index;
  }

  /** Adds an instance created during the pass (after every other in the placement order). */
  addCreated(slot: Slot): void {
    slot.rank = CREATED_RANK + this.created++;
    this.add(slot);
  }

  /**
   * The instance to place a container of this shape (`types`, charged
   * `charge`) on, or undefined. `uuid` only names the container in a warning.
   */
  find(shape: number, types: readonly InstanceType[], charge: InstanceResources, uuid: string): Slot | undefined {
    let at = this.cursors[shape];
    if (!at) this.cursors[shape] = at = new Array<number>(types.length).fill(0);
    let best: Slot | undefined;
    for (let t = 0; t < types.length; t++) {
      const list = this.byType.get(types[t].Name);
      if (!list) continue;
      let i = at[t];
      while (i < list.length && !this.hasRoom(list[i], charge, uuid)) i++;
      at[t] = i;
      if (i < list.length && (!best || list[i].rank < best.rank)) best = list[i];
    }
    return best;
  }

  /**
   * Up to `limit` ready instances with room for a container of this shape,
   * in placement order per type (from where `find` left off for the shape),
   * for locality to choose among when the first fit is warm for another
   * container. Call after `find` for the same shape.
   */
  readyWithRoom(shape: number, types: readonly InstanceType[], charge: InstanceResources, limit: number): Slot[] {
    const at = this.cursors[shape];
    const out: Slot[] = [];
    for (let t = 0; t < types.length && out.length < limit; t++) {
      const list = this.byType.get(types[t].Name);
      if (!list) continue;
      for (let i = at?.[t] ?? 0; i < list.length && out.length < limit; i++) {
        const s = list[i];
        if (READY.has(s.view.workerState) && this.hasRoomFor(s, charge)) out.push(s);
      }
    }
    return out;
  }

  /** Holds the container's room on the instance. */
  allocate(slot: Slot, uuid: string, charge: InstanceResources): void {
    slot.free = minus(slot.free, charge);
    slot.view.runningContainerUUIDs.push(uuid);
  }

  /** The slot of an existing instance (not one created in this pass). */
  slotOf(id: string): Slot | undefined {
    if (!this.byId) {
      this.byId = new Map();
      for (const s of this.all) if (s.rank < CREATED_RANK) this.byId.set(s.view.instance, s);
    }
    return this.byId.get(id);
  }

  /** True if a container of one of `types` may be placed on the slot, room aside (the rule at the top). */
  eligible(slot: Slot, types: readonly InstanceType[]): boolean {
    return placeable(slot.view) && types.some((t) => t.Name === slot.view.arvadosInstanceType);
  }

  /** True if the slot has room for `charge` now (as `find` decides it, without its warning). */
  hasRoomFor(slot: Slot, charge: InstanceResources): boolean {
    if (this.maxPerInstance > 0 && slot.view.runningContainerUUIDs.length >= this.maxPerInstance) return false;
    return fits(slot.free, charge);
  }

  private add(slot: Slot): void {
    this.all.push(slot);
    if (!placeable(slot.view)) return;
    const name = slot.view.arvadosInstanceType;
    let list = this.byType.get(name);
    if (!list) this.byType.set(name, (list = []));
    list.push(slot);
  }

  private hasRoom(slot: Slot, charge: InstanceResources, uuid: string): boolean {
    if (this.hasRoomFor(slot, charge)) return true;
    const { view } = slot;
    if (view.workerState === 'idle' && view.runningContainerUUIDs.length === 0) {
      // The type was chosen as big enough, yet an empty instance of it is not.
      this.warnings.warn('BUG? insufficient resources on idle instance', {
        ContainerUUID: uuid,
        Instance: view.instance,
        InstanceType: view.arvadosInstanceType,
      });
    }
    return false;
  }
}

/**
 * The pool's instances in placement order (see the rule at the top): the
 * keys are read once into arrays and an index array is sorted, with ties
 * left in id order; a comparator that looks keys up on the objects costs
 * ~15 ms per pass at 10k instances.
 */
function placementOrder(slots: Slot[]): Slot[] {
  const byId = slots.every((s, i) => i === 0 || slots[i - 1].view.instance <= s.view.instance)
    ? slots
    : [...slots].sort((a, b) => compareCodeUnits(a.view.instance, b.view.instance));
  const m = byId.length;
  const ready = new Uint8Array(m);
  const count = new Uint32Array(m);
  const price = new Float64Array(m);
  const vcpus = new Float64Array(m);
  const ram = new Float64Array(m);
  const scratch = new Float64Array(m);
  for (let i = 0; i < m; i++) {
    const { view, type } = byId[i];
    // Draining is only ever set on ready instances that run something: they
    // rank with the empty ready ones, and before them by their count. With
    // nothing draining, this is the order of (ready, count).
    ready[i] = READY.has(view.workerState) ? (byId[i].draining || view.runningContainerUUIDs.length === 0 ? 1 : 2) : 0;
    count[i] = view.runningContainerUUIDs.length;
    price[i] = view.price;
    vcpus[i] = type?.VCPUs ?? 0;
    ram[i] = type?.RAM ?? 0;
    scratch[i] = type?.Scratch ?? 0;
  }
  const order = Array.from({ length: m }, (_, i) => i);
  order.sort(
    (a, b) =>
      ready[b] - ready[a] ||
      count[b] - count[a] ||
      price[a] - price[b] ||
      vcpus[b] - vcpus[a] ||
      ram[b] - ram[a] ||
      scratch[b] - scratch[a] ||
      a - b,
  );
  return order.map((i) => byId[i]);
}
