/**
 * The event feed, linked to the queue: each container event becomes a
 * hint (`hints.ts`), each (re)subscription a poll. Built only when
 * `Services.Websocket.ExternalURL` is set and the settings file does not turn
 * the feed off (`EventFeed.Enable: false`); without it, or while the feed is
 * down, the queue works exactly as it does without a feed (polls every
 * PollInterval), and says so once.
 *
 * The feed connects with a token of its own, scoped to reading containers
 * and renewed hourly (`feed-token.ts`), made with `issuer` (the controller
 * client); with no issuer, or `EventFeed.ScopedToken: false`, with the
 * SystemRootToken.
 *
 * Every `tokenCheckMs` (one timer) the link looks at what the feed brought
 * since the last look, because arvados-ws can stay connected and send
 * nothing, and says nothing about it:
 *
 * | since the last check, the feed...                     | polls found new containers | then                                                   |
 * | ----------------------------------------------------- | -------------------------- | ------------------------------------------------------ |
 * | brought a container event, or is not connected now    | any number                 | nothing                                                |
 * | brought none, connected now but (re)subscribed since  | any number                 | its own token checked; reconnect if the controller refuses it |
 * | brought none, connected throughout                    | fewer than 3               | its own token checked; reconnect if the controller refuses it |
 * | brought none, connected throughout                    | 3 or more                  | deaf: warn, count, check its own token, reconnect either way |
 *
 * Every container's creation makes a feed event, so polls finding new
 * containers (created since the queue started: `ContainerQueueImpl.newFromPolls`)
 * while the feed brought none means it is not hearing them: a
 * token that stopped working (deleted, or lost with a database restored
 * from a backup), arvados-ws's permission checks failing against an
 * overloaded controller, a proxy that keeps the socket and drops frames.
 * A reconnect resumes from the last event id and is followed by a poll, as
 * a renewal's. An interval in which the feed (re)subscribed does not count:
 * the poll after each subscription finds what the feed never had to say.
 */
import { EventFeed, type EventFeedStatus, type FeedState } from '../arvados/event-feed.js';
import { type FeedTokenKind, FeedTokens, type TokenIssuer } from '../arvados/feed-token.js';
import type { Clock, Timer } from '../clock/index.js';
import type { Cluster } from '../config/types.js';
import { formatDuration } from '../config/units.js';
import { type Logger, RateLimitedLog } from '../log.js';
import { Hints, type HintStats, type HintTarget } from './hints.js';

/** What the link needs of the queue: what the hints need, and how many new containers its polls found. */
export interface FeedLinkTarget extends HintTarget {
  /** Containers polls (not refreshes) found new to the queue, since start (`ContainerQueueImpl.newFromPolls`). */
  newFromPolls(): number;
}

/** What the metrics and the status page show of the feed. */
export interface EventFeedView {
  /** `disabled` when no feed is configured, or the settings turn it off. */
  state: FeedState | 'disabled';
  status?: EventFeedStatus;
  hints: HintStats;
  /** Hints waiting for a refresh. */
  pending: number;
  /** Which token the feed connects with: its own (scoped), the SystemRootToken, or none yet. */
  token: FeedTokenKind;
  /** Check intervals in which the feed was found connected but deaf (and reconnected). */
  deaf: number;
}

/** Default for `tokenCheckMs`: at most six checks an hour, on a quiet cluster only. */
export const TOKEN_CHECK_MS = 10 * 60_000;

/**
 * New containers polls must find in a check interval in which a connected
 * feed brought no container event for the feed to be called deaf. Not 1:
 * a container can come into the queue without an event of its own (a
 * priority raised from its requests is plain SQL, which arvados-ws never
 * hears of), and a false alarm costs a reconnect and a warning.
 */
export const DEAF_AFTER_NEW_CONTAINERS = 3;

/** A feed that stays deaf is reconnected every check, but warned about once an hour (`Suppressed` counts the others). */
const DEAF_WARNING_EVERY_MS = 3_600_000;

export class EventFeedLink {
  private readonly hints: Hints;
  private readonly feed?: EventFeed;
  private readonly tokens?: FeedTokens;
  private readonly deafWarnings: RateLimitedLog;
  private checkTimer?: Timer;
  /** The feed's container-event count at the last check (`start()` counts as one). */
  private eventsAtCheck = 0;
  /** The queue's count of new containers polls found, at the last check. */
  private polledAtCheck = 0;
  /** When the last check was (clock ms); `start()` counts as one. */
  private checkedAt = 0;
  private deafCount = 0;
  /** Why there is no feed, for the one line `start()` logs then. */
  private readonly without: string = '';

  constructor(
    cluster: Cluster,
    private readonly target: FeedLinkTarget,
    /** `enabled` and `scopedToken` are the settings file's `EventFeed.Enable` and `EventFeed.ScopedToken` (default true). */
    private readonly deps: {
      clock: Clock;
      logger: Logger;
      userAgent?: string;
      enabled?: boolean;
      issuer?: TokenIssuer;
      scopedToken?: boolean;
      /** How long the feed may bring no container event before its token is checked, and the interval it is found deaf over; default 10 min. */
      tokenCheckMs?: number;
    },
  ) {
    this.deafWarnings = new RateLimitedLog(deps.logger, deps.clock, DEAF_WARNING_EVERY_MS);
    this.hints = new Hints({ target, clock: deps.clock, logger: deps.logger });
    const url = cluster.Services.Websocket.ExternalURL;
    if (url === '') {
      this.without = 'no event feed configured (Services.Websocket.ExternalURL is empty): new containers are seen at the next poll';
      return;
    }
    if (deps.enabled === false) {
      this.without = 'event feed disabled by the settings file (EventFeed.Enable: false): new containers are seen at the next poll';
      return;
    }
    const rootToken = cluster.SystemRootToken;
    if (deps.issuer && deps.scopedToken !== false) {
      this.tokens = new FeedTokens({ issuer: deps.issuer, rootToken, clock: deps.clock, logger: deps.logger });
    }
    const tokens = this.tokens;
    this.feed = new EventFeed({
      url,
      token: tokens ? () => tokens.get() : rootToken,
      insecure: cluster.TLS.Insecure,
      userAgent: deps.userAgent,
      clock: deps.clock,
      logger: deps.logger,
      onEvent: (e) => this.hints.event(e),
      onSubscribed: () => this.hints.resync(),
    });
  }

  start(): void {
    if (!this.feed) {
      this.deps.logger.info(this.without);
      return;
    }
    const feed = this.feed;
    this.checkedAt = this.deps.clock.now();
    this.polledAtCheck = this.target.newFromPolls();
    // The first interval is checked as every other: a feed whose token is refused from the start is found then.
    this.eventsAtCheck = feed.status().events.container;
    feed.start();
    this.checkTimer = this.deps.clock.setRepeatingTimer(this.deps.tokenCheckMs ?? TOKEN_CHECK_MS, () => void this.check(feed));
  }

  /**
   * After a quiet interval (no container event since the last check), asks
   * whether the feed's own token still works, and finds the feed deaf if
   * it was connected throughout while polls found new containers (see the
   * file comment); reconnects if either.
   */
  private async check(feed: EventFeed): Promise<void> {
    const now = this.deps.clock.now();
    const status = feed.status();
    const events = status.events.container;
    const polled = this.target.newFromPolls();
    const quiet = events === this.eventsAtCheck;
    const found = polled - this.polledAtCheck;
    // `since` moves at every (re)subscription, so this is false after one part way.
    const throughout = status.state === 'connected' && status.since < this.checkedAt;
    const quietMs = now - this.checkedAt;
    this.eventsAtCheck = events;
    this.polledAtCheck = polled;
    this.checkedAt = now;
    if (!quiet || status.state !== 'connected') return;
    const deaf = throughout && found >= DEAF_AFTER_NEW_CONTAINERS;
    if (deaf) {
      this.deafCount++;
      this.deafWarnings.warn(
        `event feed connected but brought no event in ${formatDuration(Math.round(quietMs / 1000) * 1000)} while polls found ${found} new containers; reconnecting`,
        { URL: status.url, NewContainers: found, LastLogID: status.lastLogId },
        'deaf',
      );
    }
    const refused = this.tokens ? !(await this.tokens.stillValid()) : false;
    if (deaf || refused) feed.renewNow(refused ? 'token refused' : 'connected but deaf');
  }

  async stop(): Promise<void> {
    this.checkTimer?.cancel();
    this.hints.stop();
    await this.feed?.stop();
    await this.tokens?.revoke();
  }

  view(): EventFeedView {
    const status = this.feed?.status();
    const token = !this.feed ? 'none' : this.tokens ? this.tokens.kind() : 'root';
    return { state: status?.state ?? 'disabled', status, hints: { ...this.hints.stats }, pending: this.hints.pending(), token, deaf: this.deafCount };
  }
}
