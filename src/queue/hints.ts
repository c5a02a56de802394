/**
 * Events from the Arvados event feed, turned into refreshes of the queue.
 * An event is a hint, never the truth: it says a container changed, and
 * the queue then reads that container from the controller (`refresh`),
 * so a lost, duplicated, late or out-of-order event costs at most a
 * request, and polling (every PollInterval, unchanged) catches what the
 * feed never said.
 *
 * What an event costs, by what the queue already knows (the feed's events
 * carry a container's state, not its priority; and a priority set from the
 * requests, by plain SQL in Arvados, makes no event at all: polling sees it):
 *
 * | event                                       | queue tracks it? | action                                  |
 * |---------------------------------------------|------------------|-----------------------------------------|
 * | state now Queued, or no state given         | no               | refresh now (new, or one it dropped)    |
 * | state now anything else                     | no, but a refresh in flight reads it | refresh lazily (it may have read it before the change) |
 * | state now anything else                     | no, and no refresh in flight reads it | ignore (someone else's, or final) |
 * | a state change to the state the queue holds | yes              | ignore (e.g. our own lock)              |
 * | anything else                               | yes              | refresh lazily                          |
 *
 * Only a container the queue has not seen is worth a request at once: that
 * is where polling made it wait (up to PollInterval to be seen at all). A
 * change to one it tracks (a cancel, crunch-run's Running and Complete,
 * another dispatcher's lock) costs at worst a
 * refused lock or a late reorder when seen a second later, so those wait
 * to be read together: a thousand running containers that crunch-run
 * updates cost about one list request a second, not one each.
 *
 * "Now" is the next timer turn (events that arrive together are read
 * together), but no sooner than `minGapMs` after the previous refresh
 * began; "lazily" waits until the oldest lazy hint is `lazyMs` old, and
 * then all lazy hints are read together (with any urgent ones then due).
 * They do not ride along with every urgent refresh: with new containers
 * arriving every 50 ms, that would cost a list request per arrival. One
 * refresh is in flight at a time; hints that arrive meanwhile wait for the
 * next one. So a storm of events
 * costs at most one refresh per `minGapMs` (each a `uuid in [...]` list
 * per 100 known containers, plus one details read per new container,
 * which a poll would read too), however many events it holds. A refresh
 * naming more than `maxNew` containers the queue has not seen asks for a
 * poll instead of reading each of them: the poll reads the new ones in
 * priority order, with its own bounds.
 */
import type { Clock, Timer } from '../clock/index.js';
import { RateLimitedLog, type Logger } from '../log.js';

/** What the hints need of the queue. */
export interface HintTarget {
  /** What the queue last knew of the container, or undefined if it does not track it. */
  known(uuid: string): { state: string } | undefined;
  /** Reads these containers now and applies the answers. */
  refresh(uuids: string[]): Promise<void>;
  /** Polls now (a full poll). */
  update(): Promise<void>;
}

/** What an event says: which container, and its state before and after when the feed gives them. */
export interface Hint {
  uuid: string;
  oldState?: string;
  newState?: string;
}

export interface HintsOptions {
  target: HintTarget;
  clock: Clock;
  logger: Logger;
  /** Refreshes begin at least this far apart. Default 100 ms. */
  minGapMs?: number;
  /** How long a lazy hint may wait for a refresh. Default 1 s. */
  lazyMs?: number;
  /** A refresh naming more containers the queue does not know than this polls instead. Default 100. */
  maxNew?: number;
}

/** Counts since start, for metrics and tests. */
export interface HintStats {
  /** Events handed in. */
  events: number;
  /** Of those, ignored (nothing the queue does not know). */
  ignored: number;
  /** Refreshes made (each one or a few requests). */
  refreshes: number;
  /** Polls asked for: after each (re)subscription, and for refreshes naming too many new containers. */
  polls: number;
  /** Refreshes or polls that failed (the next poll reads what they would have). */
  failures: number;
}

type Kind = 'now' | 'lazy' | 'ignore';

export class Hints {
  private readonly target: HintTarget;
  private readonly clock: Clock;
  private readonly errors: RateLimitedLog;
  private readonly minGapMs: number;
  private readonly lazyMs: number;
  private readonly maxNew: number;
  private readonly urgent = new Set<string>();
  private readonly lazy = new Set<string>();
  private lazySince?: number;
  private running = false;
  /** The containers the refresh in flight reads (or leaves to its poll). */
  private reading: ReadonlySet<string> = new Set();
  private stopped = false;
  private lastStart = Number.NEGATIVE_INFINITY;
  private timer?: { at: number; timer: Timer };
  readonly stats: HintStats = { events: 0, ignored: 0, refreshes: 0, polls: 0, failures: 0 };

  constructor(opts: HintsOptions) {
    this.target = opts.target;
    this.clock = opts.clock;
    this.errors = new RateLimitedLog(opts.logger, opts.clock, 60_000);
    this.minGapMs = opts.minGapMs ?? 100;
    this.lazyMs = opts.lazyMs ?? 1000;
    this.maxNew = opts.maxNew ?? 100;
  }

  /** An event from the feed about a container. */
  event(hint: Hint): void {
    if (this.stopped) return;
    this.stats.events++;
    const kind = this.classify(hint);
    if (kind === 'ignore') {
      this.stats.ignored++;
      return;
    }
    if (kind === 'now') {
      this.lazy.delete(hint.uuid);
      this.urgent.add(hint.uuid);
    } else if (!this.urgent.has(hint.uuid)) {
      this.lazy.add(hint.uuid);
      this.lazySince ??= this.clock.now();
    }
    this.schedule();
  }

  /**
   * The feed (re)subscribed: what happened while it was not listening is
   * unknown (the replay from `last_log_id` covers only what the server
   * still keeps), so poll at once.
   */
  resync(): void {
    if (this.stopped) return;
    this.stats.polls++;
    this.target.update().catch((err: unknown) => this.failed('polling after the event feed (re)connected failed', err));
  }

  /** Hints still waiting for a refresh (for tests and the status page). */
  pending(): number {
    return this.urgent.size + this.lazy.size;
  }

  /** No more refreshes (one in flight finishes). */
  stop(): void {
    this.stopped = true;
    this.timer?.timer.cancel();
    this.timer = undefined;
    this.urgent.clear();
    this.lazy.clear();
  }

  private classify(hint: Hint): Kind {
    const cur = this.target.known(hint.uuid);
    const { oldState, newState } = hint;
    if (!cur) {
      if (newState === undefined || newState === 'Queued') return 'now';
      // The refresh in flight may have read it before this change and will
      // track it as it was (say Queued, now locked by another dispatcher):
      // read it again after that refresh.
      return this.reading.has(hint.uuid) ? 'lazy' : 'ignore';
    }
    const moved = oldState !== undefined && newState !== undefined && oldState !== newState;
    return moved && newState === cur.state ? 'ignore' : 'lazy';
  }

  /** Sets the timer for the next refresh, unless one is in flight (its end does this) or an earlier timer is set. */
  private schedule(): void {
    if (this.running || this.stopped) return;
    const now = this.clock.now();
    const earliest = this.lastStart + this.minGapMs;
    let at: number;
    if (this.urgent.size > 0) at = Math.max(now, earliest);
    else if (this.lazy.size > 0) at = Math.max(now, earliest, (this.lazySince ?? now) + this.lazyMs);
    else return;
    if (this.timer && this.timer.at <= at) return;
    this.timer?.timer.cancel();
    this.timer = {
      at,
      timer: this.clock.setTimer(at - now, () => {
        this.timer = undefined;
        void this.flush();
      }),
    };
  }

  private async flush(): Promise<void> {
    if (this.running || this.stopped) return;
    const lazyDue = this.lazySince !== undefined && this.clock.now() - this.lazySince >= this.lazyMs;
    // A lazy hint is about a container the queue tracked; if it no longer
    // does, it dropped it (final, or not ours to run): nothing to read.
    const lazy = lazyDue ? [...this.lazy].filter((uuid) => this.target.known(uuid) !== undefined) : [];
    const batch = [...this.urgent, ...lazy];
    this.urgent.clear();
    if (lazyDue) {
      this.lazy.clear();
      this.lazySince = undefined;
    }
    if (batch.length === 0) {
      this.schedule();
      return;
    }
    this.running = true;
    this.lastStart = this.clock.now();
    this.reading = new Set(batch);
    try {
      const known = batch.filter((uuid) => this.target.known(uuid) !== undefined);
      if (batch.length - known.length > this.maxNew) {
        this.stats.polls++;
        // Both settle before the next refresh may begin: a refresh that fails
        // at once must not leave its poll running beside the next one.
        const results = await Promise.allSettled([known.length > 0 ? this.target.refresh(known) : undefined, this.target.update()]);
        for (const r of results) if (r.status === 'rejected') throw r.reason;
      } else {
        await this.target.refresh(batch);
      }
      this.stats.refreshes++;
    } catch (err) {
      this.failed('refreshing containers the event feed named failed; the next poll reads them', err);
    } finally {
      this.running = false;
      this.reading = new Set();
      this.schedule();
    }
  }

  private failed(message: string, err: unknown): void {
    this.stats.failures++;
    this.errors.warn(message, { error: err instanceof Error ? err.message : String(err) });
  }
}
