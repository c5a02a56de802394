/**
 * Cost accounting: what each VM has cost from its create call until it is
 * gone, and what each container has cost while it ran on one. "Gone" is
 * whatever the snapshots say: the pool leaves a VM out once a destroy call
 * for it succeeded, or once it left the cloud list
 * (`WorkerPoolImpl.costSnapshot`).
 *
 * The ledger integrates snapshots. Each `observe(now, vms)` charges the
 * interval since the previous observation at the previous snapshot's rates
 * (prices are piecewise constant between observations), then takes `vms` as
 * the new rates. The tracker (`tracker.ts`) observes on every pool change,
 * every minute and before reads, so a VM's or a container's start and end
 * are charged from the change that showed them.
 *
 * How a VM's price is split: at each moment, among the containers running
 * on it, in proportion to the VCPUs each asked for (equally when none says,
 * e.g. adopted containers the queue does not know). So while any container
 * runs, the whole VM price is charged to containers; a VM with no container
 * (booting, idle, shutting down) charges nobody but itself. Idle time is the
 * VM's, not the containers'.
 *
 * Billing granularity (`billing.ts`): a VM whose type has a billing rule
 * is also charged, at its current price, the time its life so far has
 * committed it to beyond that life (the rest of its minimum or of the
 * increment it is in). That extra is the VM's, never a container's, and is
 * recomputed at each observation, so a gone VM keeps what its whole life
 * was billed. Creates in flight (`placeholder`) are not billed any extra:
 * a create that fails bought nothing.
 *
 * Memory is bounded: gone VMs and finished containers are kept, oldest
 * forgotten first, up to `maxFinished` each.
 */
import { billedMs, type BillingRule } from './billing.js';
import { compareCodeUnits } from '../compare.js';

/** One VM as the ledger needs it, at one moment. */
export interface CostVm {
  /** The cloud's id, or the pool's placeholder id while the create call runs. */
  id: string;
  /** The placeholder id this VM had while its create call ran: its cost so far moves to `id`. */
  pendingId?: string;
  instanceType: string;
  preemptible: boolean;
  /** What it costs now, dollars per hour (`currentPrice`). */
  pricePerHour: number;
  /** Containers started or running on it now. */
  containers: readonly string[];
  /** A create call still in flight: billed by the time only, whatever its type's rule. */
  placeholder?: boolean;
}

/** What one VM has cost. */
export interface VmCost {
  instanceType: string;
  preemptible: boolean;
  /** Dollars so far. */
  dollars: number;
  /** Its current price per hour (its last price once gone). */
  pricePerHour: number;
  /** Epoch ms it was first observed (its create call, for VMs we created). */
  since: number;
  /** Epoch ms it left the snapshot; undefined while alive. */
  goneAt?: number;
}

/** What one container has cost. */
export interface ContainerCost {
  /** Dollars so far, over every VM it ran on. */
  dollars: number;
  /** The VM it runs on now, or ran on last. */
  instance: string;
  running: boolean;
}

/** Spend so far for one instance type and one preemptible flag (the spend counter's labels). */
export interface SpendTotal {
  instanceType: string;
  preemptible: boolean;
  dollars: number;
}

export interface CostLedgerOptions {
  /** A container's weight in the split (its VCPUs); undefined or not positive: no weight known. */
  weightOf?: (uuid: string) => number | undefined;
  /** How many gone VMs and finished containers to keep. Default 10,000. */
  maxFinished?: number;
  /** The billing rule of an instance type (by name); none: billed for exactly its life. */
  billingOf?: (instanceType: string) => BillingRule | undefined;
}

const MS_PER_HOUR = 3_600_000;

export class CostLedger {
  private readonly vms = new Map<string, VmRecord>();
  private readonly containers = new Map<string, ContainerRecord>();
  /** Gone VMs and finished containers, oldest first (a Map keeps insertion order). */
  private readonly goneVms = new Map<string, true>();
  private readonly finished = new Map<string, true>();
  private readonly totals = new Map<string, SpendTotal>();
  /** The VMs of the last snapshot, resolved to the records their charges go to. */
  private live: LiveVm[] = [];
  private last: number | undefined;
  /** Bumped at each observation: a record not marked with the current one was not in the snapshot. */
  private epoch = 0;
  private readonly maxFinished: number;

  constructor(private opts: CostLedgerOptions = {}) {
    this.maxFinished = opts.maxFinished ?? 10_000;
  }

  /**
   * No more observations: drops the callbacks into whatever fed the ledger,
   * so that a ledger kept for its figures (the simulator keeps one per
   * dispatcher) does not keep that dispatcher alive. Observing afterwards
   * charges as a ledger built without them would.
   */
  close(): void {
    this.opts = {};
  }

  /** Charges the time since the last observation at the last snapshot's rates, then takes `vms` as what runs now. */
  observe(now: number, vms: readonly CostVm[]): void {
    if (this.last !== undefined && now > this.last) {
      this.charge((now - this.last) / MS_PER_HOUR);
      if (this.opts.billingOf) this.chargeBilled(now);
    }
    if (this.last === undefined || now > this.last) this.last = now;
    this.replace(now, vms);
  }

  /** What the VMs alive at the last observation cost per hour, dollars. */
  costPerHour(): number {
    let sum = 0;
    for (const l of this.live) sum += l.vm.pricePerHour;
    return sum;
  }

  /**
   * Visits each VM alive at the last observation with its price and the
   * containers on it, each with its share of the price (the split above);
   * for a cap per owner (`src/placement/spending-cap.ts`).
   */
  eachLive(visit: (id: string, pricePerHour: number, containers: readonly string[], shares: readonly number[]) => void): void {
    for (const l of this.live) visit(l.vm.id, l.vm.pricePerHour, l.uuids, l.shares);
  }

  vm(id: string): Readonly<VmCost> | undefined {
    const r = this.vms.get(id);
    return r && publicVm(r);
  }

  container(uuid: string): Readonly<ContainerCost> | undefined {
    const r = this.containers.get(uuid);
    return r && { dollars: r.dollars, instance: r.instance, running: r.running };
  }

  /** Spend so far by instance type and preemptible, sorted by type then flag. */
  spend(): SpendTotal[] {
    return [...this.totals.values()]
      .map((t) => ({ ...t }))
      .sort((a, b) => compareCodeUnits(a.instanceType, b.instanceType) || Number(a.preemptible) - Number(b.preemptible));
  }

  /** Every dollar charged so far, to VMs (containers' shares are part of it, not added). */
  totalDollars(): number {
    let sum = 0;
    for (const t of this.totals.values()) sum += t.dollars;
    return sum;
  }

  private charge(hours: number): void {
    for (const l of this.live) {
      const dollars = l.vm.pricePerHour * hours;
      l.vm.dollars += dollars;
      l.vm.total.dollars += dollars;
      for (let i = 0; i < l.containers.length; i++) l.containers[i]!.dollars += dollars * l.shares[i]!;
    }
  }

  /** Brings each billed VM's committed extra (`billing.ts`) up to its life at `now`. */
  private chargeBilled(now: number): void {
    for (const l of this.live) {
      const vm = l.vm;
      if (!vm.rule) continue;
      const life = now - vm.since;
      const extra = ((billedMs(vm.rule, life) - life) * vm.pricePerHour) / MS_PER_HOUR;
      vm.dollars += extra - vm.billedExtra;
      vm.total.dollars += extra - vm.billedExtra;
      vm.billedExtra = extra;
    }
  }

  // Runs at every pool change, over every VM: kept to lookups and marks, no
  // per-VM allocation unless something changed.
  private replace(now: number, vms: readonly CostVm[]): void {
    const epoch = ++this.epoch;
    const prev = this.live;
    const live: LiveVm[] = new Array<LiveVm>(vms.length);
    for (let i = 0; i < vms.length; i++) {
      const snap = vms[i]!;
      const vm = this.vmRecord(snap, now);
      vm.pricePerHour = snap.pricePerHour;
      if (!snap.placeholder && vm.rule === undefined && this.opts.billingOf) vm.rule = this.opts.billingOf(snap.instanceType) ?? null;
      vm.seen = epoch;
      live[i] = { vm, containers: this.containerRecords(snap, epoch), uuids: snap.containers, shares: this.shares(snap.containers) };
    }
    for (const l of prev) {
      if (l.vm.seen !== epoch && l.vm.goneAt === undefined && this.vms.get(l.vm.id) === l.vm) {
        l.vm.goneAt = now;
        remember(this.goneVms, l.vm.id, this.maxFinished, (id) => this.vms.delete(id));
      }
      for (const c of l.containers) {
        if (c.seen !== epoch && c.running) {
          c.running = false;
          remember(this.finished, c.uuid, this.maxFinished, (id) => this.containers.delete(id));
        }
      }
    }
    this.live = live;
  }

  private vmRecord(snap: CostVm, now: number): VmRecord {
    const found = this.vms.get(snap.id);
    if (found) return found;
    const before = snap.pendingId === undefined ? undefined : this.vms.get(snap.pendingId);
    const vm: VmRecord = {
      id: snap.id,
      instanceType: snap.instanceType,
      preemptible: snap.preemptible,
      dollars: before?.dollars ?? 0,
      pricePerHour: snap.pricePerHour,
      since: before?.since ?? now,
      total: this.totalFor(snap),
      seen: 0,
      billedExtra: 0,
    };
    this.vms.set(snap.id, vm);
    if (before) {
      // The placeholder is now this VM: its cost moved here, so it must not also stay as a VM of its own.
      this.vms.delete(snap.pendingId!);
      this.goneVms.delete(snap.pendingId!);
    }
    return vm;
  }

  private containerRecords(snap: CostVm, epoch: number): readonly ContainerRecord[] {
    if (snap.containers.length === 0) return NONE;
    return snap.containers.map((uuid) => {
      let c = this.containers.get(uuid);
      if (!c) {
        c = { uuid, dollars: 0, instance: snap.id, running: true, seen: epoch };
        this.containers.set(uuid, c);
      } else if (!c.running || c.instance !== snap.id) {
        c.instance = snap.id;
        c.running = true;
        this.finished.delete(uuid);
      }
      c.seen = epoch;
      return c;
    });
  }

  private totalFor(snap: CostVm): SpendTotal {
    const key = `${snap.instanceType}\u0000${snap.preemptible}`;
    let total = this.totals.get(key);
    if (!total) {
      total = { instanceType: snap.instanceType, preemptible: snap.preemptible, dollars: 0 };
      this.totals.set(key, total);
    }
    return total;
  }

  /** Each container's share of its VM: by VCPUs asked for, equally when none is known. */
  private shares(uuids: readonly string[]): readonly number[] {
    if (uuids.length === 0) return NO_SHARES;
    if (uuids.length === 1) return WHOLE;
    const weights = uuids.map((uuid) => Math.max(0, this.opts.weightOf?.(uuid) ?? 0));
    const sum = weights.reduce((a, b) => a + b, 0);
    return weights.map((w) => (sum > 0 ? w / sum : 1 / uuids.length));
  }
}

interface VmRecord extends VmCost {
  id: string;
  total: SpendTotal;
  seen: number;
  /** Its type's billing rule; null: none; undefined: not looked up yet (a placeholder). */
  rule?: BillingRule | null;
  /** Dollars charged beyond its life so far because of `rule`, included in `dollars`. */
  billedExtra: number;
}

interface ContainerRecord extends ContainerCost {
  uuid: string;
  seen: number;
}

interface LiveVm {
  vm: VmRecord;
  containers: readonly ContainerRecord[];
  uuids: readonly string[];
  shares: readonly number[];
}

const NONE: readonly ContainerRecord[] = [];
const NO_SHARES: readonly number[] = [];
const WHOLE: readonly number[] = [1];

function publicVm(r: VmRecord): VmCost {
  return {
    instanceType: r.instanceType,
    preemptible: r.preemptible,
    dollars: r.dollars,
    pricePerHour: r.pricePerHour,
    since: r.since,
    ...(r.goneAt === undefined ? {} : { goneAt: r.goneAt }),
  };
}

/** Adds `id` to the newest end of `order`, forgetting the oldest beyond `max`. */
function remember(order: Map<string, true>, id: string, max: number, forget: (id: string) => void): void {
  order.delete(id);
  order.set(id, true);
  while (order.size > max) {
    const oldest = order.keys().next().value as string;
    order.delete(oldest);
    forget(oldest);
  }
}
