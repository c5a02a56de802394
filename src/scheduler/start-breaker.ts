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
import type { TimelineSink } from '../timeline/sink.js';

/** The scheduling pass's side: asked for each Queued container it would lock. */
export interface LockGate {
  beginPass(): void;
  /** Holding new locks in this pass (set by `beginPass`): only then is `holds` asked. */
  readonly holding: boolean;
  /** True: do not lock this Queued container now (its timeline says so the first time). False: it may be locked (`lockContainer` calls `locking`). */
  holds(uuid: string): boolean;
  /** A lock of `uuid` is asked for. */
  locking(uuid: string): void;
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
  /** Told of each container held, once an episode. */
  timeline?: Pick<TimelineSink, 'startsHeld'>;
  /** Containers.MaxDispatchAttempts. */
  maxDispatchAttempts: number;
  /** Time between trials, ms. */
  tryInterval: number;
}

const TRIAL_FIELDS = ['uuid', 'state', 'lock_count'];

/** What the breaker knows while it is open, from its opening to its closing. */
interface Episode {
  since: number;
  nextTrialAt: number;
  /** Trials per container. */
  tries: Map<string, number>;
  /** Containers with one attempt left: never tried. */
  lastAttempt: Set<string>;
  /** Containers held so far (their timelines say so once). */
  held: Set<string>;
  /** The container whose lock_count allows a trial: `holds` lets it through. */
  approved: string | undefined;
  /** A lock_count read in flight (its container). */
  reading: string | undefined;
  trials: number;
  /** The line that no container is left to try was logged. */
  saidNoTrial: boolean;
}

export class StartBreaker implements LockGate {
  /** Undefined while the breaker is closed. */
  private ep: Episode | undefined;
  private approvedSeen = false;
  /** The least-tried held container of this pass, first in scheduling order. */
  private candidate: string | undefined;
  private candidateTries = Infinity;
  private heldInPass = 0;
  private readonly stats = { held: 0, trials: 0, opened: 0 };
  private readonly warnings: RateLimitedLog;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly d: StartBreakerDeps) {
    this.warnings = new RateLimitedLog(d.logger, d.clock);
  }

  get holding(): boolean {
    return this.ep !== undefined;
  }

  beginPass(): void {
    const failing = this.d.failing();
    if (failing && !this.ep) this.opens();
    else if (!failing && this.ep) this.closes(this.ep);
    this.heldInPass = 0;
    this.approvedSeen = false;
    this.candidate = undefined;
    this.candidateTries = Infinity;
  }

  holds(uuid: string): boolean {
    const ep = this.ep;
    if (!ep) return false;
    if (uuid === ep.approved) {
      this.approvedSeen = true;
      return false;
    }
    this.heldInPass++;
    if (!ep.held.has(uuid)) {
      ep.held.add(uuid);
      this.d.timeline?.startsHeld(uuid, { since: new Date(ep.since).toISOString() });
    }
    if (!ep.lastAttempt.has(uuid) && uuid !== ep.reading) {
      const n = ep.tries.get(uuid) ?? 0;
      if (n < this.candidateTries) {
        this.candidate = uuid;
        this.candidateTries = n;
      }
    }
    return true;
  }

  locking(uuid: string): void {
    const ep = this.ep;
    if (!ep || uuid !== ep.approved) return;
    this.endTurn(ep, uuid);
    this.stats.trials++;
    ep.trials++;
    this.d.logger.info('trying one container while new locks are held', { ContainerUUID: uuid, Trial: this.stats.trials });
  }

  endPass(): void {
    this.stats.held = this.heldInPass;
    const ep = this.ep;
    if (!ep) return;
    if (ep.approved !== undefined) {
      // Let through but not locked (no room, its types out of capacity, a
      // cap, a previous attempt still there): its turn ends, as a trial's
      // would, rather than keep every other container from being tried.
      if (this.approvedSeen) this.endTurn(ep, ep.approved);
      // Otherwise gone from the queue, or no longer Queued: try another now.
      else ep.approved = undefined;
    }
    if (ep.reading !== undefined || this.d.clock.now() < ep.nextTrialAt) return;
    const uuid = this.candidate;
    if (uuid !== undefined) this.readLockCount(ep, uuid);
    else if (this.heldInPass > 0 && !ep.saidNoTrial) {
      // Every held container is on its last attempt: nothing can be tried, so
      // nothing can go Running here to close the breaker.
      ep.saidNoTrial = true;
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
    return { since: this.ep?.since ?? 0, nextTrialAt: this.ep?.nextTrialAt ?? 0 };
  }

  snapshot(): StartBreakerStats {
    return { open: this.ep !== undefined, ...this.stats };
  }

  /** The approved container's turn is over (locked, or let through and not locked): the next trial a TryInterval later. */
  private endTurn(ep: Episode, uuid: string): void {
    ep.approved = undefined;
    ep.tries.set(uuid, (ep.tries.get(uuid) ?? 0) + 1);
    ep.nextTrialAt = this.d.clock.now() + this.d.tryInterval;
  }

  private opens(): void {
    const since = this.d.clock.now();
    this.stats.opened++;
    this.ep = {
      since,
      // The first trial comes a TryInterval after the breaker opens.
      nextTrialAt: since + this.d.tryInterval,
      tries: new Map(),
      lastAttempt: new Set(),
      held: new Set(),
      approved: undefined,
      reading: undefined,
      trials: 0,
      saidNoTrial: false,
    };
    this.d.logger.error('holding new locks: containers keep going back to the queue without running', {
      TryInterval: formatDuration(this.d.tryInterval),
      MaxDispatchAttempts: this.d.maxDispatchAttempts,
    });
  }

  private closes(ep: Episode): void {
    this.d.logger.info('no longer holding new locks: a container runs', { Trials: ep.trials, HeldForMs: this.d.clock.now() - ep.since });
    // A read answered after this belongs to the episode gone, and is ignored.
    this.ep = undefined;
  }

  private readLockCount(ep: Episode, uuid: string): void {
    ep.reading = uuid;
    const max = this.d.maxDispatchAttempts;
    this.d.client.getContainer(uuid, TRIAL_FIELDS).then(
      (c) => {
        if (ep !== this.ep) return;
        ep.reading = undefined;
        if (c.state !== 'Queued') return;
        const count = typeof c.lock_count === 'number' && Number.isFinite(c.lock_count) ? c.lock_count : undefined;
        // Its lock would be its last attempt: an unlock then cancels it.
        if (count === undefined || (count + 1 >= max && max > 1)) {
          ep.lastAttempt.add(uuid);
          if (count === undefined) this.warnings.warn('no lock_count in the controller\'s answer: container not tried while new locks are held', { ContainerUUID: uuid });
        } else ep.approved = uuid;
        // A pass locks the trial now, or picks the next candidate to ask about.
        for (const listener of this.listeners) listener();
      },
      (err: unknown) => {
        if (ep !== this.ep) return;
        ep.reading = undefined;
        // Asked again at the next trial time, not at every pass.
        ep.nextTrialAt = this.d.clock.now() + this.d.tryInterval;
        this.warnings.warn('cannot read a container\'s lock_count before trying it', { ContainerUUID: uuid, error: err });
      },
    );
  }
}
