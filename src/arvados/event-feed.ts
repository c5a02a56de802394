/**
 * The dispatcher's subscription to Arvados's event feed (arvados-ws,
 * protocol v0), so that a new or changed container is known in
 * milliseconds instead of at the next poll. Events are hints: the consumer
 * refreshes each container from the controller, and keeps polling, so a
 * feed that is down costs latency, never correctness. Hence this client
 * never gives up, and says so once rather than on every attempt.
 *
 * States (`FeedState`):
 *
 * | state       | meaning                                                        | next                                  |
 * | ----------- | -------------------------------------------------------------- | ------------------------------------- |
 * | stopped     | not started yet, or `stop()` was called                         | start() -> connecting                 |
 * | connecting  | started; the first attempt is under way, or a renewal's          | ack -> connected; failure -> unavailable |
 * | connected   | the server accepted the subscription on the current socket      | drop -> unavailable; token renewal -> connecting |
 * | unavailable | the last attempt failed or the connection dropped; retrying     | ack -> connected                      |
 *
 * `stop()` leads from every state to stopped, for good.
 */
import WebSocket, { type RawData } from 'ws';
import type { Timer } from '../clock/index.js';
import { errorText, RateLimitedLog } from '../log.js';
import { displayURL, eventFeedURL, parseFeedMessage, subscribeMessage } from './event-message.js';
import { secureContextOption } from '../net/trust.js';
import type { EventFeedOptions, EventFeedStatus, FeedState } from './event-feed-types.js';
import type { FeedCredential } from './feed-token.js';

export { type ContainerEvent, eventFeedURL } from './event-message.js';
export type { EventFeedOptions, EventFeedStatus, FeedState } from './event-feed-types.js';

/** A connection that stayed subscribed this long was healthy: the back-off starts over. */
export const BACKOFF_RESET_MS = 30_000;

/** `renew`'s reason when the credential is due. */
const RENEWAL_DUE = 'token due for renewal';

/** How long `stop()` waits for the server to answer a close before cutting the socket. */
const CLOSE_GRACE_MS = 1000;

/** One socket, from connecting to closed. */
interface Attempt {
  ws: WebSocket;
  /** Why we are ending it (the first reason wins over the errors that follow). */
  reason?: string;
  subscribedAt?: number;
  /** A message or pong arrived since the last ping. */
  heard: boolean;
  timers: Timer[];
  closed: Promise<void>;
  /** When the credential is due for renewal (clock ms). */
  renewAt?: number;
  /** Closed by us to reconnect (why: its credential is due, or `renewNow`'s reason): reconnect at once, no failure. */
  renewing?: string;
}

/** The event feed client; see the file comment for its states. */
export class EventFeed {
  private readonly url: string;
  private readonly shownURL: string;
  private readonly backoff: { firstMs: number; maxMs: number };
  private readonly pingIntervalMs: number;
  private readonly subscribeTimeoutMs: number;
  private readonly maxPayloadBytes: number;
  private readonly random: () => number;
  private readonly garbageLog: RateLimitedLog;
  private readonly s: EventFeedStatus;
  private started = false;
  private attempt: Attempt | undefined;
  private retryTimer: Timer | undefined;
  /** Failed attempts since the feed was last healthy; sets the back-off. */
  private failures = 0;
  /** Why the connection under way replaces one we closed (`renew`), for its log line. */
  private reconnectingFor?: string;

  constructor(private readonly opts: EventFeedOptions) {
    this.url = eventFeedURL(opts.url);
    this.shownURL = displayURL(this.url);
    this.backoff = opts.backoff ?? { firstMs: 500, maxMs: 30_000 };
    this.pingIntervalMs = opts.pingIntervalMs ?? 30_000;
    this.subscribeTimeoutMs = opts.subscribeTimeoutMs ?? 10_000;
    this.maxPayloadBytes = opts.maxPayloadBytes ?? 4 * 1024 * 1024;
    this.random = opts.random ?? Math.random;
    this.garbageLog = new RateLimitedLog(opts.logger, opts.clock);
    this.s = {
      state: 'stopped',
      since: opts.clock.now(),
      url: this.shownURL,
      attempts: 0,
      connects: 0,
      disconnects: 0,
      renewals: 0,
      events: { container: 0, other: 0, garbage: 0 },
    };
  }

  /** Connects, and keeps reconnecting until `stop()`. Throws if called twice. */
  start(): void {
    if (this.started) throw new Error('EventFeed.start: already started');
    this.started = true;
    this.opts.logger.info('event feed connecting', { URL: this.shownURL });
    this.setState('connecting');
    this.connect();
  }

  /** Stops for good: no more attempts; resolves once the socket is closed. Idempotent. */
  async stop(): Promise<void> {
    this.started = true;
    this.retryTimer?.cancel();
    this.retryTimer = undefined;
    delete this.s.retryAt;
    if (this.s.state !== 'stopped') this.setState('stopped');
    const a = this.attempt;
    if (!a) return;
    for (const t of a.timers) t.cancel();
    if (a.ws.readyState === WebSocket.OPEN) {
      a.ws.close(1000, 'dispatcher stopping');
      const cut = this.opts.clock.setTimer(CLOSE_GRACE_MS, () => a.ws.terminate());
      await a.closed;
      cut.cancel();
    } else {
      a.ws.terminate();
      await a.closed;
    }
  }

  /** Reconnects at once with a fresh credential, as at renewal time, saying why in the debug log; nothing when not connected. */
  renewNow(reason: string): void {
    const a = this.attempt;
    if (a && a.subscribedAt !== undefined && a.renewing === undefined) this.renew(a, reason);
  }

  /** A copy of the current status. */
  status(): EventFeedStatus {
    return { ...this.s, events: { ...this.s.events } };
  }

  private connect(): void {
    this.s.attempts++;
    const source = this.opts.token;
    if (typeof source === 'string') {
      this.open({ token: source });
      return;
    }
    // Through a promise, so a function that throws at once fails the attempt rather than the timer that called it.
    Promise.resolve().then(source).then(
      (credential) => {
        if (this.s.state !== 'stopped') this.open(credential);
      },
      (err: unknown) => {
        if (this.s.state !== 'stopped') this.failed(errorText(err instanceof Error ? err : new Error(String(err))));
      },
    );
  }

  /** One attempt's socket, with the credential it connects with. */
  private open(credential: FeedCredential): void {
    const { clock } = this.opts;
    const withToken = new URL(this.url);
    withToken.searchParams.set('api_token', credential.token);
    const headers: Record<string, string> = {};
    if (this.opts.userAgent) headers['User-Agent'] = this.opts.userAgent;
    const ws = new WebSocket(withToken, {
      headers,
      rejectUnauthorized: !this.opts.insecure,
      // The roots the reference would trust (a site CA in /etc/arvados/ca-certificates.crt).
      ...(this.opts.insecure ? {} : secureContextOption()),
      maxPayload: this.maxPayloadBytes,
      // A compressed frame could inflate past any limit we care to hold.
      perMessageDeflate: false,
    });
    let closed!: () => void;
    const a: Attempt = { ws, heard: false, timers: [], closed: new Promise((resolve) => (closed = resolve)), renewAt: credential.renewAt };
    this.attempt = a;
    // One deadline covers TCP, TLS, the upgrade and the subscribe, on the
    // injected clock (ws's own handshakeTimeout would run on real time).
    a.timers.push(clock.setTimer(this.subscribeTimeoutMs, () => this.end(a, `no subscription ack within ${this.subscribeTimeoutMs} ms`)));
    ws.on('open', () => {
      ws.send(subscribeMessage(this.s.lastLogId), (err) => {
        if (err) this.end(a, `sending subscribe: ${err.message}`);
      });
    });
    ws.on('message', (data, isBinary) => this.onMessage(a, data, isBinary));
    ws.on('pong', () => this.heard(a));
    ws.on('error', (err) => {
      a.reason ??= err.message;
    });
    ws.on('close', (code, reason) => {
      for (const t of a.timers) t.cancel();
      closed();
      if (this.attempt !== a) return;
      this.attempt = undefined;
      if (this.s.state === 'stopped') return;
      if (a.renewing !== undefined) {
        this.reconnectingFor = a.renewing;
        this.setState('connecting');
        this.connect();
        return;
      }
      this.failed(a.reason ?? `closed by the server (code ${code}${reason.length > 0 ? `, ${reason.toString('utf8')}` : ''})`, a.subscribedAt);
    });
  }

  /** Ends an attempt; the 'close' handler then decides what follows. */
  private end(a: Attempt, reason: string): void {
    a.reason ??= reason;
    a.ws.terminate();
  }

  private heard(a: Attempt): void {
    a.heard = true;
    this.s.lastHeardAt = this.opts.clock.now();
  }

  private onMessage(a: Attempt, data: RawData, isBinary: boolean): void {
    if (this.attempt !== a) return;
    this.heard(a);
    const msg = parseFeedMessage(data, isBinary);
    switch (msg.kind) {
      case 'status':
        if (msg.status === 200) this.subscribed(a);
        else if (a.subscribedAt === undefined) this.end(a, `subscription refused (status ${msg.status})`);
        return;
      case 'heartbeat':
        return;
      case 'garbage':
        this.s.events.garbage++;
        this.garbageLog.warn('event feed sent a message it cannot use; ignored', { Reason: msg.reason, Excerpt: msg.excerpt });
        return;
      case 'event':
        this.s.lastLogId = Math.max(this.s.lastLogId ?? 0, msg.logId);
        if (!msg.container) {
          this.s.events.other++;
          return;
        }
        this.s.events.container++;
        try {
          this.opts.onEvent(msg.container);
        } catch (err) {
          this.garbageLog.error('event feed consumer failed on an event', { ContainerUUID: msg.container.uuid, error: err }, 'onEvent');
        }
    }
  }

  private subscribed(a: Attempt): void {
    if (a.subscribedAt !== undefined) return;
    const { clock, logger } = this.opts;
    a.subscribedAt = clock.now();
    for (const t of a.timers) t.cancel();
    a.timers = [clock.setRepeatingTimer(this.pingIntervalMs, () => this.ping(a))];
    if (a.renewAt !== undefined) a.timers.push(clock.setTimer(Math.max(0, a.renewAt - a.subscribedAt), () => this.renew(a, RENEWAL_DUE)));
    const reconnect = this.s.connects > 0;
    this.s.connects++;
    // Back in 'connecting' after a subscription: only a renewal leads there.
    if (reconnect && this.s.state === 'connecting') {
      this.s.renewals++;
      logger.debug('event feed connected again after reconnecting', { URL: this.shownURL, Reason: this.reconnectingFor, LastLogID: this.s.lastLogId });
    } else if (this.s.state === 'unavailable') {
      const downMs = a.subscribedAt - this.s.since;
      logger.info(`event feed connected again after ${(downMs / 1000).toFixed(1)} s unavailable`, {
        URL: this.shownURL,
        UnavailableMs: downMs,
        LastLogID: this.s.lastLogId,
      });
    } else {
      logger.info('event feed connected; container changes arrive as they happen', { URL: this.shownURL, LastLogID: this.s.lastLogId });
    }
    this.setState('connected');
    try {
      this.opts.onSubscribed({ reconnect });
    } catch (err) {
      logger.error('event feed consumer failed on subscription', { error: err });
    }
  }

  /**
   * Closes a healthy connection, because its credential is due for renewal
   * or for `reason`; the 'close' handler connects again at once (with a new
   * credential when one is due), resuming from the last event id, so
   * nothing is missed.
   */
  private renew(a: Attempt, reason: string): void {
    if (this.attempt !== a) return;
    this.opts.logger.debug('event feed reconnecting', { URL: this.shownURL, Reason: reason });
    a.renewing = reason;
    for (const t of a.timers) t.cancel();
    a.timers = [this.opts.clock.setTimer(CLOSE_GRACE_MS, () => a.ws.terminate())];
    a.ws.close(1000, 'reconnecting');
  }

  /** A ping per interval; an interval with neither a message nor a pong means the connection is dead. */
  private ping(a: Attempt): void {
    if (!a.heard) {
      this.end(a, `no message or pong for ${this.pingIntervalMs} ms`);
      return;
    }
    a.heard = false;
    if (a.ws.readyState === WebSocket.OPEN) a.ws.ping();
  }

  /** An attempt failed (`subscribedAt`: after the server had accepted it); retries after the back-off. */
  private failed(reason: string, subscribedAt?: number): void {
    const { clock, logger } = this.opts;
    this.s.lastError = reason;
    if (subscribedAt !== undefined) {
      this.s.disconnects++;
      if (clock.now() - subscribedAt >= BACKOFF_RESET_MS) this.failures = 0;
    }
    this.failures++;
    const delay = backoffDelay(this.failures, this.backoff, this.random());
    this.s.retryAt = clock.now() + delay;
    if (this.s.state !== 'unavailable') {
      logger.warn(`event feed unavailable: ${reason}; dispatching from polls every PollInterval until it comes back`, {
        URL: this.shownURL,
        RetryInMs: delay,
      });
      this.setState('unavailable');
    } else {
      logger.debug('event feed attempt failed', { URL: this.shownURL, Reason: reason, RetryInMs: delay });
    }
    this.retryTimer = clock.setTimer(delay, () => {
      this.retryTimer = undefined;
      delete this.s.retryAt;
      this.connect();
    });
  }

  private setState(state: FeedState): void {
    this.s.state = state;
    this.s.since = this.opts.clock.now();
    try {
      this.opts.onStateChange?.(this.status());
    } catch (err) {
      this.opts.logger.error('event feed state listener failed', { error: err });
    }
  }
}

/**
 * The wait before retry number `failures` (1 for the first): `firstMs`
 * doubling per failure up to `maxMs`, times a factor in [0.5, 1] from
 * `random` so that dispatchers cut off together do not return together.
 */
export function backoffDelay(failures: number, backoff: { firstMs: number; maxMs: number }, random: number): number {
  const base = Math.min(backoff.maxMs, backoff.firstMs * 2 ** Math.min(Math.max(0, failures - 1), 30));
  return Math.round(base * (0.5 + 0.5 * random));
}
