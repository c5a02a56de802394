/**
 * Holds new locks while containers keep going back to the queue without
 * running (settings `StartBreaker`; the rule that says so is
 * `WastedAttemptWatch`, `src/timeline/wasted-attempts.ts`). Each lock costs
 * a container one of its MaxDispatchAttempts, and the controller cancels a
 * container whose last attempt ends in an unlock: with a cause every start
 * shares (crunch-run refusing `CrunchRunArgumentsList`, VMs that cannot
 * reach the controller, ...), locking on would cancel the whole queue, one
 * container after another, as the reference does.
 *
 * While the breaker is open, Queued containers are not locked, except one
 * container every `TryInterval` (a trial): if it runs, the watch sees a
 * container go Running and the breaker closes. Locked containers go on as
 * before: their attempt is already counted. Trials go round the waiting
 * containers in scheduling order (the one tried least often in this
 * episode first), and never take a container's last attempt: before a
 * trial the breaker reads the container's `lock_count`, and one with a
 * single attempt left waits until the breaker closes (unless
 * MaxDispatchAttempts leaves no container more than one).
 */
import type { Container } from '../arvados/types.js';
import type { Clock } from '../clock/index.js';
import { formatDuration } from '../config/units.js';
import { type Logger, RateLimitedLog } from '../log.js';

/** The scheduling pass's side: asked for each Queued container it would lock. */
export interface LockGate {
  beginPass(): void;
  /** Holding new locks in this pass (set by `beginPass`): only then is `holds` asked. */
  readonly holding: boolean;
  /** True: do not lock this Queued container now. False: it may be locked (call `locking` when it is). */
  holds(uuid: string): boolean;
  /** The pass asks to lock `uuid`, which `holds` let through. */
  locking(uuid: string): void;
  /** True the first time `uuid` is held while the breaker is open (for its timeline). */
  firstHeld(uuid: string): boolean;
  endPass(): void;
  /** While holding: since when, and when the next trial may be locked (for the blocker). */
  hold(): { since: number; nextTrialAt: number };
  /** Calls `listener` when a trial is approved between passes (a pass should come to lock it); returns the unsubscribe function. */
  subscribe?(listener: () => void): () => void;
}

export interface StartBreakerStats {
  /** New locks are held now. */
  open: boolean;
  /** Queued containers the last pass held. */
  held: number;
  /** Trial locks since start. */
  trials: number;
  /** Episodes (the breaker opening) since start. */
  opened: number;
}

export interface StartBreakerDeps {
  /** The rule: true while containers keep going back to the queue without running. */
  failing(): boolean;
  /** Reads a container's lock_count before a trial. */
  client: { getContainer(uuid: string, select?: string[]): Promise<Container> };
  clock: Clock;
  logger: Logger;
  /** Containers.MaxDispatchAttempts. */
  maxDispatchAttempts: number;
  /** Time between trials, ms. */
  tryInterval: number;
}

const TRIAL_FIELDS = ['uuid', 'state', 'lock_count'];

export class StartBreaker implements LockGate {
  private open = false;
  private since = 0;
  /** Trials per container in this episode. */
  private readonly tries = new Map<string, number>();
  /** Containers with one attempt left: never tried in this episode. */
  private readonly lastAttempt = new Set<string>();
  /** Containers held in this episode, for `firstHeld`. */
  private readonly saidHeld = new Set<string>();
  /** The container whose lock_count allows a trial: `holds` lets it through. */
  private approved: string | undefined;
  private approvedSeen = false;
  /** The least-tried held container of this pass, first in scheduling order. */
  private candidate: string | undefined;
  private candidateTries = Infinity;
  /** A lock_count read in flight (its container). */
  private reading: string | undefined;
  private nextTrialAt = 0;
  /** Bumped when an episode ends, so that a read answered late is ignored. */
  private episode = 0;
  private heldInPass = 0;
  private trialsInEpisode = 0;
  /** The line that no container is left to try was logged in this episode. */
  private saidNoTrial = false;
  private readonly stats = { held: 0, trials: 0, opened: 0 };
  private readonly warnings: RateLimitedLog;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly d: StartBreakerDeps) {
    this.warnings = new RateLimitedLog(d.logger, d.clock);
  }

  get holding(): boolean {
    return this.open;
  }

  beginPass(): void {
    const failing = this.d.failing();
    if (failing && !this.open) this.opens();
    else if (!failing && this.open) this.closes();
    this.heldInPass = 0;
    this.approvedSeen = false;
    this.candidate = undefined;
    this.candidateTries = Infinity;
  }

  holds(uuid: string): boolean {
    if (!this.open) return false;
    if (uuid === this.approved) {
      this.approvedSeen = true;
      return false;
    }
    this.heldInPass++;
    if (!this.lastAttempt.has(uuid) && uuid !== this.reading) {
      const n = this.tries.get(uuid) ?? 0;
      if (n < this.candidateTries) {
        this.candidate = uuid;
        this.candidateTries = n;
      }
    }
    return true;
  }

  firstHeld(uuid: string): boolean {
    if (this.saidHeld.has(uuid)) return false;
    this.saidHeld.add(uuid);
    return true;
  }

  locking(uuid: string): void {
    if (!this.open || uuid !== this.approved) return;
    this.approved = undefined;
    this.tries.set(uuid, (this.tries.get(uuid) ?? 0) + 1);
    this.stats.trials++;
    this.trialsInEpisode++;
    this.nextTrialAt = this.d.clock.now() + this.d.tryInterval;
    this.d.logger.info('trying one container while new locks are held', { ContainerUUID: uuid, Trial: this.stats.trials });
  }

  endPass(): void {
    this.stats.held = this.heldInPass;
    if (!this.open) return;
    if (this.approved !== undefined) {
      // Let through but not locked (no room, its types out of capacity, a
      // cap, a previous attempt still there): its turn ends, as a trial's
      // would, rather than keep every other container from being tried.
      if (this.approvedSeen) {
        this.tries.set(this.approved, (this.tries.get(this.approved) ?? 0) + 1);
        this.nextTrialAt = this.d.clock.now() + this.d.tryInterval;
      }
      // Otherwise gone from the queue, or no longer Queued: try another now.
      this.approved = undefined;
    }
    if (this.reading !== undefined || this.d.clock.now() < this.nextTrialAt) return;
    const uuid = this.candidate;
    if (uuid !== undefined) this.readLockCount(uuid);
    else if (this.heldInPass > 0 && !this.saidNoTrial) {
      // Every held container is on its last attempt: nothing can be tried, so
      // nothing can go Running here to close the breaker.
      this.saidNoTrial = true;
      this.d.logger.warn('new locks held and every held container is on its last attempt: none is tried until a new container comes or the daemon restarts', {
        Held: this.heldInPass,
      });
    }
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  hold(): { since: number; nextTrialAt: number } {
    return { since: this.since, nextTrialAt: this.nextTrialAt };
  }

  snapshot(): StartBreakerStats {
    return { open: this.open, ...this.stats };
  }

  private opens(): void {
    this.open = true;
    this.since = this.d.clock.now();
    this.stats.opened++;
    // The first trial comes a TryInterval after the breaker opens.
    this.nextTrialAt = this.since + this.d.tryInterval;
    this.d.logger.error('holding new locks: containers keep going back to the queue without running', {
      TryInterval: formatDuration(this.d.tryInterval),
      MaxDispatchAttempts: this.d.maxDispatchAttempts,
    });
  }

  private closes(): void {
    this.d.logger.info('no longer holding new locks: a container runs', { Trials: this.trialsInEpisode, HeldForMs: this.d.clock.now() - this.since });
    this.open = false;
    this.episode++;
    this.trialsInEpisode = 0;
    this.saidNoTrial = false;
    this.tries.clear();
    this.lastAttempt.clear();
    this.saidHeld.clear();
    this.approved = undefined;
    this.reading = undefined;
  }

  private readLockCount(uuid: string): void {
    const episode = this.episode;
    this.reading = uuid;
    const max = this.d.maxDispatchAttempts;
    this.d.client.getContainer(uuid, TRIAL_FIELDS).then(
      (c) => {
        if (episode !== this.episode) return;
        this.reading = undefined;
        if (c.state !== 'Queued') return;
        const count = typeof c.lock_count === 'number' && Number.isFinite(c.lock_count) ? c.lock_count : undefined;
        // Its lock would be its last attempt: an unlock then cancels it.
        if (count === undefined || (count + 1 >= max && max > 1)) {
          this.lastAttempt.add(uuid);
          if (count === undefined) this.warnings.warn('no lock_count in the controller\'s answer: container not tried while new locks are held', { ContainerUUID: uuid });
        } else this.approved = uuid;
        // A pass locks the trial now, or picks the next candidate to ask about.
        for (const listener of this.listeners) listener();
      },
      (err: unknown) => {
        if (episode !== this.episode) return;
        this.reading = undefined;
        // Asked again at the next trial time, not at every pass.
        this.nextTrialAt = this.d.clock.now() + this.d.tryInterval;
        this.warnings.warn('cannot read a container\'s lock_count before trying it', { ContainerUUID: uuid, error: err });
      },
    );
  }
}
