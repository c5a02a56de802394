/**
 * What the dispatcher knows of spot VMs the provider took back: counts per
 * (instance type, zone, preemptible) since start, and a decayed rate per
 * type (reclaims over VMs created, each weighing less as it ages) that the
 * scheduler may rank spot types by (`reclaim-plan.ts`).
 *
 * It reads the pool's events: `instanceCreated` counts a VM of a type,
 * `instanceReclaimed` a reclaim (once per VM, at its notice or when it is
 * gone, whichever comes first) and, when the VM is gone, the containers
 * whose work went with it. Always on: it only counts.
 */
import type { Clock } from '../clock/index.js';
import type { PoolEvent } from '../worker/pool-config.js';
import { compareCodeUnits } from '../compare.js';

/** A value that halves every `halfLifeMs`; `add` and `read` bring it to `now` first. */
export class Decayed {
  private value = 0;
  private at = 0;

  constructor(private readonly halfLifeMs: number) {}

  add(now: number, n = 1): void {
    this.value = this.read(now) + n;
    this.at = now;
  }

  read(now: number): number {
    if (this.value === 0 || now <= this.at) return this.value;
    return this.value * Math.pow(2, -(now - this.at) / this.halfLifeMs);
  }
}

/** One (type, zone, preemptible) row of counts, for the metrics and the status page. */
export interface ReclaimRow {
  instanceType: string;
  zone: string;
  preemptible: boolean;
  /** VMs reclaimed since the dispatcher started. */
  reclaimed: number;
  /** Containers whose work was lost with them. */
  containersLost: number;
}

/** A VM's work lost to a reclaim: what escalation reads (`reclaim-plan.ts`). */
export interface LostWork {
  instanceId: string;
  instanceType: string;
  containers: readonly string[];
}

/** Reclaims remembered (VM ids counted at notice, waiting for their `gone`) at most. */
const MAX_NOTICED = 10_000;

export class ReclaimTracker {
  private readonly rows = new Map<string, ReclaimRow>();
  private readonly created = new Map<string, Decayed>();
  private readonly reclaimedByType = new Map<string, Decayed>();
  /** VMs already counted at their notice, so that their `gone` counts only the containers. */
  private readonly counted = new Set<string>();
  private readonly lostListeners: Array<(lost: LostWork) => void> = [];
  /** Totals since start. */
  vms = 0;
  containers = 0;
  notices = 0;

  constructor(
    private readonly clock: Clock,
    private readonly halfLifeMs: number,
  ) {}

  /** Reads one pool event (the dispatcher passes every one). */
  observe(event: PoolEvent): void {
    if (event.type === 'instanceCreated') {
      this.decayed(this.created, event.instanceType).add(this.clock.now());
      return;
    }
    if (event.type !== 'instanceReclaimed') return;
    const first = !this.counted.has(event.instanceId);
    if (event.phase === 'notice') {
      this.notices++;
      if (!first) return;
      if (this.counted.size >= MAX_NOTICED) this.counted.delete(this.counted.values().next().value!);
      this.counted.add(event.instanceId);
    } else {
      this.counted.delete(event.instanceId);
    }
    const row = this.row(event.instanceType, event.zone, event.preemptible);
    if (first) {
      row.reclaimed++;
      this.vms++;
      this.decayed(this.reclaimedByType, event.instanceType).add(this.clock.now());
    }
    if (event.phase === 'gone' && event.containers.length > 0) {
      row.containersLost += event.containers.length;
      this.containers += event.containers.length;
      const lost: LostWork = { instanceId: event.instanceId, instanceType: event.instanceType, containers: event.containers };
      for (const fn of this.lostListeners) fn(lost);
    }
  }

  /** Calls `fn` for each VM gone with containers on it. */
  onLost(fn: (lost: LostWork) => void): void {
    this.lostListeners.push(fn);
  }

  /**
   * The share of recent VMs of `typeName` that were reclaimed, in [0, 1]:
   * decayed reclaims over decayed creates (at least one, so that a type
   * adopted at a restart, or reclaimed once early, is not taken as always lost).
   */
  rate(typeName: string): number {
    const r = this.reclaimedByType.get(typeName);
    if (!r) return 0;
    const now = this.clock.now();
    return Math.min(1, r.read(now) / Math.max(1, this.created.get(typeName)?.read(now) ?? 0));
  }

  /** `rate` of every type reclaimed at least once, by type name. */
  rates(): Array<{ instanceType: string; rate: number }> {
    return [...this.reclaimedByType.keys()].sort(compareCodeUnits).map((instanceType) => ({ instanceType, rate: this.rate(instanceType) }));
  }

  /** Every row, by type then zone then preemptible. */
  snapshot(): ReclaimRow[] {
    return [...this.rows.values()]
      .map((r) => ({ ...r }))
      .sort((a, b) => compareCodeUnits(a.instanceType, b.instanceType) || compareCodeUnits(a.zone, b.zone) || Number(a.preemptible) - Number(b.preemptible));
  }

  private row(instanceType: string, zone: string, preemptible: boolean): ReclaimRow {
    const key = `${instanceType}\u0000${zone}\u0000${preemptible}`;
    let row = this.rows.get(key);
    if (!row) this.rows.set(key, (row = { instanceType, zone, preemptible, reclaimed: 0, containersLost: 0 }));
    return row;
  }

  private decayed(map: Map<string, Decayed>, key: string): Decayed {
    let d = map.get(key);
    if (!d) map.set(key, (d = new Decayed(this.halfLifeMs)));
    return d;
  }
}
