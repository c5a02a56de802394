/**
 * The start-time forecast: a pure function from the waiting containers (in
 * scheduling order), the instances, the limits and what has been learnt, to
 * an earliest, typical and latest start time for each container.
 *
 * Method, run once per band (low, typical, high runtimes):
 * - Exact for the first `exactLimit` containers: a discrete-event play of
 *   the scheduler. Each instance has a time cursor (its last start) and the
 *   reservations still running then. A running container is expected to
 *   end at its estimate less the time it has run (no sooner than a tenth of
 *   it), but while no instance may be added a container waits for many of
 *   them, and in the typical band they end at quantiles spread over their
 *   time left given how long each has run (`remainingAt`): the order in
 *   which many end is the distribution's, not their medians' (at a steady
 *   limit, half of them have run past their median). A container goes where it can start
 *   soonest: on an eligible instance (once enough of its reservations end),
 *   on a new instance (now + that type's boot time, while under
 *   MaxInstances and the quota; a type at capacity only after the capacity
 *   retry), or, when no instance may be added, in place of the instance the
 *   scheduler shuts down first for it: one already shut down, else the
 *   first to have nothing to run (booting or idle; the scheduler does not
 *   wait TimeoutIdle while a container waits at the limit), never one on
 *   hold (a forecast that counted on it would promise a start that never
 *   comes). The new instance is created once the pool no longer counts the
 *   old one (the next cloud listing without it), then boots. At
 *   MaxInstances the scheduler shuts down one instance at a time, the next
 *   once the last is no longer counted (or TimeoutIdle after it empties,
 *   when the pool shuts it down itself); under a quota error, every idle
 *   one at once.
 *   The concurrency limit holds the start back until enough of the
 *   containers ahead have ended, or, while it may grow (the controller is
 *   not overloaded and no quota has been met), until everything admitted
 *   so far has started: the scheduler then raises it to a tenth past the
 *   running count. A container admitted late that needs a new instance
 *   boots it from then. Instances sit in per-type heaps keyed by a
 *   lower bound of when they could take anything, so a container looks at
 *   a handful of instances, not all.
 * - Coarse beyond that: the first ones take the instances still allowed
 *   (now + boot); the rest start when the fleet's VCPUs (and the
 *   concurrency limit) have worked through everything ahead of them, as a
 *   fluid: (work ahead in VCPU-ms) / (fleet VCPUs).
 *
 * Times are epoch ms. A container no instance type fits gets Infinity.
 */
import { regrown } from '../scheduler/limits.js';
import { BinaryHeap } from '../heap.js';
import { type HeapEntry, MinHeap } from './heap.js';
import type { ForecastContainer, ForecastInput, ForecastResult, Need } from './forecast-input.js';
import { fitTime, type Inst, lowerBound, type Reservation, shutdownAt, spreadQuantile } from './forecast-instance.js';
import { remaining, remainingAt } from './history.js';

export type { ForecastContainer, ForecastInput, ForecastInstance, ForecastLimits, ForecastResult, ForecastRunning, Need } from './forecast-input.js';

export const DEFAULT_EXACT_LIMIT = 2000;

/**
 * Instances of one type looked at per container, soonest lower bound
 * first. The bound is exact for a container that fits the instance's free
 * room; instances with some room but not enough keep a low bound and would
 * otherwise be looked at for every container. Past this many, the best so
 * far is taken: a forecast, not a placement.
 */
const MAX_CANDIDATES = 32;

type Band = 'low' | 'typical' | 'high';

const UNLIMITED: Need = { vcpus: Infinity, ram: Infinity, gpus: Infinity };
const NO_ROOM: Need = { vcpus: 0, ram: 0, gpus: 0 };

export function forecast(input: ForecastInput): ForecastResult {
  const n = input.containers.length;
  const exact = Math.min(n, input.exactLimit ?? DEFAULT_EXACT_LIMIT);
  const out: ForecastResult = { low: new Float64Array(n), typical: new Float64Array(n), high: new Float64Array(n), exact };
  for (const band of ['low', 'typical', 'high'] as const) new BandPlay(input, band, out[band]).run(exact);
  return out;
}

/** One band's play of the scheduler (see the file comment). */
class BandPlay {
  private readonly insts: Inst[] = [];
  private readonly byType = new Map<string, MinHeap>();
  /**
   * The instances the pool would shut down, by when (`shutdownAt`): the one to replace when no
   * instance may be added. At equal times one already shut down comes first: it is replaced first.
   */
  private readonly byShutdown = new BinaryHeap<ShutdownEntry>((a, b) => a.key < b.key || (a.key === b.key && a.leaving && !b.leaving));
  /** Ends of the containers running or placed, for the concurrency limit. */
  private readonly ends = new MinHeap();
  private creatable: number;
  private readonly now: number;
  /** The concurrency limit as it stands at this point of the play (it may grow). */
  private maxContainers: number;
  /** The latest start of anything admitted so far: once it has passed, every admitted container runs. */
  private latestStart: number;
  /** When the limit last rose: what is let in after that is locked no earlier. */
  private admitAt = -Infinity;
  /** At MaxInstances: when the last instance shut down for a replacement is no longer counted, so the next may be shut down. */
  private leavingUntil: number;

  constructor(
    private readonly input: ForecastInput,
    private readonly band: Band,
    private readonly out: Float64Array,
  ) {
    this.now = input.now;
    const { limits } = input;
    this.maxContainers = limits.maxContainers;
    this.latestStart = this.now;
    // Every instance counts, one shut down and not yet gone from the listing too.
    this.creatable = limits.atQuota ? 0 : limits.maxInstances > 0 ? Math.max(0, limits.maxInstances - input.instances.length) : Infinity;
    let runs = 0;
    this.leavingUntil = this.now;
    for (const i of input.instances) {
      if (i.state === 'leaving') {
        const leftAt = i.shutdownAt ?? this.now;
        this.leavingUntil = Math.max(this.leavingUntil, this.goneAt(leftAt));
        // No room for work; `leftAt` makes it the first to be replaced.
        this.add({ id: 0, type: i.type, cap: NO_ROOM, readyAt: this.now, cursor: this.now, res: [], idleBehavior: 'drain', leftAt, version: 0, gone: false });
        continue;
      }
      const readyAt = i.state === 'booting' ? Math.max(this.now, (i.bootStartedAt ?? this.now) + input.bootMs(i.type)[band]) : this.now;
      const res: Reservation[] = [];
      for (const r of i.running) {
        const elapsed = this.now - r.startedAt;
        const end = this.now + remaining(r.runtime, elapsed)[band];
        const waitEnd = band === 'typical' ? this.now + remainingAt(r.runtime, elapsed, spreadQuantile(runs++)) : end;
        res.push({ end, waitEnd, need: r.need });
        // The concurrency limit waits for many of them too.
        this.ends.push({ key: waitEnd, id: 0, version: 0 });
      }
      this.add({ id: 0, type: i.type, cap: i.capacity, readyAt, cursor: this.now, res, idleBehavior: i.idleBehavior ?? 'run', version: 0, gone: false });
    }
  }

  run(exact: number): void {
    const cs = this.input.containers;
    for (let j = 0; j < exact; j++) this.out[j] = this.place(cs[j]);
    this.coarse(exact);
  }

  /** Places one container where it starts soonest; returns that time. */
  private place(c: ForecastContainer): number {
    const rt = c.runtime[this.band];
    let best = Infinity;
    let bestInst: Inst | undefined;
    for (const t of c.types) {
      const heap = this.byType.get(t);
      if (!heap) continue;
      const back = [];
      for (let e = heap.pop(); e; e = heap.pop()) {
        const inst = this.insts[e.id];
        if (inst.gone || e.version !== inst.version) continue;
        back.push(e);
        if (e.key >= best || back.length > MAX_CANDIDATES) break;
        const at = fitTime(inst, c.need, this.waiting);
        if (at < best) {
          best = at;
          bestInst = inst;
        }
      }
      for (const e of back) heap.push(e);
    }
    const create = this.createOption(c);
    let start = Math.min(best, create.at);
    let replace = this.waiting ? this.replaceOption(c) : undefined;
    if (replace && replace.at < start) start = replace.at;
    else replace = undefined;
    if (start === Infinity) return Infinity;
    // At equal times an instance already there (booting, say) wins over a new one, as in the
    // scheduler, which fills the room it has before it creates.
    const creates = !replace && create.at < best;
    start = this.underConcurrencyLimit(start, creates ? create.at - this.now : 0);
    this.latestStart = Math.max(this.latestStart, start);
    if (replace) {
      replace.inst.gone = true;
      if (!this.input.limits.quotaError) this.leavingUntil = Math.max(this.leavingUntil, replace.goneAt);
      bestInst = this.add(this.fresh(replace.type, start));
    } else if (creates) {
      this.creatable--;
      if (this.waiting) this.rekeyForWaiting();
      bestInst = this.add(this.fresh(create.type, start));
    }
    this.reserve(bestInst!, start, { end: start + rt, waitEnd: start + rt, need: c.need });
    this.ends.push({ key: start + rt, id: 0, version: 0 });
    return start;
  }

  /** The cheapest eligible type that may be created, and when its instance would be ready. */
  private createOption(c: ForecastContainer): { at: number; type: string } {
    if (this.creatable <= 0) return { at: Infinity, type: '' };
    return this.soonestNew(c, this.now);
  }

  /**
   * The type a new instance for `c` is created of, no sooner than
   * `notBefore`, and when it is ready: the cheapest eligible one, unless it
   * is at capacity (retried only after the capacity retry) and another can
   * be ready sooner.
   */
  private soonestNew(c: ForecastContainer, notBefore: number): { at: number; type: string } {
    const { limits, bootMs } = this.input;
    let at = Infinity;
    let type = '';
    for (const t of c.types) {
      const when = Math.max(notBefore, limits.atCapacity.has(t) ? this.now + limits.capacityRetryMs : this.now) + bootMs(t)[this.band];
      if (when < at) {
        at = when;
        type = t;
      }
    }
    return { at, type };
  }

  /**
   * At MaxInstances (or quota): the instance the scheduler shuts down first
   * makes way for one of ours, created once the pool no longer counts the
   * old one and booted then.
   */
  private replaceOption(c: ForecastContainer): { at: number; inst: Inst; type: string; goneAt: number } | undefined {
    if (c.types.length === 0) return undefined;
    for (let e = this.byShutdown.peek(); e; e = this.byShutdown.peek()) {
      const inst = this.insts[e.id];
      if (inst.gone || e.version !== inst.version) {
        this.byShutdown.pop();
        continue;
      }
      const goneAt = this.goneAt(inst.leftAt ?? this.shutdownFor(inst, e.key));
      return { ...this.soonestNew(c, goneAt), inst, goneAt };
    }
    return undefined;
  }

  /**
   * When the instance that has nothing to run from `emptyAt` is shut down
   * for a waiting container. At MaxInstances the scheduler shuts down one
   * at a time, the next once the last is no longer counted, but the pool
   * shuts an idle one down itself after TimeoutIdle; a drained one, the
   * pool shuts down as soon as it is empty; under a quota error the
   * scheduler shuts every idle one down at once.
   */
  private shutdownFor(inst: Inst, emptyAt: number): number {
    const { limits } = this.input;
    if (limits.quotaError || inst.idleBehavior !== 'run') return emptyAt;
    return Math.min(Math.max(emptyAt, this.leavingUntil), emptyAt + limits.idleTimeoutMs);
  }

  /** When an instance shut down at `at` is no longer counted (now at the earliest). */
  private goneAt(at: number): number {
    return Math.max(this.now, at + this.input.limits.leavingMs[this.band]);
  }

  /**
   * When a container that could start at `start` does, under the concurrency
   * limit; `bootMs`: the boot it needs if it gets a new instance, which is
   * only asked for once the container is let in.
   */
  private underConcurrencyLimit(start: number, bootMs: number): number {
    const max = this.maxContainers;
    if (max <= 0) return start;
    // Let in no earlier than the last rise of the limit.
    start = Math.max(start, this.admitAt + bootMs);
    // Drop the ends at or before `start`: those containers are done by then.
    while (this.ends.size > 0 && this.ends.peek()!.key <= start) this.ends.pop();
    if (this.ends.size < max) return start;
    if (this.input.limits.maxContainersGrows) {
      // Full, but once everything let in has started the limit rises past the running count.
      const grown = Math.max(start, this.latestStart + bootMs);
      if (grown < this.ends.peek()!.key) {
        this.maxContainers = regrown(this.ends.size);
        this.admitAt = this.latestStart;
        return grown;
      }
    }
    // Full: wait for the earliest of the ones still running to end.
    return this.ends.pop()!.key;
  }

  private fresh(type: string, readyAt: number): Inst {
    const cap = this.capacityOf(type);
    return { id: 0, type, cap, readyAt, cursor: readyAt, res: [], idleBehavior: 'run', version: 0, gone: false };
  }

  /** A type's capacity (an unknown type is taken to fit what is asked of it). */
  private capacityOf(type: string): Need {
    return this.input.capacities.get(type) ?? UNLIMITED;
  }

  private add(inst: Inst): Inst {
    const id = this.insts.length;
    inst.id = id;
    this.insts.push(inst);
    let heap = this.byType.get(inst.type);
    if (!heap) this.byType.set(inst.type, (heap = new MinHeap()));
    heap.push({ key: lowerBound(inst, this.waiting), id, version: inst.version });
    this.queueShutdown(inst);
    return inst;
  }

  /** No instance may be added (any more): a container waits for running ones to end, and the heaps are keyed for that. */
  private get waiting(): boolean {
    return this.creatable <= 0;
  }

  /** The last instance allowed has been added: from now on containers wait for running ones, so the heaps' keys are made again for that. */
  private rekeyForWaiting(): void {
    for (const type of this.byType.keys()) this.byType.set(type, new MinHeap());
    for (const inst of this.insts) {
      if (!inst.gone) this.byType.get(inst.type)!.push({ key: lowerBound(inst, true), id: inst.id, version: inst.version });
    }
  }

  private queueShutdown(inst: Inst): void {
    const at = shutdownAt(inst);
    if (at !== undefined) this.byShutdown.push({ key: at, id: inst.id, version: inst.version, leaving: inst.leftAt !== undefined });
  }

  private reserve(inst: Inst, start: number, r: Reservation): void {
    inst.cursor = Math.max(inst.cursor, start);
    // Those ended by then go; while an instance may still be added, one ended by either count stays for the other.
    const cursor = inst.cursor;
    inst.res = inst.res.filter(this.waiting ? (x) => x.waitEnd > cursor : (x) => x.end > cursor || x.waitEnd > cursor);
    inst.res.push(r);
    inst.version++;
    const id = inst.id;
    this.byType.get(inst.type)!.push({ key: lowerBound(inst, this.waiting), id, version: inst.version });
    this.queueShutdown(inst);
  }

  /** The fluid forecast beyond the exact ones (see the file comment). */
  private coarse(from: number): void {
    const cs = this.input.containers;
    if (from >= cs.length) return;
    const { now, band } = this;
    let fleetVcpus = 0;
    let work = 0;
    let runTime = 0;
    for (const inst of this.insts) {
      if (inst.gone) continue;
      fleetVcpus += finiteOr(inst.cap.vcpus, 1);
      work += Math.max(0, inst.readyAt - now) * finiteOr(inst.cap.vcpus, 1);
      for (const r of inst.res) {
        if (r.end <= now) continue;
        work += (r.end - Math.max(now, inst.readyAt)) * r.need.vcpus;
        runTime += r.end - Math.max(now, inst.readyAt);
      }
    }
    const maxC = this.maxContainers;
    let j = from;
    // New instances while they are allowed: one each (within the concurrency limit's room).
    let room = maxC > 0 ? Math.max(0, maxC - this.ends.size) : Infinity;
    for (; j < cs.length && this.creatable > 0 && room > 0; j++) {
      const create = this.createOption(cs[j]);
      if (create.at === Infinity) {
        this.out[j] = Infinity;
        continue;
      }
      this.out[j] = create.at;
      this.creatable--;
      room--;
      fleetVcpus += finiteOr(this.capacityOf(create.type).vcpus, cs[j].need.vcpus);
      work += (create.at - now + cs[j].runtime[band]) * cs[j].need.vcpus;
      runTime += create.at - now + cs[j].runtime[band];
    }
    // No instance left to run or replace, and none may be added (at quota, say): nothing starts, as in the exact part.
    const never = fleetVcpus === 0 && !this.insts.some((i) => !i.gone);
    fleetVcpus = Math.max(1, fleetVcpus);
    for (; j < cs.length; j++) {
      const c = cs[j];
      if (c.types.length === 0 || never) {
        this.out[j] = Infinity;
        continue;
      }
      const byVcpus = work / fleetVcpus;
      const byLimit = maxC > 0 ? runTime / maxC : 0;
      this.out[j] = now + Math.max(byVcpus, byLimit);
      const rt = c.runtime[band];
      work += rt * c.need.vcpus;
      runTime += rt;
    }
  }
}

interface ShutdownEntry extends HeapEntry {
  /** Already shut down (`leftAt`), not yet gone from the listing. */
  leaving: boolean;
}

function finiteOr(x: number, dflt: number): number {
  return Number.isFinite(x) ? x : dflt;
}
