/**
 * The event feed, linked to the queue: each container event becomes a
 * hint (`hints.ts`), each (re)subscription a poll. Built only when
 * `Services.Websocket.ExternalURL` is set and the settings file does not turn
 * the feed off (`EventFeed.Enable: false`); without it, or while the feed is
 * down, the queue works exactly as it does without a feed (polls every
 * PollInterval), and says so once.
 */
import { EventFeed, type EventFeedStatus, type FeedState } from '../arvados/event-feed.js';
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
}

export class EventFeedLink {
  private readonly hints: Hints;
  private readonly feed?: EventFeed;
  /** Why there is no feed, for the one line `start()` logs then. */
  private readonly without: string = '';

  constructor(
    cluster: Cluster,
    target: HintTarget,
    /** `enabled` is the settings file's `EventFeed.Enable` (default true). */
    private readonly deps: { clock: Clock; logger: Logger; userAgent?: string; enabled?: boolean },
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
    this.feed = new EventFeed({
      url,
      token: cluster.SystemRootToken,
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
  }

  view(): EventFeedView {
    const status = this.feed?.status();
    return { state: status?.state ?? 'disabled', status, hints: { ...this.hints.stats }, pending: this.hints.pending() };
  }
}
