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
import type { GateHold } from './start-breaker.js';
import type { Container } from '../arvados/types.js';
import type { InstanceType } from '../config/types.js';
import type { InstanceResources, QueueEntry } from './interfaces.js';
import { schedulingOrder } from './scheduling-order.js';
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
  // The last four: held by one of our features, in states the reference
  // does not have, where its words would say "at capacity" and the cluster
  // is not. Their texts are ours, after its "Waiting in queue at position N."
  /** Not locked: the start breaker holds new locks. */
  StartsHeld,
  /** Not locked: its lock would be its last attempt, and no container has run since the daemon started. */
  LastAttemptHeld,
  /** No new VM for it within the spending cap (`capHolds` says whose). */
  SpendingCap,
  /** Waiting for a busy VM that has its image or inputs (`warmHolds` says which). */
  WaitingWarmInstance,
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
  /** Queued, not locked: starts keep failing, and new locks are held (settings `StartBreaker`, `start-breaker.ts`). */
  StartsHeld,
  /** Queued, not locked: its lock would be its last attempt, and no container has run since the daemon started (`StartBreaker.LastAttemptWait`). */
  LastAttemptHeld,
}

/** The Status of a container that waits for room because one of our features holds it, not for capacity: its own `scheduling_status`. */
const HELD = new Map<Cause, Status>([
  [Cause.StartsHeld, Status.StartsHeld],
  [Cause.LastAttemptHeld, Status.LastAttemptHeld],
  [Cause.SpendingCap, Status.SpendingCap],
  [Cause.WaitingWarmInstance, Status.WaitingWarmInstance],
]);

/** The held Status for `cause`, or undefined when the container waits for capacity (the reference's words). */
export function heldStatus(cause: Cause): Status | undefined {
  return HELD.get(cause);
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
  /** While the start breaker holds locks (StartsHeld, LastAttemptHeld): what holds them. */
  gateHold: GateHold | undefined;
  /** Instance id the container was placed on (WaitingNewInstance, Preparing, WaitingPreviousAttempt), by list position. */
  private readonly placedOn = new Map<number, string>();
  /** Instance type name for WaitingNewInstance, by list position. */
  private readonly typeNames = new Map<number, string>();
  private built: QueueViewEntry[] | undefined;
  private earliest: { value: number | undefined } | undefined;

  /**
   * Reads the entries once and sorts them: containers with a crunch-run
   * first (so running supervisors are counted before new ones are
   * admitted); then, with a crunch-run or without, Locked before any other
   * state, so a newly arrived higher priority does not make the scheduler
   * unlock what it holds and reshuffle instances; then priority; then first
   * seen, so equal priorities keep their order from pass to pass instead of
   * trading locks; full ties keep the snapshot's order (the sort is stable).
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
      group[k] = (rec ? 0 : 2) + (c.state === 'Locked' ? 0 : 1);
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
      case Status.StartsHeld:
        return status.statusStartsHeld(pos);
      case Status.LastAttemptHeld:
        return status.statusLastAttemptHeld(pos);
      case Status.SpendingCap:
        return status.statusSpendingCap(pos, this.capHolds?.get(k)?.scope ?? 'cluster');
      case Status.WaitingWarmInstance:
        return status.statusWaitingWarmInstance(pos, this.warmHolds?.get(k)?.level === 2 ? 'inputs' : 'image');
    }
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
