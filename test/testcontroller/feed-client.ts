/**
 * A bare websocket client for the feed server's tests: it keeps every frame
 * it receives, and waits for frames on events with a real-time bound, never
 * a fixed sleep. `barrier()` proves absence: the server answers a bogus
 * message with `{"status":400}` after everything it sent before, so the
 * frames before that answer are all there was.
 */
import { WebSocket, type RawData } from 'ws';
import { systemClock } from '../../src/clock/index.js';
import { ROOT_TOKEN } from './helpers.js';

export interface Frame {
  text: string;
  binary: boolean;
}

export class FeedClient {
  private readonly frames: Frame[] = [];
  private wake?: () => void;
  private isClosed = false;
  /** Resolves with the close code when the connection ends. */
  readonly closed: Promise<number>;

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data: RawData, binary: boolean) => {
      this.frames.push({ text: Buffer.from(data as Buffer).toString('utf8'), binary });
      this.wake?.();
    });
    this.closed = new Promise((resolve) =>
      ws.on('close', (code) => {
        this.isClosed = true;
        this.wake?.();
        resolve(code);
      }),
    );
    ws.on('error', () => undefined);
  }

  /** Connects to `feedUrl` with `token` (none if null). */
  static open(feedUrl: string, token: string | null = ROOT_TOKEN): Promise<FeedClient> {
    const url = token === null ? feedUrl : `${feedUrl}?api_token=${encodeURIComponent(token)}`;
    const ws = new WebSocket(url);
    const client = new FeedClient(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(client));
      ws.once('error', reject);
    });
  }

  /** The HTTP status with which an upgrade to `url` is refused. */
  static refusal(url: string): Promise<number> {
    const ws = new WebSocket(url);
    return new Promise((resolve, reject) => {
      ws.once('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
        ws.terminate();
      });
      ws.once('open', () => reject(new Error('upgrade accepted')));
      ws.once('error', () => undefined);
    });
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' ? msg : JSON.stringify(msg));
  }

  /** The next frame; fails after `timeoutMs` of real time or if the connection closes first. */
  async next(timeoutMs = 3000): Promise<Frame> {
    let timedOut = false;
    const timer = systemClock.setTimer(timeoutMs, () => {
      timedOut = true;
      this.wake?.();
    });
    try {
      while (this.frames.length === 0) {
        if (timedOut) throw new Error(`no frame within ${timeoutMs} ms`);
        if (this.isClosed) throw new Error('connection closed');
        await new Promise<void>((resolve) => (this.wake = resolve));
      }
      return this.frames.shift()!;
    } finally {
      timer.cancel();
      this.wake = undefined;
    }
  }

  /** The next frame, parsed. */
  async json(): Promise<Record<string, unknown>> {
    const f = await this.next();
    return JSON.parse(f.text) as Record<string, unknown>;
  }

  /** Subscribes and checks the 200. */
  async subscribe(filters: unknown[] = [], lastLogId?: number): Promise<void> {
    this.send({ method: 'subscribe', filters, ...(lastLogId !== undefined ? { last_log_id: lastLogId } : {}) });
    const ack = await this.json();
    if (ack.status !== 200) throw new Error(`subscribe answered ${JSON.stringify(ack)}`);
  }

  /** Every frame the server sent before it answered a bogus message. */
  async barrier(): Promise<Frame[]> {
    this.send('{"method":"barrier"}');
    const before: Frame[] = [];
    for (;;) {
      const f = await this.next();
      if (f.text === '{"status":400}') return before;
      before.push(f);
    }
  }

  /** The events (objects with a msgID) among `frames`, parsed. */
  static events(frames: Frame[]): Array<Record<string, unknown>> {
    return frames
      .filter((f) => !f.binary && f.text.includes('"msgID"'))
      .map((f) => JSON.parse(f.text) as Record<string, unknown>);
  }

  close(): void {
    this.ws.terminate();
  }
}
