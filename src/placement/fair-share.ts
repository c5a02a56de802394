/**
 * Fair share between submitters: the scheduling order rewritten so that,
 * within each run of containers the controller's order treats alike (the
 * same pass group and priority band), the next place goes to the owner
 * furthest below their weighted share of the VCPU-seconds used, while each
 * owner's own containers keep the controller's order.
 *
 * It is a merge of per-owner lists: every owner with containers in the run
 * is keyed by what it has used (`usage`, VCPU-seconds over the window plus
 * a charge for what runs now) divided by its weight; the owner with the
 * smallest key gives its next container, and its key grows by that
 * container's charge (`CHARGE_SECONDS` per VCPU), so owners alike in use
 * alternate. Owners with nothing in the run take no part. O(n log owners).
 *
 * Pure logic on numbers and callbacks, so tests pin the order with object
 * literals; the pass (`src/scheduler/run-queue.ts`) supplies the inputs.
 */

import { requestPriority } from '../arvados/priority.js';
import { BinaryHeap } from '../heap.js';

/** The owner of containers whose owner is not known (yet): one group of its own. */
export const UNKNOWN_OWNER = 'unknown';

/**
 * What a container placed now is charged, in seconds per VCPU, when the
 * merge orders the next one: a nominal minute. It makes owners of equal use
 * alternate one container at a time (weighted by size) while real use,
 * counted over the window, dominates as soon as there is any.
 */
export const CHARGE_SECONDS = 60;

/** Leave the container where it is (not a part of any run): e.g. priority 0. */
export const NO_SEGMENT = -1;

export interface FairShareInput {
  /** List positions in the controller's (the pass's) order. */
  order: Uint32Array;
  /** The run each position belongs to; runs are contiguous in `order`. NO_SEGMENT: left in place. */
  segment(k: number): number;
  owner(k: number): string;
  vcpus(k: number): number;
  /** VCPU-seconds the owner used over the window, plus the charge of what it runs now. */
  usage(owner: string): number;
  /** Greater than 0. */
  weight(owner: string): number;
}

export interface FairShareOrder {
  order: Uint32Array;
  /** By list position, how many places later than in the controller's order (only those moved back). */
  movedBack: Map<number, number>;
}

/** The fair order of `input.order`; the same array contents when no run has two owners. */
export function fairShareOrder(input: FairShareInput): FairShareOrder {
  const { order } = input;
  const out = new Uint32Array(order.length);
  const movedBack = new Map<number, number>();
  let i = 0;
  while (i < order.length) {
    const seg = input.segment(order[i]);
    let end = i + 1;
    while (end < order.length && input.segment(order[end]) === seg) end++;
    if (seg === NO_SEGMENT) out.set(order.subarray(i, end), i);
    else mergeRun(input, i, end, out, movedBack);
    i = end;
  }
  return { order: out, movedBack };
}

interface OwnerQueue {
  owner: string;
  items: number[];
  next: number;
  /** Usage so far in the merge, divided by the weight. */
  key: number;
  /** Position in the run of its next item: equal keys keep the controller's order. */
  head: number;
  weight: number;
}

function mergeRun(input: FairShareInput, from: number, to: number, out: Uint32Array, movedBack: Map<number, number>): void {
  const { order } = input;
  const byOwner = new Map<string, OwnerQueue>();
  for (let i = from; i < to; i++) {
    const k = order[i];
    const owner = input.owner(k);
    let q = byOwner.get(owner);
    if (!q) {
      const weight = input.weight(owner);
      q = { owner, items: [], next: 0, key: input.usage(owner) / weight, head: i, weight };
      byOwner.set(owner, q);
    }
    q.items.push(i);
  }
  if (byOwner.size < 2) {
    out.set(order.subarray(from, to), from);
    return;
  }
  const heap = new BinaryHeap(before);
  for (const q of byOwner.values()) heap.push(q);
  let j = from;
  while (heap.size > 0) {
    const q = heap.pop()!;
    const i = q.items[q.next++];
    const k = order[i];
    out[j] = k;
    if (j > i) movedBack.set(k, j - i);
    j++;
    if (q.next < q.items.length) {
      q.key += (input.vcpus(k) * CHARGE_SECONDS) / q.weight;
      q.head = q.items[q.next];
      heap.push(q);
    }
  }
}

function before(a: OwnerQueue, b: OwnerQueue): boolean {
  return a.key < b.key || (a.key === b.key && a.head < b.head);
}

/**
 * The run a container belongs to: its pass group (crunch-run, Locked,
 * Queued) and its priority band (the index of the first of `bands`,
 * highest first, that its request priority reaches, `requestPriority`:
 * thresholds are on the 1-1000 scale of requests, whatever the controller's
 * version; bands.length below them all). Priority below 1 is never reordered.
 */
export function segmentOf(group: number, priority: number, bands: readonly number[]): number {
  if (priority < 1) return NO_SEGMENT;
  const level = requestPriority(priority);
  let band = 0;
  while (band < bands.length && level < bands[band]) band++;
  return group * (bands.length + 1) + band;
}
