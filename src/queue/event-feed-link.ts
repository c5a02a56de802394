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
 * SystemRootToken. A feed that has brought no container event for
 * `tokenCheckMs` has its token checked at the controller: arvados-ws
 * says nothing when a token stops working, it just sends no more events.
 */
import { EventFeed, type EventFeedStatus, type FeedState } from '../arvados/event-feed.js';
import { type FeedTokenKind, FeedTokens, type TokenIssuer } from '../arvados/feed-token.js';
import type { Clock, Timer } from '../clock/index.js';
import type { Cluster } from '../config/types.js';
import type { Logger } from '../log.js';
import { Hints, type HintStats, type HintTarget } from './hints.js';

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
}

/** Default for `tokenCheckMs`: at most six checks an hour, on a quiet cluster only. */
export const TOKEN_CHECK_MS = 10 * 60_000;

export class EventFeedLink {
  private readonly hints: Hints;
  private readonly feed?: EventFeed;
  private readonly tokens?: FeedTokens;
  private checkTimer?: Timer;
  /** The feed's container-event count at the last check. */
  private eventsAtCheck = -1;
  /** Why there is no feed, for the one line `start()` logs then. */
  private readonly without: string = '';

  constructor(
    cluster: Cluster,
    target: HintTarget,
    /** `enabled` and `scopedToken` are the settings file's `EventFeed.Enable` and `EventFeed.ScopedToken` (default true). */
    private readonly deps: {
      clock: Clock;
      logger: Logger;
      userAgent?: string;
      enabled?: boolean;
      issuer?: TokenIssuer;
      scopedToken?: boolean;
      /** How long the feed may bring no container event before its token is checked; default 10 min. */
      tokenCheckMs?: number;
    },
  ) {
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
    this.feed.start();
    if (this.tokens) this.checkTimer = this.deps.clock.setRepeatingTimer(this.deps.tokenCheckMs ?? TOKEN_CHECK_MS, () => void this.checkToken());
  }

  /** After a quiet interval (no container event since the last check), asks whether the feed's token still works. */
  private async checkToken(): Promise<void> {
    const status = this.feed?.status();
    const events = status?.events.container ?? 0;
    const quiet = events === this.eventsAtCheck;
    this.eventsAtCheck = events;
    if (!quiet || status?.state !== 'connected' || !this.tokens) return;
    if (!(await this.tokens.stillValid())) this.feed?.renewNow();
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
    return { state: status?.state ?? 'disabled', status, hints: { ...this.hints.stats }, pending: this.hints.pending(), token };
  }
}
