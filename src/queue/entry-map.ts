/**
 * The queue's entries, copied on write. Entries are replaced, never changed
 * in place, and the map is copied before the first change after a snapshot
 * was handed out: the scheduler gets a consistent snapshot, and a
 * scheduling pass over a large queue does not pay for copying it.
 */
import type { QueueEntry } from '../scheduler/interfaces.js';

export class EntryMap {
  private current = new Map<string, QueueEntry>();
  /** `current` has been handed out by `snapshot()`: copy it before the next change. */
  private shared = false;

  /** The entries as they are now; later changes leave it alone (except `deleteInPlace`). Never modify it. */
  snapshot(): ReadonlyMap<string, QueueEntry> {
    this.shared = true;
    return this.current;
  }

  get(uuid: string): QueueEntry | undefined {
    return this.current.get(uuid);
  }

  has(uuid: string): boolean {
    return this.current.has(uuid);
  }

  /** The live map, for reading only (it may be replaced by the next change). */
  view(): ReadonlyMap<string, QueueEntry> {
    return this.current;
  }

  set(uuid: string, entry: QueueEntry): void {
    this.writable().set(uuid, entry);
  }

  delete(uuid: string): boolean {
    if (!this.current.has(uuid)) return false;
    this.writable().delete(uuid);
    return true;
  }

  /**
   * Deletes without copying first: a snapshot handed out earlier loses the
   * entry too. For what the scheduler itself forgets (it no longer needs
   * it), so that a pass that forgets a finished container does not copy a
   * 100k-entry map.
   */
  deleteInPlace(uuid: string): void {
    this.current.delete(uuid);
  }

  private writable(): Map<string, QueueEntry> {
    if (this.shared) {
      this.current = new Map(this.current);
      this.shared = false;
    }
    return this.current;
  }
}
