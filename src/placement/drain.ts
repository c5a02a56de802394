/**
 * Drain to save (issue 15, part 3): with several containers per VM, a
 * cluster that shrinks keeps many partly used VMs, each paid in full. When
 * the running containers would fit on fewer VMs, the worst-value VMs (price
 * per used share) are marked draining: the slot choice (`slots.ts`) puts
 * them behind every other ready VM, so new containers go elsewhere, and the
 * draining VMs empty as their containers finish, go idle and are shut down
 * by the usual TimeoutIdle. Running work is never stopped or moved. Only
 * while the cluster shrinks: a VM drains only if no VM of its type was
 * created, and no draining VM of its type had to take a container, for the
 * settings' QuietPeriod.
 *
 * A draining VM still takes a container that no other ready VM can take
 * now: it ranks before booting VMs and new ones, so drain never makes a
 * container wait for a boot while a draining VM could start it. Drain can
 * still cost a wait later: a VM it emptied is gone when a new container
 * needs one of its type. `DrainPlanner.vmCreated` counts those (see
 * `BLAME_WINDOW_MS`), for the simulator's report and the metrics.
 */
import type { InstanceType } from '../config/types.js';
import type { InstanceResources } from '../scheduler/interfaces.js';
import { fits } from '../scheduler/resources.js';
import { READY, type Slot } from '../scheduler/slots.js';
import { MinHeap } from '../estimate/heap.js';

/** One ready VM with containers, as the drain choice sees it. */
export interface DrainVM {
  id: string;
  /** Price per hour. */
  price: number;
  /** What its type offers. */
  capacity: InstanceResources;
  /** What its containers are charged. */
  used: InstanceResources;
  containers: number;
  /** False: a home for others' load, never drained itself (its type was short of room lately). Default true. */
  mayDrain?: boolean;
}

/** Why a VM drains: for the management API's instance items. */
export interface DrainMark {
  /** The share of its most used resource its containers use, in [0, 1]. */
  usedShare: number;
  /** One sentence, e.g. "running 1 of 8 VCPUs and 2 GiB of 32 GiB RAM; its 1 container would fit on other instances". */
  reason: string;
}

/**
 * How many of the VMs with the most VCPUs free are tried as a home for one
 * VM's load. A few, not one, so that a VM short of RAM but rich in VCPUs
 * does not hide the next one; not all, so that a pass stays
 * O(instances log instances).
 */
const BINS_TRIED = 4;

/**
 * How long after a VM drain emptied a new VM of its type counts as a wait
 * drain caused. Without drain the emptied VM would most likely have taken
 * new work in the minutes after; much later, the cluster's shrinking, not
 * drain, explains that no VM was there.
 */
export const BLAME_WINDOW_MS = 10 * 60_000;

/** The share of its most used resource: what decides how well a VM is used. */
export function usedShare(vm: Pick<DrainVM, 'capacity' | 'used'>): number {
  let share = 0;
  for (const k of ['vcpus', 'ram', 'scratch', 'gpus', 'gpuVRAM'] as const) {
    if (vm.capacity[k] > 0) share = Math.max(share, vm.used[k] / vm.capacity[k]);
  }
  return Math.min(1, share);
}

interface Bin {
  /** Position in the list of bins: its id in the heap. */
  index: number;
  vm: DrainVM;
  load: InstanceResources;
  /** True once chosen to drain: skipped when met in the heap. */
  gone: boolean;
}

/**
 * The VMs to drain, by id. Candidates are the VMs already draining (first,
 * so that the set does not flap from pass to pass: a draining VM keeps
 * draining while its load still fits elsewhere, however its share moved)
 * and those used at most `maxUsedShare`, worst value first (highest price
 * per used share). A candidate drains when its whole load (its own
 * containers, plus what earlier candidates were counted onto it) fits in
 * the room left on one of the kept VMs, which is then counted as holding
 * it; so the running containers would indeed fit on the VMs that remain.
 * Bin packing by first fit decreasing over VMs, not containers: a VM's
 * containers are moved as one bundle, which only ever drains less.
 */
export function chooseDrain(vms: readonly DrainVM[], draining: ReadonlySet<string>, maxUsedShare: number): Map<string, DrainMark> {
  const bins: Bin[] = vms.filter((vm) => vm.containers > 0).map((vm, index) => ({ index, vm, load: { ...vm.used }, gone: false }));
  const share = new Map(bins.map((b) => [b, usedShare(b.vm)]));
  const score = (b: Bin): number => b.vm.price / Math.max(share.get(b)!, 1e-9);
  const candidates = bins
    .filter((b) => b.vm.mayDrain !== false && (draining.has(b.vm.id) || share.get(b)! <= maxUsedShare))
    .sort((a, b) => Number(draining.has(b.vm.id)) - Number(draining.has(a.vm.id)) || score(b) - score(a) || (a.vm.id < b.vm.id ? -1 : 1));
  const heap = new RoomHeap(bins);
  const out = new Map<string, DrainMark>();
  for (const c of candidates) {
    const home = heap.findHome(c);
    if (!home) continue;
    add(home.load, c.load);
    heap.push(home);
    c.gone = true;
    out.set(c.vm.id, { usedShare: share.get(c)!, reason: drainReason(c.vm) });
  }
  return out;
}

function add(to: InstanceResources, x: InstanceResources): void {
  to.vcpus += x.vcpus;
  to.ram += x.ram;
  to.scratch += x.scratch;
  to.gpus += x.gpus;
  to.gpuVRAM += x.gpuVRAM;
}

function room(b: Bin): InstanceResources {
  const { capacity } = b.vm;
  return {
    vcpus: capacity.vcpus - b.load.vcpus,
    ram: capacity.ram - b.load.ram,
    scratch: capacity.scratch - b.load.scratch,
    gpus: capacity.gpus - b.load.gpus,
    gpuVRAM: capacity.gpuVRAM - b.load.gpuVRAM,
  };
}

/** The kept VMs, most VCPUs free on top; a bin's key changes only while it is out of the heap. */
class RoomHeap {
  private readonly heap = new MinHeap();

  constructor(private readonly bins: readonly Bin[]) {
    bins.forEach((_, i) => this.pushAt(i));
  }

  /**
   * Takes out one of the top `BINS_TRIED` kept VMs (other than `c`) that has
   * room for `c`'s load, or undefined; the others go back.
   */
  findHome(c: Bin): Bin | undefined {
    const back: number[] = [];
    let found: Bin | undefined;
    let tried = 0;
    while (tried < BINS_TRIED && this.heap.size > 0) {
      const i = this.heap.pop()!.id;
      const b = this.bins[i];
      if (b.gone) continue;
      if (b !== c) {
        tried++;
        if (fits(room(b), c.load)) {
          found = b;
          break;
        }
      }
      back.push(i);
    }
    for (const i of back) this.pushAt(i);
    return found;
  }

  /** Puts a bin taken out by `findHome` back, at its new key. */
  push(b: Bin): void {
    this.pushAt(b.index);
  }

  private pushAt(i: number): void {
    const b = this.bins[i];
    this.heap.push({ key: b.load.vcpus - b.vm.capacity.vcpus, id: i, version: 0 });
  }
}

const GiB = 2 ** 30;

function drainReason(vm: DrainVM): string {
  const n = (x: number): string => String(Math.round(x * 100) / 100);
  const { used, capacity } = vm;
  const ctrs = vm.containers === 1 ? 'its 1 container' : `its ${vm.containers} containers`;
  return `running ${n(used.vcpus)} of ${n(capacity.vcpus)} VCPUs and ${n(used.ram / GiB)} of ${n(capacity.ram / GiB)} GiB RAM; ${ctrs} would fit on other instances`;
}

/** What drain did, for the metrics and the simulator's report. */
export interface DrainStats {
  /** VMs draining after the last pass. */
  draining: number;
  /** The sum of their prices: what the cluster saves per hour once they have emptied and shut down. */
  savingPerHour: number;
  /** Containers started on a draining VM because no other ready VM could take them then. */
  tookDraining: number;
  /** Containers that waited for a new VM of a type drain had emptied a VM of shortly before (see `BLAME_WINDOW_MS`). */
  waited: number;
  /** VMs that drained until they had no containers left. */
  emptied: number;
}

/** A VM drain emptied: who may be blamed for a later wait. */
interface Emptied {
  type: string;
  at: number;
  /** No longer in the pool (shut down). */
  gone: boolean;
}

/**
 * Drain across passes: the set chosen last pass (for the hysteresis), the
 * VMs it emptied (for the blame), and the counts. The scheduler calls
 * `plan` once per pass (from `SlotIndex.build`), `tookDraining` when it
 * starts a container on a draining VM, and `vmCreated` when it creates a VM.
 */
export class DrainPlanner {
  private marks = new Map<string, DrainMark & { since: number }>();
  private readonly emptied = new Map<string, Emptied>();
  private readonly counts = { tookDraining: 0, waited: 0, emptied: 0 };
  private saving = 0;
  /** By type name: when a VM of it was last created, or a draining one started a container (epoch ms). */
  private readonly lastShort = new Map<string, number>();

  constructor(private readonly settings: { MaxUsedShare: number; QuietPeriod: number }) {}

  /** The instances to drain this pass, chosen among `slots` (every instance of the pass). */
  plan(slots: readonly Slot[], now: number): ReadonlySet<string> {
    const present = new Map<string, Slot>();
    const vms: DrainVM[] = [];
    for (const s of slots) {
      const { view, type } = s;
      present.set(view.instance, s);
      if (!type || !READY.has(view.workerState) || view.idleBehavior !== 'run' || view.runningContainerUUIDs.length === 0) continue;
      const capacity = { vcpus: type.VCPUs, ram: type.RAM, scratch: type.Scratch, gpus: type.GPU.DeviceCount, gpuVRAM: type.GPU.VRAM };
      const used = {
        vcpus: capacity.vcpus - s.free.vcpus,
        ram: capacity.ram - s.free.ram,
        scratch: capacity.scratch - s.free.scratch,
        gpus: capacity.gpus - s.free.gpus,
        gpuVRAM: capacity.gpuVRAM - s.free.gpuVRAM,
      };
      // While VMs of its type are still being created, or the VMs kept fill
      // up and send work back to the draining ones, emptying one only means
      // booting another soon: its type must have been quiet a while.
      const mayDrain = now - (this.lastShort.get(view.arvadosInstanceType) ?? -Infinity) >= this.settings.QuietPeriod;
      vms.push({ id: view.instance, price: view.price, capacity, used, containers: view.runningContainerUUIDs.length, mayDrain });
    }
    const chosen = chooseDrain(vms, new Set(this.marks.keys()), this.settings.MaxUsedShare);

    // A VM that left the set with no containers was emptied by drain; one
    // that vanished with containers was lost (preempted, broken), not drained.
    for (const id of this.marks.keys()) {
      const s = present.get(id);
      if (!chosen.has(id) && s && s.view.runningContainerUUIDs.length === 0) {
        this.emptied.set(id, { type: s.view.arvadosInstanceType, at: now, gone: false });
        this.counts.emptied++;
      }
    }
    for (const [id, e] of this.emptied) {
      const s = present.get(id);
      // Given new work before it shut down, it was not lost to drain after all.
      if (now - e.at > BLAME_WINDOW_MS || (s && s.view.runningContainerUUIDs.length > 0)) this.emptied.delete(id);
      else if (!s) e.gone = true;
    }

    const marks = new Map<string, DrainMark & { since: number }>();
    this.saving = 0;
    for (const [id, m] of chosen) {
      marks.set(id, { ...m, since: this.marks.get(id)?.since ?? now });
      this.saving += present.get(id)!.view.price;
    }
    this.marks = marks;
    return new Set(chosen.keys());
  }

  /** A container was started on a draining VM of this type: nothing else ready could take it, so the VMs kept are short of room. */
  tookDraining(type: string, now: number): void {
    this.counts.tookDraining++;
    this.lastShort.set(type, now);
  }

  /**
   * A VM of type `created` was created for a container eligible for
   * `types`: that type is short of room (no VM of it starts draining for
   * QuietPeriod). If drain emptied a VM of one of `types` within
   * `BLAME_WINDOW_MS` and it has since shut down, that VM could have run the
   * container now: returns its id (each emptied VM is blamed once).
   */
  vmCreated(created: string, types: readonly InstanceType[], now: number): string | undefined {
    this.lastShort.set(created, now);
    for (const [id, e] of this.emptied) {
      if (!e.gone || now - e.at > BLAME_WINDOW_MS || !types.some((t) => t.Name === e.type)) continue;
      this.emptied.delete(id);
      this.counts.waited++;
      return id;
    }
    return undefined;
  }

  /** Why the instance drains (and since when, epoch ms), or undefined when it does not. */
  mark(instanceId: string): (DrainMark & { since: number }) | undefined {
    return this.marks.get(instanceId);
  }

  stats(): DrainStats {
    return { draining: this.marks.size, savingPerHour: this.saving, ...this.counts };
  }
}
