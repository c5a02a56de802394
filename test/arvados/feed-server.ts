/**
 * A small stand-in for arvados-ws on 127.0.0.1, for the event feed
 * client's tests: it records what clients send, answers subscribes the way
 * the test says, can refuse upgrades, and pushes whatever frames a test
 * wants. Deliberately not the test controller's feed: these tests need to
 * misbehave on cue.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

export interface FeedServerOptions {
  /** Answer websocket pings (false: a stalled server). Default true. */
  autoPong?: boolean;
  /** Serve wss with this certificate instead of plain ws. */
  tls?: { cert: string; key: string };
}

/** One accepted websocket connection and what its client sent. */
export interface FeedConn {
  ws: WebSocket;
  url: URL;
  headers: http.IncomingHttpHeaders;
  received: Record<string, unknown>[];
  pings: number;
}

export class FeedServer {
  /** Upgrade requests seen, accepted or not. */
  upgrades = 0;
  /** While set, upgrades get this HTTP status instead of a websocket. */
  refuseWith: number | undefined;
  /** The status answered to each subscribe; undefined answers nothing. */
  ack: number | undefined = 200;
  readonly conns: FeedConn[] = [];
  private readonly server: http.Server;
  private readonly wss: WebSocketServer;

  constructor(opts: FeedServerOptions = {}) {
    const notFound = (_req: http.IncomingMessage, res: http.ServerResponse): void => void res.writeHead(404).end();
    this.server = opts.tls ? https.createServer(opts.tls, notFound) : http.createServer(notFound);
    this.wss = new WebSocketServer({ noServer: true, autoPong: opts.autoPong ?? true });
    this.server.on('upgrade', (req, socket, head) => {
      this.upgrades++;
      if (this.refuseWith !== undefined) {
        socket.end(`HTTP/1.1 ${this.refuseWith} Refused\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req));
    });
  }

  private accept(ws: WebSocket, req: http.IncomingMessage): void {
    const conn: FeedConn = { ws, url: new URL(req.url ?? '/', 'http://x'), headers: req.headers, received: [], pings: 0 };
    this.conns.push(conn);
    ws.on('ping', () => conn.pings++);
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as Record<string, unknown>;
      conn.received.push(msg);
      if (msg.method === 'subscribe' && this.ack !== undefined) ws.send(JSON.stringify({ status: this.ack }));
    });
  }

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `${this.server instanceof https.Server ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** The newest connection. */
  last(): FeedConn {
    const c = this.conns.at(-1);
    if (!c) throw new Error('no connection yet');
    return c;
  }

  /** Connections the server still holds open. */
  open(): FeedConn[] {
    return this.conns.filter((c) => c.ws.readyState === c.ws.OPEN);
  }

  /** Sends a text frame (a value is JSON-encoded) on the newest connection. */
  send(value: unknown): void {
    this.last().ws.send(typeof value === 'string' ? value : JSON.stringify(value));
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.ws.terminate();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

let nextLogId = 1;

/** A container event as arvados-ws sends it, with a fresh log id unless given. */
export function containerEvent(uuid: string, o: { id?: number; type?: string; from?: string; to?: string; kind?: string | null } = {}): Record<string, unknown> {
  const id = o.id ?? nextLogId++;
  const properties: Record<string, unknown> = { new_attributes: { state: o.to ?? 'Queued' } };
  if (o.from) properties.old_attributes = { state: o.from };
  const msg: Record<string, unknown> = {
    msgID: id,
    id,
    uuid: `zzzzz-57u5n-${String(id).padStart(15, '0')}`,
    object_uuid: uuid,
    object_owner_uuid: 'zzzzz-tpzed-000000000000000',
    event_type: o.type ?? 'update',
    event_at: '2026-12-04T21:00:00.000000000Z',
    properties,
  };
  if (o.kind !== null) msg.object_kind = o.kind ?? 'arvados#container';
  return msg;
}
