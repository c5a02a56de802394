/**
 * The test controller's event feed: the server side of Arvados's websocket
 * "v0" protocol (arvados-ws at `/websocket?api_token=...`), upgraded on the
 * controller's own HTTP server. Clients subscribe with filters and get an
 * event for each container create and update in the controller's log table
 * (`events.ts`), optionally replayed from a `last_log_id`; idle sessions get
 * a `{}` heartbeat. Faults (`feed-faults.ts`) break it in the ways a client
 * must survive. Without `start()` of the controller nothing here runs: no
 * socket, no timer, only the bounded log table.
 */
import { STATUS_CODES, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Clock, Timer } from '../clock/index.js';
import type { Logger } from '../log.js';
import { EventLog } from './events.js';
import { DEFAULT_FEED_FAULTS, mergeFeedFaults, type FeedFaults, type ResolvedFeedFaults } from './feed-faults.js';
import { FeedSession, type FeedCounts, type FeedRequest } from './feed-session.js';

export interface EventFeedOptions {
  clusterId: string;
  clock: Clock;
  logger?: Logger;
  /** Whether `token` may read the object now (known, not expired, its scopes allowing the GET): an event is sent only then. */
  mayRead(token: string, objectUuid: string): boolean;
  /** The uuid of `token` if the controller knows it now (for `connections()`). */
  identify(token: string): string | undefined;
  faults?: FeedFaults;
  /** Bound of the log table; default 10000 entries. */
  maxLogEntries?: number;
  /** Oldest entries of `received()` are dropped past this many; default 10000. */
  maxReceived?: number;
}

/** An open connection, as tests see it (never its token). */
export interface FeedConnection {
  session: number;
  /** The controller knew the token when the connection opened. */
  tokenKnown: boolean;
  /** Its uuid then. */
  tokenUuid?: string;
  subscriptions: number;
}

/** The largest frame a client may send, as the reference's read buffer. */
const MAX_CLIENT_FRAME = 2 << 20;

function zeroCounts(): FeedCounts {
  return {
    accepted: 0,
    refused: 0,
    eventsSent: 0,
    eventsLost: 0,
    eventsDuplicated: 0,
    eventsStalled: 0,
    garbageSent: 0,
    heartbeatsSent: 0,
  };
}

/** Answers an upgrade request with a plain HTTP status and closes the socket. */
function rejectUpgrade(socket: Duplex, status: number): void {
  const body = `${status} ${STATUS_CODES[status] ?? 'Error'}\n`;
  socket.on('error', () => undefined);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\n` +
      `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    () => socket.destroy(),
  );
}

export class EventFeed {
  /** The log table the feed serves; the controller appends to it on every create and change. */
  readonly log: EventLog;
  private current: ResolvedFeedFaults;
  private readonly sessions = new Map<number, FeedSession>();
  private readonly requests: FeedRequest[] = [];
  private readonly counters = zeroCounts();
  private readonly maxReceived: number;
  private lastSession = 0;
  private attached?: {
    server: Server;
    wss: WebSocketServer;
    url: string;
    unlisten: () => void;
    onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
  };
  private dropTimer?: Timer;

  constructor(private readonly opts: EventFeedOptions) {
    this.log = new EventLog({ clusterId: opts.clusterId, clock: opts.clock, maxEntries: opts.maxLogEntries });
    this.current = mergeFeedFaults(DEFAULT_FEED_FAULTS, opts.faults ?? {});
    this.maxReceived = opts.maxReceived ?? 10_000;
  }

  /** Serves the feed on `server` (the controller's, listening at `httpUrl`) until `close()`. */
  attach(server: Server, httpUrl: string): void {
    if (this.attached) throw new Error('event feed already attached');
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_FRAME });
    const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => this.upgrade(req, socket, head);
    server.on('upgrade', onUpgrade);
    const unlisten = this.log.onEntry((entry) => {
      for (const s of this.sessions.values()) s.offer(entry);
    });
    this.attached = { server, wss, url: `${httpUrl.replace(/^http/, 'ws')}/websocket`, unlisten, onUpgrade };
    this.rearmDrops();
  }

  /** Terminates every connection, stops every timer and stops answering upgrades. */
  close(): void {
    const a = this.attached;
    if (!a) return;
    this.attached = undefined;
    this.dropTimer?.cancel();
    this.dropTimer = undefined;
    a.server.off('upgrade', a.onUpgrade);
    a.unlisten();
    this.disconnect();
    a.wss.close();
  }

  /** `ws://HOST:PORT/websocket`; only while the controller is started. Add `?api_token=...`. */
  get url(): string {
    if (!this.attached) throw new Error('event feed not started (start the test controller)');
    return this.attached.url;
  }

  /** Changes faults; a key given as undefined returns to its default. Open sessions keep their random sequence. */
  setFaults(partial: FeedFaults): void {
    const before = this.current;
    this.current = mergeFeedFaults(this.current, partial);
    if (before.dropEveryMs !== this.current.dropEveryMs) this.rearmDrops();
    if (before.heartbeatMs !== this.current.heartbeatMs) for (const s of this.sessions.values()) s.rearmHeartbeat();
  }

  /** The faults in force, every field present. */
  faults(): ResolvedFeedFaults {
    return { ...this.current };
  }

  /** Terminates every open connection now, without a close handshake; returns how many. */
  disconnect(): number {
    const open = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of open) s.terminate();
    if (open.length > 0) this.opts.logger?.debug('feed: connections dropped', { Count: open.length });
    return open.length;
  }

  connections(): FeedConnection[] {
    return [...this.sessions.values()].map((s) => ({
      session: s.number,
      tokenKnown: s.tokenKnown,
      ...(s.tokenUuid !== undefined ? { tokenUuid: s.tokenUuid } : {}),
      subscriptions: s.subscriptionCount,
    }));
  }

  /** Subscribe and unsubscribe messages received, oldest first. */
  received(): FeedRequest[] {
    return this.requests.slice(Math.max(0, this.requests.length - this.maxReceived)).map((r) => ({ ...r }));
  }

  counts(): FeedCounts {
    return { ...this.counters };
  }

  private rearmDrops(): void {
    this.dropTimer?.cancel();
    this.dropTimer = undefined;
    const every = this.current.dropEveryMs;
    if (this.attached && every > 0) this.dropTimer = this.opts.clock.setRepeatingTimer(every, () => this.disconnect());
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const a = this.attached;
    const url = new URL(req.url ?? '/', 'http://feed.invalid');
    if (!a || url.pathname !== '/websocket') {
      rejectUpgrade(socket, 404);
      return;
    }
    if (this.current.refuse !== 0) {
      this.counters.refused++;
      rejectUpgrade(socket, this.current.refuse);
      return;
    }
    const token = url.searchParams.get('api_token') ?? '';
    a.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, token));
  }

  private open(ws: WebSocket, token: string): void {
    if (!this.attached) {
      ws.terminate();
      return;
    }
    const number = ++this.lastSession;
    const tokenUuid = token === '' ? undefined : this.opts.identify(token);
    const session = new FeedSession(ws, number, tokenUuid, (objectUuid) => token !== '' && this.opts.mayRead(token, objectUuid), {
      clock: this.opts.clock,
      log: this.log,
      logger: this.opts.logger,
      counts: this.counters,
      faults: () => this.current,
      record: (r) => {
        this.requests.push(r);
        // Trimmed a quarter at a time, so a long run does not copy the list on every message.
        const max = this.maxReceived;
        if (this.requests.length > max + (max >> 2)) this.requests.splice(0, this.requests.length - max);
      },
    });
    this.sessions.set(number, session);
    this.counters.accepted++;
    this.opts.logger?.debug('feed: connection opened', { Session: number, TokenKnown: session.tokenKnown });
    ws.on('error', (err) => this.opts.logger?.debug('feed: connection error', { Session: number, error: err.message }));
    ws.on('close', () => {
      session.dispose();
      this.sessions.delete(number);
      this.opts.logger?.debug('feed: connection closed', { Session: number });
    });
  }
}
