/**
 * The end-of-pass step that makes capacity ready before work arrives: after
 * the scheduler has placed what it could, it counts the idle VMs (booting
 * ones with nothing placed on them included) per type, compares them with
 * what the warm pools (`warm-pools.ts`) and pre-warming (`prewarm.ts`) want,
 * tells the pool which idle VMs not to shut down at TimeoutIdle, and
 * creates the missing ones.
 *
 * It creates nothing while the pool is at quota or containers wait for
 * quota (the queue needs the room more than speculation does), and a create
 * the pool declines (MaxInstances, throttles, capacity) ends the type's
 * creates for the pass. Pre-warmed VMs unused at once may cost at most
 * `MaxSpeculativeSpend` per hour. Every VM it creates carries a note
 * ("warm pool 0 (m5.large)", "pre-warmed for runner X's children (#7)")
 * that the pool keeps with the VM; a pre-warmed VM that disappears without
 * ever having run a container is counted as wasted, with its cost.
 */
import type { Clock } from '../clock/index.js';
import type { Settings } from '../config/settings.js';
import type { Cluster } from '../config/types.js';
import type { Logger } from '../log.js';
import type { InstanceView, QueueEntry, WorkerPool } from '../scheduler/interfaces.js';
import type { Parents } from './parents.js';
import { PreWarmLearner, type PreWarmNeed } from './prewarm.js';
import { warmPoolsOff, warmPoolTypeProblems, warmTargets } from './warm-pools.js';

/** The start of every pre-warmed VM's note: how the waste ledger finds them. */
export const PREWARM_NOTE = 'pre-warmed for runner ';

const HOUR = 3_600_000;

/** What the operator sees of the step (the metrics and the simulator's report read it). */
export interface CapacityStats {
  /** VMs created ahead of work, by why. */
  created: { warm_pool: number; prewarm: number };
  /** Pre-warmed VMs that ran a container. */
  prewarmUsed: number;
  /** Pre-warmed VMs that went away without running any container, and what they cost ($). */
  prewarmWasted: number;
  prewarmWastedCost: number;
}

export interface CapacityDeps {
  settings: Pick<Settings, 'WarmPools' | 'PreWarm'>;
  cluster: Pick<Cluster, 'InstanceTypes'>;
  pool: Pick<WorkerPool, 'create'> & { keepWarm?(ids: ReadonlySet<string>): void };
  clock: Clock;
  logger: Logger;
  /** Expected create-to-ready time of an instance type, ms (`src/estimate/boot.ts`). */
  bootMs(type: string): number;
  /** Which runner made each container's request (`parents.ts`); needed when pre-warming is on. */
  parents: Parents;
}

interface Speculation {
  price: number;
  firstSeen: number;
  lastSeen: number;
  used: boolean;
}

/**
 * Built only when a feature is on (`capacityPlanner`), so that with both off
 * the scheduler's pass pays one undefined check.
 */
export class CapacityPlanner {
  readonly stats: CapacityStats = { created: { warm_pool: 0, prewarm: 0 }, prewarmUsed: 0, prewarmWasted: 0, prewarmWastedCost: 0 };
  readonly learner = new PreWarmLearner();
  /** Pre-warmed VMs alive, by note (the note survives the pending id becoming the real one). */
  private readonly speculative = new Map<string, Speculation>();
  private seq = 0;

  constructor(private readonly deps: CapacityDeps) {}

  /**
   * @param instances every instance of the pass, with the containers the pass placed on them
   * @param entries the queue's snapshot the pass read (for pre-warming)
   * @param blocked the pool is at quota, or containers wait for quota: create nothing
   */
  afterPlacement(instances: Iterable<InstanceView>, entries: ReadonlyMap<string, QueueEntry>, blocked: boolean): void {
    const { settings, clock, pool } = this.deps;
    const now = clock.now();
    const idle = new Map<string, InstanceView[]>();
    const busy = new Map<string, number>();
    const seen = new Set<string>();
    for (const v of instances) {
      if (v.note?.startsWith(PREWARM_NOTE)) this.track(v, now, seen);
      if (v.idleBehavior !== 'run') continue;
      const type = v.arvadosInstanceType;
      if (v.runningContainerUUIDs.length > 0) busy.set(type, (busy.get(type) ?? 0) + 1);
      else if (v.workerState === 'idle' || v.workerState === 'booting') {
        let list = idle.get(type);
        if (!list) idle.set(type, (list = []));
        list.push(v);
      }
    }
    this.sweep(seen);

    const warm = warmTargets(settings.WarmPools, now, busy);
    let needs: PreWarmNeed[] = [];
    if (settings.PreWarm.Enable) {
      this.learner.observe(entries, now, this.deps.parents);
      needs = this.learner.needs(now, { bootMs: this.deps.bootMs, lead: settings.PreWarm.Lead, minConfidence: settings.PreWarm.MinConfidence });
      needs.sort((a, b) => a.arriveAt - b.arriveAt || (a.runner < b.runner ? -1 : 1));
    }
    const wanted = new Map<string, number>();
    for (const [type, t] of warm) wanted.set(type, t.count);
    for (const n of needs) wanted.set(n.type, (wanted.get(n.type) ?? 0) + n.vms);

    const keep = new Set<string>();
    const have = new Map<string, number>();
    for (const [type, count] of wanted) {
      const list = idle.get(type) ?? [];
      for (const v of list.slice(0, count)) keep.add(v.instance);
      have.set(type, list.length);
    }
    pool.keepWarm?.(keep);
    if (blocked) return;

    const declined = new Set<string>();
    for (const [type, t] of warm) {
      const missing = t.count - (have.get(type) ?? 0);
      for (let i = 0; i < missing && !declined.has(type); i++) {
        if (this.create(type, t.note, 'warm_pool')) have.set(type, (have.get(type) ?? 0) + 1);
        else declined.add(type);
      }
    }
    // Idle VMs beyond the warm target serve the pre-warming needs, soonest first.
    const spare = new Map<string, number>();
    for (const [type, n] of have) spare.set(type, n - (warm.get(type)?.count ?? 0));
    let spend = this.unusedSpend();
    for (const need of needs) {
      let missing = need.vms;
      const s = Math.max(0, spare.get(need.type) ?? 0);
      const covered = Math.min(s, missing);
      spare.set(need.type, s - covered);
      missing -= covered;
      const price = this.deps.cluster.InstanceTypes[need.type]?.Price ?? 0;
      for (let i = 0; i < missing && !declined.has(need.type); i++) {
        if (spend + price > settings.PreWarm.MaxSpeculativeSpend + 1e-9) break;
        const note = `${PREWARM_NOTE}${need.runner}'s children (#${++this.seq})`;
        if (!this.create(need.type, note, 'prewarm')) {
          declined.add(need.type);
          break;
        }
        spend += price;
        this.speculative.set(note, { price, firstSeen: now, lastSeen: now, used: false });
      }
    }
  }

  private create(typeName: string, note: string, why: keyof CapacityStats['created']): boolean {
    const type = this.deps.cluster.InstanceTypes[typeName];
    if (!type) return false;
    const created = this.deps.pool.create(type, note);
    if (!created) return false;
    this.stats.created[why]++;
    this.deps.logger.info('creating instance ahead of work', { InstanceType: typeName, Note: note });
    return true;
  }

  private track(v: InstanceView, now: number, seen: Set<string>): void {
    const note = v.note!;
    seen.add(note);
    const s = this.speculative.get(note);
    if (!s) return;
    s.lastSeen = now;
    if (!s.used && (v.runningContainerUUIDs.length > 0 || v.lastContainerUUID !== '')) {
      s.used = true;
      this.stats.prewarmUsed++;
    }
  }

  /** Pre-warmed VMs no longer listed are gone: unused ones were wasted. */
  private sweep(seen: ReadonlySet<string>): void {
    for (const [note, s] of this.speculative) {
      if (seen.has(note)) continue;
      this.speculative.delete(note);
      if (s.used) continue;
      this.stats.prewarmWasted++;
      this.stats.prewarmWastedCost += ((s.lastSeen - s.firstSeen) * s.price) / HOUR;
      this.deps.logger.info('pre-warmed instance went unused', { Note: note });
    }
  }

  /** $/h of pre-warmed VMs alive and not used yet. */
  private unusedSpend(): number {
    let total = 0;
    for (const s of this.speculative.values()) if (!s.used) total += s.price;
    return total;
  }
}

/** Stats added up (the simulator's restarts give one planner per dispatcher). */
export function sumCapacityStats(all: readonly CapacityStats[]): CapacityStats {
  const out: CapacityStats = { created: { warm_pool: 0, prewarm: 0 }, prewarmUsed: 0, prewarmWasted: 0, prewarmWastedCost: 0 };
  for (const s of all) {
    out.created.warm_pool += s.created.warm_pool;
    out.created.prewarm += s.created.prewarm;
    out.prewarmUsed += s.prewarmUsed;
    out.prewarmWasted += s.prewarmWasted;
    out.prewarmWastedCost += s.prewarmWastedCost;
  }
  return out;
}

/** The planner for these settings, or undefined when warm pools and pre-warming are both off. Throws for a pool of an unknown type. */
export function capacityPlanner(deps: CapacityDeps): CapacityPlanner | undefined {
  const problems = warmPoolTypeProblems(deps.settings.WarmPools, deps.cluster);
  if (problems.length > 0) throw new Error(`settings: ${problems.join('; ')}`);
  if (warmPoolsOff(deps.settings.WarmPools) && !deps.settings.PreWarm.Enable) return undefined;
  return new CapacityPlanner(deps);
}
