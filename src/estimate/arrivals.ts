/**
 * ArrivalHistory: when containers arrived recently, and which instance
 * types each could run on, so that "is work that fits this type likely to
 * come within t?" has an answer. Arrivals are taken as a Poisson stream at
 * the rate seen over the window: the chance of at least one in t is
 * 1 - exp(-rate * t). A burst a few minutes ago counts as much as a steady
 * trickle of the same size over the window, which is what an idle VM kept
 * for a quarter of an hour needs to know.
 */

/** One arrival: when, and the names of the types it could run on. */
interface Arrival {
  at: number;
  types: readonly string[];
}

export class ArrivalHistory {
  /** Oldest first. */
  private readonly arrivals: Arrival[] = [];
  private head = 0;
  /** Containers recorded and still in the window, so that a container seen again (requeued, a state change) counts once. */
  private readonly seen = new Map<string, number>();

  /** @param windowMs how far back arrivals count. */
  constructor(private readonly windowMs: number) {}

  /** `uuid` was first seen at `at`, able to run on the types named `types`; later sightings of it are ignored. */
  record(uuid: string, at: number, types: readonly string[]): void {
    this.prune(at);
    if (this.seen.has(uuid)) return;
    this.seen.set(uuid, at);
    this.arrivals.push({ at, types });
  }

  /** Arrivals per ms, over the window before `now`, of containers that could run on `type`. */
  rate(type: string, now: number): number {
    this.prune(now);
    let n = 0;
    for (let i = this.head; i < this.arrivals.length; i++) if (this.arrivals[i]!.types.includes(type)) n++;
    return n / this.windowMs;
  }

  /** The chance that at least one container that could run on `type` arrives within `withinMs` of `now`. */
  chance(type: string, withinMs: number, now: number): number {
    return 1 - Math.exp(-this.rate(type, now) * Math.max(0, withinMs));
  }

  private prune(now: number): void {
    const from = now - this.windowMs;
    while (this.head < this.arrivals.length && this.arrivals[this.head]!.at < from) this.head++;
    // Compact now and then rather than shifting on every arrival.
    if (this.head > 1024 && this.head * 2 > this.arrivals.length) {
      this.arrivals.splice(0, this.head);
      this.head = 0;
    }
    for (const [uuid, at] of this.seen) {
      if (at >= from) break;
      this.seen.delete(uuid);
    }
  }
}
