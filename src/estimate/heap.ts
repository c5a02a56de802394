/**
 * A binary min-heap of (key, id, version) entries. The forecast keeps one
 * per instance type and changes an instance's key by pushing a new entry
 * with a higher version; the stale entries are skipped when they come up
 * (lazy deletion), which is cheaper than finding and moving them.
 */
import { BinaryHeap } from '../heap.js';

export interface HeapEntry {
  key: number;
  id: number;
  version: number;
}

/** Ordered by key alone: entries of equal key come out in the order BinaryHeap gives them. */
export class MinHeap extends BinaryHeap<HeapEntry> {
  constructor() {
    super((a, b) => a.key < b.key);
  }
}
