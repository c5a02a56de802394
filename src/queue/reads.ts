/**
 * The queue's reads in flight (polls, and refreshes between polls), each
 * with the containers changed by something else since it began: a lock,
 * unlock or cancel answer, or another read's answer. A read's answer about
 * those is older than what the queue holds, so it is not applied; the next
 * read asks again.
 */
export class ReadsInFlight {
  private readonly reads = new Set<Set<string>>();

  /** Registers a read; pass what it returns to `end` when the read is over. */
  begin(): Set<string> {
    const touched = new Set<string>();
    this.reads.add(touched);
    return touched;
  }

  end(touched: Set<string>): void {
    this.reads.delete(touched);
  }

  /** More than one read is in flight (so applying one must mark the others). */
  get overlapping(): boolean {
    return this.reads.size > 1;
  }

  /** Marks a container changed for every read in flight but `except` (the one that changed it). */
  touch(uuid: string, except?: Set<string>): void {
    for (const t of this.reads) if (t !== except) t.add(uuid);
  }
}
