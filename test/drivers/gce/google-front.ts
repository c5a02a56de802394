/**
 * Google's side of the network, on loopback, for tests of the gce driver's
 * proxy and CA handling with real credentials: a TLS server that answers
 * OAuth token requests (`oauth2.googleapis.com`, whose URL the auth library
 * does not let us change) and passes Compute API requests on to a FakeGCE,
 * reached either directly (`tlsPort`, an endpoint named by IP) or through a
 * CONNECT proxy (`proxyUrl`) that does what a TLS-inspecting proxy does:
 * it ends the tunnelled TLS itself, with a certificate of its own for the
 * name the client asked for. Every certificate is self-signed, so a client
 * gets through only if it trusts them (SSL_CERT_FILE).
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import tls from 'node:tls';
import type { SelfSigned } from '../../arvados/self-signed.js';
import { listenOnLoopback } from '../../fixtures/listen.js';

export const TOKEN_HOST = 'oauth2.googleapis.com';
/** The access token the token endpoint gives. */
export const ACCESS_TOKEN = 'ya29.test-token';

export interface GoogleFrontOptions {
  /** Where Compute requests are passed on (a FakeGCE's port on 127.0.0.1). */
  computePort: number;
  /** The certificate for a client that sends no server name (an endpoint named by IP). */
  defaultCert: SelfSigned;
  /** The certificate for each server name a client may ask for (the token host, a Compute endpoint's name). */
  certs: Record<string, SelfSigned>;
}

export class GoogleFront {
  /** The `host:port` of every CONNECT the proxy side got, in order. */
  readonly connects: string[] = [];
  /** Token requests answered. */
  tokenRequests = 0;
  /** The Authorization header of each Compute request passed on ('' when it had none). */
  readonly computeAuthorizations: string[] = [];
  private readonly sockets = new Set<net.Socket>();
  private tls!: https.Server;
  private proxy!: http.Server;
  private tlsPortNumber = 0;
  private proxyPort = 0;

  private constructor(private readonly opts: GoogleFrontOptions) {}

  static async start(opts: GoogleFrontOptions): Promise<GoogleFront> {
    const front = new GoogleFront(opts);
    await front.listen();
    return front;
  }

  /** The TLS server's port on 127.0.0.1, for an endpoint reached without the proxy. */
  get tlsPort(): number {
    return this.tlsPortNumber;
  }

  /** `http://127.0.0.1:PORT`, for HTTPS_PROXY. */
  get proxyUrl(): string {
    return `http://127.0.0.1:${this.proxyPort}`;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all([this.tls, this.proxy].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  private async listen(): Promise<void> {
    const contexts = new Map(Object.entries(this.opts.certs).map(([name, c]) => [name, tls.createSecureContext({ cert: c.cert, key: c.key })]));
    this.tls = https.createServer(
      {
        cert: this.opts.defaultCert.cert,
        key: this.opts.defaultCert.key,
        SNICallback: (name, cb) => cb(null, contexts.get(name)),
      },
      (req, res) => this.answer(req, res),
    );
    this.proxy = http.createServer((_req, res) => res.writeHead(405).end('CONNECT only'));
    this.proxy.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
      this.connects.push(req.url ?? '');
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) client.unshift(head);
      // The tunnel's bytes are the client's TLS: the TLS server takes them as a connection of its own.
      this.tls.emit('connection', client);
    });
    for (const server of [this.tls, this.proxy]) {
      server.on('connection', (s: net.Socket) => {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
      });
    }
    this.tlsPortNumber = await listenOnLoopback(this.tls);
    this.proxyPort = await listenOnLoopback(this.proxy);
  }

  private answer(req: http.IncomingMessage, res: http.ServerResponse): void {
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    if (host === TOKEN_HOST) {
      this.tokenRequests++;
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: ACCESS_TOKEN, token_type: 'Bearer', expires_in: 3600 }));
      return;
    }
    this.computeAuthorizations.push(req.headers.authorization ?? '');
    const up = http.request({ host: '127.0.0.1', port: this.opts.computePort, path: req.url, method: req.method, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  }
}
