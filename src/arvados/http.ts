/**
 * One HTTP exchange with the controller over node:http or node:https, timed
 * on the injected clock (so a manual clock decides when a request times out)
 * and abortable. Retries, JSON and error classification live in `client.ts`.
 *
 * Compression: every request says `Accept-Encoding: gzip` and a gzip answer
 * is decompressed, as Go's default transport (the reference's) does, so a
 * proxy that compresses JSON sends us as few bytes as it sends the
 * reference. A body, decompressed or not, may be at most `maxBodyBytes`: a
 * few hundred KiB of gzip can inflate to gigabytes (a "gzip bomb"), and the
 * reading stops at the limit instead.
 */
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { TLSSocket } from 'node:tls';
import { createGunzip } from 'node:zlib';
import type { Clock, Timer } from '../clock/index.js';
import { secureContextOption } from '../net/trust.js';
import { EnvProxyAgent, type ProxyEnv } from '../net/proxy.js';

/** The request got no complete answer within its time limit. */
export class RequestTimeoutError extends Error {
  override readonly name = 'RequestTimeoutError';
  constructor(readonly timeoutMs: number) {
    super(`no response within ${timeoutMs} ms`);
  }
}

/**
 * A new connection was not made in time: the TCP connect took longer than
 * `CONNECT_TIMEOUT_MS`, or the TLS handshake after it longer than
 * `TLS_HANDSHAKE_TIMEOUT_MS`. Nothing reached the controller, so the
 * request may be sent again.
 */
export class ConnectTimeoutError extends Error {
  override readonly name = 'ConnectTimeoutError';
  constructor(what: string, timeoutMs: number) {
    super(`${what} not done within ${timeoutMs} ms`);
  }
}

/**
 * How long a new connection may take to connect, and then to finish its TLS
 * handshake: the limits of Go's default transport (the reference's client).
 * Without them a controller host that drops packets (down, or rebooting)
 * holds each attempt until the kernel gives up on the connect, about two
 * minutes on Linux, where the reference fails it after 30 s.
 */
export const CONNECT_TIMEOUT_MS = 30_000;
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * The answer's body is larger than the transport reads (after
 * decompression): no use sending the request again.
 */
export class ResponseTooLargeError extends Error {
  override readonly name = 'ResponseTooLargeError';
  constructor(
    readonly limit: number,
    /** The answer's HTTP status. */
    readonly status: number,
    compressed: boolean,
  ) {
    super(`the answer's body is larger than ${limit} bytes${compressed ? ' once decompressed' : ''}`);
  }
}

/**
 * The largest body the transport reads, plain or decompressed: twice the
 * largest record or list page a controller at its defaults sends
 * (API.MaxRequestSize and API.MaxIndexDatabaseRead are both 128 MiB). A
 * plain body had no other bound than the longest string JavaScript holds
 * (about 512 MiB), past which it failed only after all of it had been read.
 */
export const MAX_RESPONSE_BYTES = 256 * 1024 * 1024;

export interface RawRequest {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** Aborts the request; it then rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface RawResponse {
  status: number;
  text: string;
}

/**
 * What the controller client sends its requests through: HTTP by default
 * (`Transport`); the simulator hands in an in-process one that calls a
 * controller's request handler directly, with no socket.
 */
export interface RawTransport {
  /** Sends one request and reads the whole answer. Rejects on network errors, timeout or abort. */
  send(req: RawRequest): Promise<RawResponse>;
  /** Releases the transport's connections; later requests may open new ones. */
  close(): void;
}

/** Idle connections kept per host after a burst, as Go's default transport keeps (MaxIdleConnsPerHost). */
export const MAX_IDLE_SOCKETS = 2;
/** An idle connection is closed after this long, as Go's default transport closes it (IdleConnTimeout). */
export const IDLE_SOCKET_TIMEOUT_MS = 90_000;

export interface TransportOptions {
  insecure: boolean;
  /** Most connections per host, in use or idle. */
  maxSockets: number;
  proxyEnv?: ProxyEnv | undefined;
  /** Idle connections are closed after this long. Default `IDLE_SOCKET_TIMEOUT_MS`; tests shorten it. */
  idleTimeoutMs?: number;
  /** The largest body read, after decompression (`ResponseTooLargeError` past it). Default `MAX_RESPONSE_BYTES`. */
  maxBodyBytes?: number;
}

/**
 * Keep-alive connection pools, one per scheme, shared by every call of one
 * client. After a burst (details reads, a pass's locks) at most two
 * connections per host stay open, each closed after 90 s unused, as the
 * reference's Go transport does; without that, every connection a burst
 * opened stayed open for as long as the controller's side kept it. The idle
 * limit is a socket timeout, so it runs on real time, not on the injected
 * clock: it decides nothing but when an unused connection goes.
 */
export class Transport implements RawTransport {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: http.Agent;
  private readonly maxBodyBytes: number;

  constructor(
    private readonly clock: Clock,
    opts: TransportOptions,
  ) {
    this.maxBodyBytes = opts.maxBodyBytes ?? MAX_RESPONSE_BYTES;
    // maxSockets caps the client's fan-out (DESIGN.md rule 5): requests past
    // it wait in the agent's queue, inside their own time limit. An agent's
    // `timeout` is a socket timeout: Node's agent closes a socket on it only
    // while the socket is idle in its pool (a request in flight is timed by
    // `send` below), and it reaches the proxy agents too, which pool with
    // Node's code.
    const agentOpts = {
      keepAlive: true,
      maxSockets: opts.maxSockets,
      maxFreeSockets: MAX_IDLE_SOCKETS,
      timeout: opts.idleTimeoutMs ?? IDLE_SOCKET_TIMEOUT_MS,
    };
    if (opts.insecure) {
      // The reference's client for TLS.Insecure has a transport of its own,
      // which has no proxy: only its default (secure) client follows the
      // proxy variables.
      this.httpAgent = new http.Agent(agentOpts);
      this.httpsAgent = new https.Agent({ ...agentOpts, rejectUnauthorized: false });
    } else {
      // HTTPS_PROXY / HTTP_PROXY / NO_PROXY, as Go's default transport reads them (src/net/proxy.ts).
      const env = opts.proxyEnv ?? process.env;
      this.httpAgent = new EnvProxyAgent('http:', { ...agentOpts, env });
      // And the roots the reference would trust: a site CA in /etc/arvados/ca-certificates.crt (src/net/trust.ts).
      this.httpsAgent = new EnvProxyAgent('https:', { ...agentOpts, env, ...secureContextOption() });
    }
  }

  /** Sends one request and reads the whole answer. Rejects on network errors, timeout or abort. */
  send(req: RawRequest): Promise<RawResponse> {
    return new Promise<RawResponse>((resolve, reject) => {
      if (req.signal?.aborted) {
        reject(abortReason(req.signal));
        return;
      }
      let settled = false;
      let connectTimer: Timer | undefined;
      const finish = (err: unknown, res?: RawResponse): void => {
        if (settled) return;
        settled = true;
        timer.cancel();
        connectTimer?.cancel();
        req.signal?.removeEventListener('abort', onAbort);
        if (err === undefined && res) resolve(res);
        else reject(err);
      };
      const isHttps = req.url.protocol === 'https:';
      const headers: Record<string, string | number> = { 'Accept-Encoding': 'gzip', ...req.headers };
      if (req.body !== undefined) headers['Content-Length'] = Buffer.byteLength(req.body);
      const options: http.RequestOptions = { method: req.method, headers, agent: isHttps ? this.httpsAgent : this.httpAgent };
      const limit = this.maxBodyBytes;
      const request = (isHttps ? https : http).request(req.url, options, (res) => {
        const status = res.statusCode ?? 0;
        const gzip = /^\s*(x-)?gzip\s*$/i.test(res.headers['content-encoding'] ?? '');
        res.on('error', (err) => finish(err));
        res.on('close', () => {
          if (!res.complete) finish(new Error('connection closed before the response was complete'));
        });
        if (!gzip && Number(res.headers['content-length']) > limit) {
          finish(new ResponseTooLargeError(limit, status, false));
          request.destroy();
          return;
        }
        let received = 0;
        let body: Readable = res;
        if (gzip) {
          const gunzip = createGunzip();
          res.on('data', (c: Buffer) => (received += c.length));
          body = res.pipe(gunzip);
          gunzip.on('error', (err) => {
            // An empty body marked gzip (a proxy's bodiless error page, say) is an empty body.
            if (received === 0 && res.complete) finish(undefined, { status, text: '' });
            else finish(new Error(`the answer's gzip body could not be decompressed: ${err.message}`, { cause: err }));
            request.destroy();
          });
        }
        const chunks: Buffer[] = [];
        let size = 0;
        body.on('data', (c: Buffer) => {
          if (settled) return;
          size += c.length;
          if (size > limit) {
            // Stop reading (and inflating) at once: drop the connection and what was read.
            chunks.length = 0;
            finish(new ResponseTooLargeError(limit, status, gzip));
            request.destroy();
            if (body !== res) body.destroy();
            return;
          }
          chunks.push(c);
        });
        body.on('end', () => finish(undefined, { status, text: Buffer.concat(chunks, size).toString('utf8') }));
      });
      const timer = this.clock.setTimer(req.timeoutMs, () => {
        const err = new RequestTimeoutError(req.timeoutMs);
        finish(err);
        request.destroy(err);
      });
      const onAbort = (): void => {
        finish(abortReason(req.signal!));
        request.destroy();
      };
      req.signal?.addEventListener('abort', onAbort, { once: true });
      const connectWithin = (timeoutMs: number, what: string): void => {
        connectTimer?.cancel();
        connectTimer = this.clock.setTimer(timeoutMs, () => {
          const err = new ConnectTimeoutError(what, timeoutMs);
          finish(err);
          request.destroy(err);
        });
      };
      // Only a connection still being made is timed (a pooled one is ready, and a proxy's tunnel is made by its agent).
      request.on('socket', (socket: Socket) => {
        if (!socket.connecting) return;
        connectWithin(CONNECT_TIMEOUT_MS, 'TCP connect');
        socket.once('connect', () => {
          if (socket instanceof TLSSocket) connectWithin(TLS_HANDSHAKE_TIMEOUT_MS, 'TLS handshake');
          else connectTimer?.cancel();
        });
        if (socket instanceof TLSSocket) socket.once('secureConnect', () => connectTimer?.cancel());
      });
      request.on('error', (err) => finish(err));
      request.end(req.body);
    });
  }

  /** Closes idle pooled connections; later requests open new ones. */
  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

/** A short description of a network error, with its code (ECONNREFUSED, ...) when it has one. */
export function describeNetworkError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as NodeJS.ErrnoException).code;
  return code && !err.message.includes(code) ? `${code}: ${err.message}` : err.message;
}
