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
 */
import { EventFeed, type EventFeedStatus, type FeedState } from '../arvados/event-feed.js';
import { type FeedTokenKind, FeedTokens, type TokenIssuer } from '../arvados/feed-token.js';
import type { Clock } from '../clock/index.js';
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

export class EventFeedLink {
  private readonly hints: Hints;
  private readonly feed?: EventFeed;
  private readonly tokens?: FeedTokens;
  /** Why there is no feed, for the one line `start()` logs then. */
  private readonly without: string = '';

  constructor(
    cluster: Cluster,
    target: HintTarget,
    /** `enabled` and `scopedToken` are the settings file's `EventFeed.Enable` and `EventFeed.ScopedToken` (default true). */
    private readonly deps: { clock: Clock; logger: Logger; userAgent?: string; enabled?: boolean; issuer?: TokenIssuer; scopedToken?: boolean },
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
  }

  async stop(): Promise<void> {
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
