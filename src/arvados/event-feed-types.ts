/**
 * The event feed client's states, status and options (`event-feed.ts`).
 */
import type { Clock } from '../clock/index.js';
import type { Logger } from '../log.js';
import type { ContainerEvent } from './event-message.js';
import type { FeedCredential } from './feed-token.js';

export type FeedState = 'connecting' | 'connected' | 'unavailable' | 'stopped';

/** What the feed is doing, for logs, metrics and the status page. */
export interface EventFeedStatus {
  state: FeedState;
  /** When `state` began (clock ms). */
  since: number;
  /** The feed's address, without the token. */
  url: string;
  /** Why the last attempt failed or the last connection ended. */
  lastError?: string;
  /** The highest event id seen: where a reconnect resumes. */
  lastLogId?: number;
  /** When the last message or pong arrived (clock ms). */
  lastHeardAt?: number;
  /** When the next attempt is due (clock ms), while waiting to retry. */
  retryAt?: number;
  /** Connection attempts started. */
  attempts: number;
  /** Subscriptions the server accepted. */
  connects: number;
  /** Accepted subscriptions that later ended (not counting `stop()` and renewals). */
  disconnects: number;
  /** Of `connects`, those made to renew the token (not after a failure). */
  renewals: number;
  /** Well-formed events about containers and about other objects; malformed messages. */
  events: { container: number; other: number; garbage: number };
}

export interface EventFeedOptions {
  /** `Services.Websocket.ExternalURL`; normalised with `eventFeedURL`. */
  url: string;
  /**
   * Sent as the `api_token` query parameter; never logged. A function is
   * asked before every attempt (`feed-token.ts`): a throw fails the attempt,
   * and a connection whose credential has a `renewAt` is closed then and
   * made again with a new one.
   */
  token: string | (() => Promise<FeedCredential>);
  /** Accept any TLS certificate (`TLS.Insecure`). Default false. */
  insecure?: boolean;
  userAgent?: string;
  clock: Clock;
  logger: Logger;
  /** Called for each container event. A throw is logged and otherwise ignored. */
  onEvent(e: ContainerEvent): void;
  /**
   * Called each time the server accepts the subscription. `reconnect` is
   * false the first time only: events between the consumer's last poll and
   * now may have been missed, so the consumer should poll at once.
   */
  onSubscribed(info: { reconnect: boolean }): void;
  /** Called on every change of `state`, with the new status. */
  onStateChange?(s: EventFeedStatus): void;
  /** Delay before the first retry, doubling up to `maxMs`. Default 500 ms and 30 s. */
  backoff?: { firstMs: number; maxMs: number };
  /** How often a live connection is pinged; silence for a whole interval drops it. Default 30 s. */
  pingIntervalMs?: number;
  /** From starting a connection to the server accepting the subscription. Default 10 s. */
  subscribeTimeoutMs?: number;
  /** Largest message accepted; a larger one drops the connection. Default 4 MiB. */
  maxPayloadBytes?: number;
  /** Source of the back-off jitter, in [0, 1). Default Math.random. */
  random?: () => number;
}
