/**
 * An HTTP proxy in front of a fake cloud endpoint that answers the calls it
 * is told to with garbage (any status, any body, cut short, late, or never)
 * and passes every other call through, so a driver can be fuzzed with the
 * real SDK on a cloud whose state the test knows.
 */
import http from 'node:http';
import { listenOnLoopback } from '../fixtures/listen.js';

/** What the proxy answers a garbled call with. */
export type Answer =
  | { kind: 'garbage'; status: number; contentType: string; body: string; truncate: boolean; delayMs: number }
  /** Passes the call on, late. */
  | { kind: 'slow'; delayMs: number }
  /** Never answers (the connection stays open). */
  | { kind: 'hang' };

/** Names a request's call (an EC2 Action, a Compute route), from its method, path and body. */
export type CallKindOf = (method: string, path: string, body: string) => string;

export class GarbageProxy {
  private server: http.Server | undefined;
  private port = 0;
  private readonly armed = new Map<string, Answer>();
  private readonly hanging = new Set<http.ServerResponse>();
  /** Calls answered with garbage or held, by kind. */
  readonly garbled = new Map<string, number>();
  /** Every call seen, in order, by kind. */
  readonly seen: string[] = [];

  constructor(
    private readonly upstream: string,
    private readonly kindOf: CallKindOf,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => void this.serve(req, res));
    this.port = await listenOnLoopback(server);
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Every call of `kind` gets `answer` until `heal()`. */
  arm(kind: string, answer: Answer): void {
    this.armed.set(kind, answer);
  }

  /** Every call goes through again; calls left hanging are cut. */
  heal(): void {
    this.armed.clear();
    for (const res of this.hanging) res.destroy();
    this.hanging.clear();
  }

  count(kind: string): number {
    return this.seen.filter((k) => k === kind).length;
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const kind = this.kindOf(req.method ?? 'GET', new URL(req.url ?? '/', 'http://x').pathname, body.toString('utf8'));
    this.seen.push(kind);
    const answer = this.armed.get(kind);
    if (!answer) return this.forward(req, body, res);
    if (answer.kind !== 'slow') this.garbled.set(kind, (this.garbled.get(kind) ?? 0) + 1);
    switch (answer.kind) {
      case 'hang':
        this.hanging.add(res);
        res.on('close', () => this.hanging.delete(res));
        return;
      case 'slow':
        await delay(answer.delayMs);
        return this.forward(req, body, res);
      case 'garbage': {
        await delay(answer.delayMs);
        const bytes = Buffer.from(answer.body, 'utf8');
        const headers: http.OutgoingHttpHeaders = { 'content-length': bytes.length + (answer.truncate ? 64 : 0) };
        if (answer.contentType !== '') headers['content-type'] = answer.contentType;
        try {
          res.writeHead(answer.status, headers);
        } catch {
          // A status Node will not send (it checks the range): then the connection just drops.
          res.destroy();
          return;
        }
        if (answer.truncate) {
          res.write(bytes);
          // Less than content-length promised, then the connection is gone.
          setImmediate(() => res.destroy());
        } else {
          res.end(bytes);
        }
        return;
      }
    }
  }

  private forward(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): void {
    const target = new URL(req.url ?? '/', this.upstream);
    const headers = { ...req.headers, host: target.host, 'content-length': String(body.length) };
    const out = http.request(target, { method: req.method, headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    out.end(body);
  }
}

function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
