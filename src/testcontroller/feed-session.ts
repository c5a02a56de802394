/**
 * One connection to the event feed: its subscriptions, its message
 * numbering, its heartbeat, and the path every event takes to the socket
 * with the feed's faults applied on the way:
 *
 *     offer -> (token known? a subscription matches?) -> reorder batch
 *           -> delay (+ jitter) -> stall? lost? -> garbage? -> send -> duplicate?
 *
 * A message is numbered (msgID) when it is sent, as the reference numbers
 * it when it serialises it, so a reordered event shows in `id` and not in
 * `msgID`.
 */
import { WebSocket, type RawData } from 'ws';
import type { Clock, Timer } from '../clock/index.js';
import { Random } from '../../drivers/lame/random.js';
import type { Logger } from '../log.js';
import { eventMessage, type EventLog, type LogEntry } from './events.js';
import { garbageFrame, type ResolvedFeedFaults } from './feed-faults.js';
import { matches, parseClientMessage, subscriptionOf, type Subscription } from './feed-filters.js';

/** What the feed counts, over all its sessions. */
export interface FeedCounts {
  /** Connections upgraded. */
  accepted: number;
  /** Upgrades answered with the `refuse` status. */
  refused: number;
  /** Event frames sent, duplicates not included. */
  eventsSent: number;
  /** Events dropped by `loseRate`. */
  eventsLost: number;
  /** Events sent a second time by `duplicateRate`. */
  eventsDuplicated: number;
  /** Events due while the session was stalled, and so never sent. */
  eventsStalled: number;
  garbageSent: number;
  heartbeatsSent: number;
}

/** A subscribe or unsubscribe message a session received, as decoded, with the answer it got. */
export interface FeedRequest {
  /** The session's number, from 1 in connection order. */
  session: number;
  method: 'subscribe' | 'unsubscribe';
  /** Each filter as the reference holds it: exactly three items, missing ones null. */
  filters: unknown[][] | null;
  lastLogId: number;
  status: 200 | 400;
}

/** What a session needs from its feed. */
export interface SessionContext {
  clock: Clock;
  log: EventLog;
  logger?: Logger;
  counts: FeedCounts;
  faults(): ResolvedFeedFaults;
  record(req: FeedRequest): void;
}

const OK = '{"status":200}';
const FAIL = '{"status":400}';

export class FeedSession {
  private readonly subs: Subscription[] = [];
  private readonly rng: Random;
  private lastMsgId = 0;
  /** The reorder batch being filled. */
  private held: LogEntry[] = [];
  private readonly delayed = new Set<Timer>();
  private heartbeat?: Timer;
  private heartbeatEvery = 0;
  private closed = false;

  constructor(
    private readonly ws: WebSocket,
    /** From 1, in connection order. */
    readonly number: number,
    /** The uuid of the session's token, if the controller knew it when the connection opened. */
    readonly tokenUuid: string | undefined,
    /**
     * Whether the token may read an event's object, asked as each event is
     * sent: an unknown or expired token, or one whose scopes do not allow
     * the GET, gets nothing, as the reference's permission check refuses it.
     */
    private readonly mayRead: (objectUuid: string) => boolean,
    private readonly ctx: SessionContext,
  ) {
    this.rng = new Random((ctx.faults().seed + Math.imul(number, 0x9e3779b9)) >>> 0);
    ws.on('message', (data: RawData) => this.receive(rawText(data)));
    this.rearmHeartbeat();
  }

  get tokenKnown(): boolean {
    return this.tokenUuid !== undefined;
  }

  get subscriptionCount(): number {
    return this.subs.length;
  }

  /** A new log entry: queued for sending if a subscription matches. */
  offer(entry: LogEntry): void {
    if (this.closed) return;
    if (this.subs.some((s) => matches(s, entry)) && this.mayRead(entry.objectUuid)) this.enqueue(entry);
  }

  /** Starts (or restarts, after `heartbeatMs` changed) the heartbeat timer. */
  rearmHeartbeat(): void {
    const every = this.ctx.faults().heartbeatMs;
    if (this.closed || (this.heartbeat && every === this.heartbeatEvery)) return;
    this.heartbeat?.cancel();
    this.heartbeatEvery = every;
    this.heartbeat = this.ctx.clock.setRepeatingTimer(every, () => this.tick());
  }

  /** Drops the connection at once, without a close handshake, and releases the session's timers. */
  terminate(): void {
    this.dispose();
    this.ws.terminate();
  }

  /** Releases timers; events still delayed or held are never sent. */
  dispose(): void {
    this.closed = true;
    this.heartbeat?.cancel();
    for (const t of this.delayed) t.cancel();
    this.delayed.clear();
    this.held = [];
  }

  private receive(text: string): void {
    if (this.closed) return;
    const msg = parseClientMessage(text);
    if (!msg || (msg.method !== 'subscribe' && msg.method !== 'unsubscribe')) {
      this.ctx.logger?.debug('feed: bad message from client', { Session: this.number });
      this.send(FAIL);
      return;
    }
    const request: FeedRequest = {
      session: this.number,
      method: msg.method,
      filters: msg.filters,
      lastLogId: msg.lastLogId,
      status: 200,
    };
    const sub = subscriptionOf(msg);
    if (msg.method === 'subscribe') {
      this.ctx.record(request);
      this.send(OK);
      this.subs.push(sub);
      if (msg.lastLogId > 0) {
        for (const entry of this.ctx.log.since(msg.lastLogId)) if (matches(sub, entry) && this.mayRead(entry.objectUuid)) this.enqueue(entry);
      }
      return;
    }
    const i = this.subs.findIndex((s) => s.key === sub.key);
    if (i >= 0) this.subs.splice(i, 1);
    else request.status = 400;
    this.ctx.record(request);
    this.send(i >= 0 ? OK : FAIL);
  }

  private enqueue(entry: LogEntry): void {
    const window = this.ctx.faults().reorderWindow;
    if (window <= 1 && this.held.length === 0) {
      this.schedule(entry);
      return;
    }
    this.held.push(entry);
    if (this.held.length >= window) this.flushHeld();
  }

  /** Sends the reorder batch, shuffled. */
  private flushHeld(): void {
    const batch = this.held;
    this.held = [];
    for (let i = batch.length - 1; i > 0; i--) {
      const j = Math.floor(this.rng.next() * (i + 1));
      [batch[i], batch[j]] = [batch[j], batch[i]];
    }
    for (const entry of batch) this.schedule(entry);
  }

  private schedule(entry: LogEntry): void {
    const f = this.ctx.faults();
    const wait = f.delayMs + (f.delayJitterMs > 0 ? this.rng.next() * f.delayJitterMs : 0);
    if (wait <= 0) {
      this.deliver(entry);
      return;
    }
    const timer = this.ctx.clock.setTimer(wait, () => {
      this.delayed.delete(timer);
      this.deliver(entry);
    });
    this.delayed.add(timer);
  }

  private deliver(entry: LogEntry): void {
    if (this.closed) return;
    const f = this.ctx.faults();
    const counts = this.ctx.counts;
    if (f.stall) {
      counts.eventsStalled++;
      return;
    }
    // Each draw is made whatever the rates, so one seed gives one sequence of choices.
    const lose = this.rng.chance(f.loseRate);
    const garbage = this.rng.chance(f.garbageRate);
    const duplicate = this.rng.chance(f.duplicateRate);
    if (lose) {
      counts.eventsLost++;
      return;
    }
    const msgID = ++this.lastMsgId;
    if (garbage) {
      this.send(garbageFrame(this.rng, entry, msgID).data);
      counts.garbageSent++;
    }
    const frame = JSON.stringify(eventMessage(entry, msgID));
    this.send(frame);
    counts.eventsSent++;
    if (duplicate) {
      this.send(frame);
      counts.eventsDuplicated++;
    }
  }

  /**
   * The heartbeat timer. As the reference, `{}` goes out at each tick when
   * nothing is waiting to be sent, whether or not something was sent since
   * the last tick; an incomplete reorder batch is flushed instead.
   */
  private tick(): void {
    if (this.ctx.faults().stall) return;
    if (this.held.length > 0) {
      this.flushHeld();
      return;
    }
    if (this.delayed.size > 0) return;
    this.send('{}');
    this.ctx.counts.heartbeatsSent++;
  }

  private send(data: string | Buffer): void {
    if (this.closed || this.ctx.faults().stall || this.ws.readyState !== WebSocket.OPEN) return;
    this.ws.send(data, { binary: typeof data !== 'string' }, (err) => {
      if (err) this.ctx.logger?.debug('feed: send failed', { Session: this.number, error: err.message });
    });
  }
}

function rawText(data: RawData): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.from(data).toString('utf8');
}
