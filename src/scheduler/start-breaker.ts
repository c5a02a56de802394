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
 *
 * Its state does not outlive the process, and a new one locks a few
 * containers before its rule can see that starts fail: in a spell of
 * failing starts, each restart cost the head of the queue an attempt or
 * two, so a few restarts could spend a container's last. So after the
 * daemon starts, until it has seen a container run (or for at most
 * `LastAttemptWait`), a Queued container whose lock would be its last
 * attempt (its listed `lock_count`) is not locked either.
 */
import type { Container } from '../arvados/types.js';
import type { Clock } from '../clock/index.js';
import { formatDuration } from '../config/units.js';
import { type Logger, RateLimitedLog } from '../log.js';
import type { TimelineSink } from '../timeline/sink.js';
import { lockCountOf } from '../queue/validate.js';

/** Why a Queued container is not locked now: the breaker is open, or its lock would be its last attempt and no container has run since the daemon started. */
export type Held = 'starts' | 'last_attempt';

/** What holds locks now, for the blocker. */
export interface GateHold {
  /** While the breaker is open: since when, and when the next trial may be locked. */
  breaker?: { since: number; nextTrialAt: number };
  /** While containers on their last attempt are held after the start: until when at most. */
  lastAttemptUntil?: number;
}

/** The scheduling pass's side: asked for each Queued container it would lock. */
export interface LockGate {
  beginPass(): void;
  /** Holding new locks in this pass, or some (set by `beginPass`): only then is `holds` asked. */
  readonly holding: boolean;
  /**
   * Why not to lock this Queued container now (its timeline says so the
   * first time), or false: it may be locked (`lockContainer` calls
   * `locking`). `lockCount` is its listed `lock_count`, if known.
   */
  holds(uuid: string, lockCount?: number): Held | false;
  /** A lock of `uuid` is asked for. */
  locking(uuid: string): void;
  endPass(): void;
  /** While holding: what holds, for the blocker. */
  hold(): GateHold;
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
  /**
   * After the start, hold containers whose lock would be their last attempt
   * until `startsWorked` (a container was seen going Running), for at most
   * `wait` ms from the first pass. Absent: not held.
   */
  lastAttempts?: { wait: number; startsWorked(): boolean };
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
  /** While last attempts are held after the start: when that ends at the latest (set by the first pass). */
  private guardUntil: number | undefined;
  private guardOver: boolean;
  private guarding = false;
  /** Containers on their last attempt held since the start (their timelines said so). */
  private readonly guarded = new Set<string>();
  private saidNoLockCount = false;

  constructor(private readonly d: StartBreakerDeps) {
    this.warnings = new RateLimitedLog(d.logger, d.clock);
    this.guardOver = !d.lastAttempts || d.lastAttempts.wait <= 0 || d.maxDispatchAttempts <= 1;
  }

  get holding(): boolean {
    return this.ep !== undefined || this.guarding;
  }

  beginPass(): void {
    const failing = this.d.failing();
    if (failing && !this.ep) this.opens();
    else if (!failing && this.ep) this.closes(this.ep);
    this.guarding = !this.guardOver && this.stillGuarding();
    this.heldInPass = 0;
    this.approvedSeen = false;
    this.candidate = undefined;
    this.candidateTries = Infinity;
  }

  holds(uuid: string, lockCount?: number): Held | false {
    const ep = this.ep;
    const last = this.lastAttempt(lockCount);
    if (!ep) {
      if (this.guarding && lockCount === undefined && !this.saidNoLockCount) {
        this.saidNoLockCount = true;
        this.d.logger.warn('no lock_count in the controller\'s list: a container on its last attempt may be locked before a container runs', { ContainerUUID: uuid });
      }
      if (!this.guarding || !last) return false;
      this.heldInPass++;
      if (!this.guarded.has(uuid)) {
        this.guarded.add(uuid);
        const until = new Date(this.guardUntil!).toISOString();
        if (this.guarded.size === 1) {
          this.d.logger.info('holding containers on their last attempt until a container runs: the daemon has just started', { ContainerUUID: uuid, LockCount: lockCount, Until: until });
        }
        this.d.timeline?.startsHeld(uuid, { last_attempt: `lock_count ${lockCount} of MaxDispatchAttempts ${this.d.maxDispatchAttempts}`, until });
      }
      return 'last_attempt';
    }
    // The approved trial goes through, unless a lock_count listed since its read says its lock would be its last attempt.
    if (uuid === ep.approved && !last) {
      this.approvedSeen = true;
      return false;
    }
    this.heldInPass++;
    if (!ep.held.has(uuid)) {
      ep.held.add(uuid);
      this.d.timeline?.startsHeld(uuid, { since: new Date(ep.since).toISOString() });
    }
    // Its listed lock_count already says a trial would take its last attempt: no need to ask.
    if (last) ep.lastAttempt.add(uuid);
    if (!ep.lastAttempt.has(uuid) && uuid !== ep.reading) {
      const n = ep.tries.get(uuid) ?? 0;
      if (n < this.candidateTries) {
        this.candidate = uuid;
        this.candidateTries = n;
      }
    }
    return 'starts';
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
      this.d.logger.warn('new locks held and every held container is on its last attempt: none is tried until a new container comes, or the daemon restarts and LastAttemptWait passes', {
        Held: this.heldInPass,
      });
    }
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  hold(): GateHold {
    const ep = this.ep;
    return {
      ...(ep ? { breaker: { since: ep.since, nextTrialAt: ep.nextTrialAt } } : {}),
      ...(this.guarding ? { lastAttemptUntil: this.guardUntil } : {}),
    };
  }

  snapshot(): StartBreakerStats {
    return { open: this.ep !== undefined, ...this.stats };
  }

  /** True when a lock of a container locked `lockCount` times would be its last attempt (never when MaxDispatchAttempts leaves none more than one). */
  private lastAttempt(lockCount: number | undefined): boolean {
    const max = this.d.maxDispatchAttempts;
    return lockCount !== undefined && max > 1 && lockCount + 1 >= max;
  }

  /** Whether last attempts are still held after the start; ends (for good) at the first container seen running or at LastAttemptWait. */
  private stillGuarding(): boolean {
    const now = this.d.clock.now();
    this.guardUntil ??= now + this.d.lastAttempts!.wait;
    const ran = this.d.lastAttempts!.startsWorked();
    if (!ran && now < this.guardUntil) return true;
    this.guardOver = true;
    if (this.guarded.size > 0) {
      const why = ran ? 'a container runs' : 'LastAttemptWait has passed without a container running';
      this.d.logger.info(`no longer holding containers on their last attempt: ${why}`, { Held: this.guarded.size });
    }
    this.guarded.clear();
    return false;
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
    this.d.client.getContainer(uuid, TRIAL_FIELDS).then(
      (c) => {
        if (ep !== this.ep) return;
        ep.reading = undefined;
        if (c.state !== 'Queued') return;
        const count = lockCountOf(c.lock_count);
        // Its lock would be its last attempt: an unlock then cancels it.
        if (count === undefined || this.lastAttempt(count)) {
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
