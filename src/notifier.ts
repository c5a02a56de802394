/**
 * Coalescing change notifications: any number of `notify()` calls within one
 * synchronous stretch of work reach each listener once, a microtask later.
 * Listeners (the scheduler's wake-up call) re-read the queue's or the pool's
 * state themselves, so losing the count of changes loses nothing.
 */
export class Notifier {
  private readonly listeners = new Set<() => void>();
  private pending = false;

  /** @param onError receives whatever a listener throws (logged by the owner; one bad listener must not starve the others). */
  constructor(private readonly onError: (err: unknown) => void) {}

  /** Adds `listener`; returns the function that removes it. Subscribing the same function twice gives two subscriptions. */
  subscribe(listener: () => void): () => void {
    const entry = (): void => listener();
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  notify(): void {
    if (this.pending || this.listeners.size === 0) return;
    this.pending = true;
    queueMicrotask(() => {
      this.pending = false;
      for (const l of [...this.listeners]) {
        try {
          l();
        } catch (err) {
          this.onError(err);
        }
      }
    });
  }

  clear(): void {
    this.listeners.clear();
  }
}
