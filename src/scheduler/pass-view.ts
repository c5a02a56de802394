/**
 * What one scheduling pass knows of each queue entry, kept in flat arrays
 * indexed by the entry's position in the snapshot: its sort keys, its state,
 * and the status the pass gave it. A pass over a 100k-container backlog then
 * reads a few typed arrays instead of walking 100k objects several times,
 * and allocates no object per container. The objects the management API
 * shows (`QueueViewEntry`, with the status text) and the longest wait are
 * built only when asked for.
 */
import type { WarmHold } from '../placement/locality.js';
import type { SpotWait } from '../placement/spot-fallback.js';
import type { CapHold } from '../placement/spending-cap.js';
import type { Container } from '../arvados/types.js';
import type { InstanceType } from '../config/types.js';
import type { InstanceResources, QueueEntry } from './interfaces.js';
import * as status from './status.js';

/** A queue entry with the status the last pass gave it. */
export interface QueueViewEntry {
  entry: QueueEntry;
  /** Empty for containers that are neither Queued nor Locked (e.g. Running). */
  readonly schedulingStatus: string;
  /** Its position in the view's `list` (for `WhyBuilder.blockerAt`). */
  readonly listIndex: number;
}

export enum Status {
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
 * Why a container waits, finer than its Status (whose text is the
 * reference's and cannot say more): read by `why.ts` to build the
 * structured blocker. None where the Status says it all.
 */
export enum Cause {
  None,
  /** Not reached: the concurrency limit (maxContainers) was taken by containers ahead. */
  ConcurrencyLimit,
  /** Every eligible type is at capacity (a recent CapacityError). */
  TypesAtCapacity,
  /** The pool declined to create an instance (creates held, MaxConcurrentInstanceCreateOps, ...). */
  CreateDeclined,
  /** At quota (MaxInstances or the cloud's): this container and everything after it waits. */
  OverQuota,
  /** Queued: the pass asked to lock it; it is placed once the lock is answered. */
  Locking,
  /** Queued: a crunch-run of a previous attempt has not exited yet. */
  PreviousAttempt,
  /** Left waiting after containers of owners further below their fair share were moved ahead of it (`FairShare` settings). */
  FairShare,
  /** Held by locality for a busy VM that has its image or inputs (`PassView.warmHolds` says which). */
  WaitingWarmInstance,
  /** Preemptible, every eligible spot type at capacity, waiting for the spot fallback (`PassView.spotWaits` says until when). */
  SpotFallbackWait,
  /** Held by the spending cap (settings `SpendingCap`): no new VM within its level (`PassView.capHolds` says which). */
  SpendingCap,
}

/** Why fair share moved a container back, for its blocker. */
export interface FairShareNote {
  /** Its owner's share key (a user or project uuid), or "unknown". */
  owner: string;
  /** The owner's part of the VCPU-seconds used over the window by owners with containers waiting, 0..1. */
  usedShare: number;
  /** The owner's weight over the weights of owners with containers waiting, 0..1. */
  targetShare: number;
  /** Places later than in the controller's order. */
  movedBack: number;
  windowMs: number;
}

/** What fair share left in a pass's view (`src/placement/fair-share-pass.ts`). */
export interface FairShareNotes {
  /** The note for a container it moved back, by list position. */
  note(k: number): FairShareNote | undefined;
}

/** What the pass knew of the limits when it ran; for the "why" of each container. */
export interface PassFacts {
  /** Epoch ms the pass ran. */
  at: number;
  /** The concurrency limit (0 = none) and the containers running or being started at the start of the pass. */
  maxContainers: number;
  running: number;
  /** The supervisor cap (0 = none). */
  maxSupervisors: number;
  /** The pool was at quota at the end of the pass. */
  atQuota: boolean;
}

/**
 * The fields of `PassView.lead`: the shape id in the low 27 bits (ids count
 * distinct shapes, far fewer than entries), the State in the next two,
 * then three flags.
 */
export const LEAD_SHAPE = 2 ** 27 - 1;
const LEAD_STATE_SHIFT = 27;
export const LEAD_SUPERVISOR = 2 ** 29;
export const LEAD_RECORD = 2 ** 30;
export const LEAD_PRIORITY_BELOW_1 = 2 ** 31;

/** The State in a `PassView.lead` word. */
export function leadState(w: number): State {
  return (w >>> LEAD_STATE_SHIFT) & 3;
}

/** The states the pass acts on; every other state is Other. */
export enum State {
  Other,
  Queued,
  Locked,
}

export class PassView {
  /** The snapshot's entries, in the snapshot's order. */
  readonly list: QueueEntry[];
  /** Positions in `list`, in scheduling order. */
  readonly order: Uint32Array;
  /** 1 if the pool has a crunch-run record for the container at the start of the pass. */
  readonly hasRecord: Uint8Array;
  readonly state: Uint8Array;
  readonly priority: Float64Array;
  readonly supervisor: Uint8Array;
  readonly status: Uint8Array;
  /**
   * The entry's shape: an id per distinct (eligible types, size) pair of
   * objects, which the queue shares among equal entries. Placement works
   * per shape, so a backlog of identical containers is decided once.
   */
  readonly shape: Uint32Array;
  /** How many distinct shapes; ids are 0..shapeCount-1. */
  shapeCount = 0;
  /**
   * What the placement loop reads first of each entry, in one word (the
   * `LEAD_` fields): its shape, state, and whether it is a supervisor, has a
   * crunch-run record, or has a priority below 1. The loop visits the
   * entries in scheduling order, so each read is a random access; one
   * 4-byte read instead of five arrays' (the priorities' 8 bytes among them)
   * keeps a 100k backlog's loop in cache.
   */
  readonly lead: Uint32Array;
  /** Queue position for the statuses that show one. */
  readonly position: Uint32Array;
  /** Why it waits, beyond its status (`Cause`). */
  readonly cause: Uint8Array;
  /** The limits the pass worked with; set by the pass when it ends. */
  facts: PassFacts | undefined;
  /** Set when fair share reordered `order`. */
  fairShare: FairShareNotes | undefined;
  /** What locality held each WaitingWarmInstance container for, by list position; undefined when nothing was held. */
  warmHolds: Map<number, WarmHold> | undefined;
  /** Why each SpotFallbackWait container waits, by list position; undefined when none does. */
  spotWaits: Map<number, SpotWait> | undefined;
  /** What held each SpendingCap container, by list position; undefined when the cap held nothing. */
  capHolds: Map<number, CapHold> | undefined;
  /** Instance id the container was placed on (WaitingNewInstance, Preparing, WaitingPreviousAttempt), by list position. */
  private readonly placedOn = new Map<number, string>();
  /** Instance type name for WaitingNewInstance, by list position. */
  private readonly typeNames = new Map<number, string>();
  private built: QueueViewEntry[] | undefined;
  private earliest: { value: number | undefined } | undefined;

  /**
   * Reads the entries once and sorts them: containers with a crunch-run
   * first (so running supervisors are counted before new ones are
   * admitted); then Locked before Queued, so a newly arrived higher
   * priority does not make the scheduler unlock what it holds and reshuffle
   * instances; then priority; then first seen, so equal priorities keep
   * their order from pass to pass instead of trading locks; full ties keep
   * the snapshot's order (the sort is stable).
   */
  constructor(
    /** The queue's snapshot this view was read from. */
    readonly source: ReadonlyMap<string, QueueEntry>,
    records: ReadonlyMap<string, unknown>,
  ) {
    const entries = source;
    const n = entries.size;
    this.list = new Array<QueueEntry>(n);
    this.hasRecord = new Uint8Array(n);
    this.state = new Uint8Array(n);
    this.priority = new Float64Array(n);
    this.supervisor = new Uint8Array(n);
    this.status = new Uint8Array(n);
    this.position = new Uint32Array(n);
    this.cause = new Uint8Array(n);
    this.shape = new Uint32Array(n);
    this.lead = new Uint32Array(n);
    const shapeIds = new Map<InstanceType[], Map<InstanceResources, number>>();
    const group = new Uint8Array(n);
    const seen = new Float64Array(n);
    // The entries that have a record, found from the records (thousands)
    // rather than by looking each of the entries (maybe 100k) up by uuid.
    const withRecord = new Set<QueueEntry>();
    for (const uuid of records.keys()) {
      const e = entries.get(uuid);
      if (e) withRecord.add(e);
    }
    let k = 0;
    for (const entry of entries.values()) {
      const c = entry.container;
      this.list[k] = entry;
      const rec = withRecord.size > 0 && withRecord.has(entry);
      this.hasRecord[k] = rec ? 1 : 0;
      this.state[k] = c.state === 'Queued' ? State.Queued : c.state === 'Locked' ? State.Locked : State.Other;
      this.priority[k] = c.priority;
      this.supervisor[k] = c.scheduling_parameters?.supervisor ? 1 : 0;
      group[k] = rec ? 0 : c.state === 'Locked' ? 1 : 2;
      seen[k] = entry.firstSeenAt;
      let bySize = shapeIds.get(entry.instanceTypes);
      if (!bySize) shapeIds.set(entry.instanceTypes, (bySize = new Map()));
      let id = bySize.get(entry.instanceResources);
      if (id === undefined) {
        id = this.shapeCount++;
        bySize.set(entry.instanceResources, id);
      }
      this.shape[k] = id;
      this.lead[k] =
        id | (this.state[k] << LEAD_STATE_SHIFT) | (this.supervisor[k] ? LEAD_SUPERVISOR : 0) | (rec ? LEAD_RECORD : 0) | (c.priority < 1 ? LEAD_PRIORITY_BELOW_1 : 0);
      k++;
    }
    this.order = schedulingOrder(group, this.priority, seen);
  }

  /** `lead` in scheduling order (as `order` is now: read it after any reordering): both passes over the order then read it in sequence. */
  leadsInOrder(): Uint32Array {
    const out = new Uint32Array(this.order.length);
    for (let i = 0; i < out.length; i++) out[i] = this.lead[this.order[i]];
    return out;
  }

  get size(): number {
    return this.list.length;
  }

  set(k: number, s: Status, detail = 0): void {
    this.status[k] = s;
    this.position[k] = detail;
  }

  setWaitingNewInstance(k: number, typeName: string, instance = ''): void {
    this.status[k] = Status.WaitingNewInstance;
    this.typeNames.set(k, typeName);
    if (instance !== '') this.placedOn.set(k, instance);
  }

  /** Records the instance the container was placed on. */
  placed(k: number, instance: string): void {
    if (instance !== '') this.placedOn.set(k, instance);
  }

  /** The instance the container was placed on in this pass, if known. */
  instanceOf(k: number): string | undefined {
    return this.placedOn.get(k);
  }

  /** The instance type named in a WaitingNewInstance status. */
  typeNameOf(k: number): string | undefined {
    return this.typeNames.get(k);
  }

  /** The entries in scheduling order with their status texts (built once, on first call). */
  entries(): QueueViewEntry[] {
    if (!this.built) {
      const out = new Array<QueueViewEntry>(this.order.length);
      for (let i = 0; i < this.order.length; i++) {
        const k = this.order[i];
        out[i] = { entry: this.list[k], schedulingStatus: this.statusText(k), listIndex: k };
      }
      this.built = out;
    }
    return this.built;
  }

  /**
   * created_at (epoch ms) of the longest-waiting Queued/Locked container
   * with priority > 0 that has no crunch-run, as of the pass's end; computed
   * on first call (the metric is read far less often than passes run).
   */
  earliestWaiting(): number | undefined {
    if (!this.earliest) {
      let value: number | undefined;
      for (let k = 0; k < this.list.length; k++) {
        if (this.state[k] === State.Other || this.priority[k] <= 0 || this.status[k] === Status.Preparing) continue;
        const t = createdAt(this.list[k].container);
        if (!Number.isNaN(t) && (value === undefined || t < value)) value = t;
      }
      this.earliest = { value };
    }
    return this.earliest.value;
  }

  private statusText(k: number): string {
    const pos = this.position[k];
    switch (this.status[k] as Status) {
      case Status.None:
        return '';
      case Status.Preparing:
        return status.STATUS_PREPARING;
      case Status.PriorityZero:
        return status.statusPriorityZero(this.list[k].container.state);
      case Status.SupervisorLimit:
        return status.statusSupervisorLimit(pos);
      case Status.WaitingNewInstance:
        return status.statusWaitingNewInstance(this.typeNames.get(k) ?? '');
      case Status.WaitingPreviousAttempt:
        return status.STATUS_WAITING_FOR_PREVIOUS_ATTEMPT;
      case Status.WaitingInstanceTypes:
        return status.statusWaitingInstanceTypes(
          pos,
          this.list[k].instanceTypes.map((t) => t.Name),
        );
      case Status.WaitingCloudResources:
        return status.statusWaitingCloudResources(pos);
      case Status.WaitingClusterCapacity:
        return status.statusWaitingClusterCapacity(pos);
    }
  }
}

/**
 * Positions in scheduling order: by `group`, then `priority` descending,
 * then `seen`, then position (stable).
 *
 * The snapshot is normally in first-seen order already (the queue adds an
 * entry when it first sees the container, and a Map keeps a key's place
 * when its value is replaced), so the position can stand for first seen.
 * Then sorts that place entries in position order within each bucket do
 * the work in a few linear passes, with no comparisons: for priorities
 * that are small integers (as before Arvados 2.7: 0-1000), one counting
 * sort by (group, priority); for any others (the 2.7+ ones, about 2^50 x
 * the request's priority, nearly all distinct), a radix sort by the
 * priority's bytes, least significant first, then by group. Otherwise, the
 * comparator. A comparator sort of 100k 2.7+ priorities took most of a
 * pass.
 */
export function schedulingOrder(group: Uint8Array, priority: Float64Array, seen: Float64Array): Uint32Array {
  const n = group.length;
  let packable = true;
  for (let k = 0; packable && k < n; k++) {
    if (!Number.isFinite(priority[k]) || group[k] > 2 || (k > 0 && seen[k] < seen[k - 1])) packable = false;
  }
  if (!packable) {
    const order = Array.from({ length: n }, (_, k) => k);
    order.sort((a, b) => group[a] - group[b] || priority[b] - priority[a] || seen[a] - seen[b] || a - b);
    return Uint32Array.from(order);
  }
  let max = 0;
  let small = true;
  for (let k = 0; small && k < n; k++) {
    const p = priority[k];
    small = Number.isInteger(p) && p >= 0;
    if (p > max) max = p;
  }
  // The counting array stays within a few times the entry count.
  if (small && max < 4 * n + 1024) return countingOrder(group, priority, max);
  return radixOrder(group, priority);
}

/** By group, then priority (small integers up to `max`) descending, then position. */
function countingOrder(group: Uint8Array, priority: Float64Array, max: number): Uint32Array {
  const n = group.length;
  const ranks = max + 1;
  // Bucket b = group x ranks + (max - priority); start[b] is where bucket b begins in the order.
  const start = new Uint32Array(3 * ranks + 1);
  for (let k = 0; k < n; k++) start[group[k] * ranks + max - priority[k] + 1]++;
  for (let b = 1; b < start.length; b++) start[b] += start[b - 1];
  const order = new Uint32Array(n);
  for (let k = 0; k < n; k++) order[start[group[k] * ranks + max - priority[k]]++] = k;
  return order;
}

/** By group, then priority (any finite values) descending, then position. */
function radixOrder(group: Uint8Array, priority: Float64Array): Uint32Array {
  const n = group.length;
  // Each priority as two words that sort, as unsigned integers, highest
  // priority first. An IEEE 754 double sorts as its bits with the sign bit
  // set when positive, as its bits inverted when negative; inverted again
  // for descending. -0 is read as 0, as the comparator takes it.
  let hi = new Uint32Array(n);
  let lo = new Uint32Array(n);
  for (let k = 0; k < n; k++) {
    F64[0] = priority[k] === 0 ? 0 : priority[k];
    const h = U32[HIGH];
    const l = U32[1 - HIGH];
    const negative = h >>> 31 === 1;
    hi[k] = negative ? h : ~(h | 0x80000000);
    lo[k] = negative ? l : ~l;
  }
  let at = new Uint32Array(n);
  for (let i = 0; i < n; i++) at[i] = i;
  let at2 = new Uint32Array(n);
  let hi2 = new Uint32Array(n);
  let lo2 = new Uint32Array(n);
  const count = new Uint32Array(256);
  for (let digit = 0; digit < 8; digit++) {
    const src = digit < 4 ? lo : hi;
    const shift = (digit & 3) * 8;
    count.fill(0);
    for (let i = 0; i < n; i++) count[(src[i] >>> shift) & 255]++;
    // Every key has this byte (the low ones of small integers): nothing to move.
    if (n === 0 || count[(src[0] >>> shift) & 255] === n) continue;
    startsFromCounts(count);
    for (let i = 0; i < n; i++) {
      const to = count[(src[i] >>> shift) & 255]++;
      at2[to] = at[i];
      hi2[to] = hi[i];
      lo2[to] = lo[i];
    }
    [at, at2, hi, hi2, lo, lo2] = [at2, at, hi2, hi, lo2, lo];
  }
  count.fill(0);
  for (let k = 0; k < n; k++) count[group[k]]++;
  startsFromCounts(count);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[count[group[at[i]]]++] = at[i];
  return order;
}

/** A double's bits as two words; HIGH is the index of the word with the sign and exponent on this host. */
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
const HIGH = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** Turns bucket counts into each bucket's first place, in place. */
function startsFromCounts(count: Uint32Array): void {
  let sum = 0;
  for (let b = 0; b < count.length; b++) {
    const c = count[b];
    count[b] = sum;
    sum += c;
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
