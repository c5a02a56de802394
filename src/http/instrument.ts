/**
 * What the reference's HTTP server does around every request but /metrics
 * (sdk/go/httpserver: Instrument, AddRequestIDs, Inspect, LogRequests), in
 * its order:
 *
 * 1. `request_duration_seconds{code,method}` (a summary without quantiles,
 *    no prefix: the Go client's defaults), over the whole request;
 * 2. an `X-Request-Id` (the client's, or `req-` and 20 random characters),
 *    on the request and the response;
 * 3. the active-request ages (`arvados_max_active_request_age_seconds`,
 *    `arvados_max_abandoned_request_age_seconds`) and the list of requests
 *    in progress at `GET /_inspect/requests` (ManagementToken as a Bearer
 *    token; 401 otherwise, and always when there is no ManagementToken);
 * 4. a "request" and a "response" log line at info, with the reference's
 *    fields; each response line also feeds `time_to_status_seconds{code,method}`
 *    (as there, through the log: none at a level above info).
 */
import { newRequestId } from '../arvados/request-id.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { Gauge, type Registry, Summary } from 'prom-client';
import type { Clock } from '../clock/index.js';
import type { Logger } from '../log.js';
import { tokensEqual } from './auth.js';

/** The rest of the chain: resolves when the request has been handled. */
export type Next = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** Bytes of an error response's body copied into the response log line (the reference's sniff size). */
const SNIFF_BYTES = 1024;

/** The methods the Go client names in the `method` label; others are "unknown". */
const KNOWN_METHODS = new Set(['get', 'put', 'head', 'post', 'delete', 'connect', 'options', 'notify', 'trace', 'patch']);


/** Extra fields for a request's response log line (the request limiter's queue and priority). */
const responseLogFields = new WeakMap<IncomingMessage, Record<string, unknown>>();

/** Adds fields to the "response" log line of `req`. */
export function setResponseLogFields(req: IncomingMessage, fields: Record<string, unknown>): void {
  const current = responseLogFields.get(req);
  if (current) Object.assign(current, fields);
}

interface Active {
  start: number;
  hangup?: number;
}

/** Builds the wrapper; its metrics go on `registry`. */
export function instrument(opts: { registry: Registry; log: Logger; clock: Clock; managementToken: string }): (req: IncomingMessage, res: ServerResponse, next: Next) => Promise<void> {
  const { clock, log } = opts;
  const registers = [opts.registry];
  const active = new Map<IncomingMessage, Active>();
  const oldest = (pick: (a: Active) => number | undefined): number => {
    let earliest: number | undefined;
    for (const a of active.values()) {
      const t = pick(a);
      if (t !== undefined && (earliest === undefined || t < earliest)) earliest = t;
    }
    return earliest === undefined ? 0 : (clock.now() - earliest) / 1000;
  };
  const timeToStatus = new Summary({ name: 'time_to_status_seconds', help: 'Summary of request TTFB.', labelNames: ['code', 'method'], percentiles: [], registers });
  const duration = new Summary({ name: 'request_duration_seconds', help: 'Summary of request duration.', labelNames: ['code', 'method'], percentiles: [], registers });
  const maxActive: Gauge = new Gauge({
    name: 'arvados_max_active_request_age_seconds',
    help: 'Age of oldest active request',
    registers,
    collect: () => maxActive.set(oldest((a) => (a.hangup === undefined ? a.start : undefined))),
  });
  const maxAbandoned: Gauge = new Gauge({
    name: 'arvados_max_abandoned_request_age_seconds',
    help: 'Maximum time since client hung up on a request whose processing thread is still running',
    registers,
    collect: () => maxAbandoned.set(oldest((a) => a.hangup)),
  });

  return async (req, res, next) => {
    const start = clock.now();
    const rec = record(res, clock);
    // 'close' comes after the last byte or after a hang-up: the handler's whole time either way.
    res.once('close', () => duration.observe(labels(res.statusCode, req.method), (clock.now() - start) / 1000));
    const id = requestId(req);
    res.setHeader('X-Request-Id', id);

    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/_inspect/requests') {
      inspect(req, res, opts.managementToken, active, clock);
      return;
    }
    const entry: Active = { start };
    active.set(req, entry);
    res.once('close', () => {
      if (!res.writableFinished) entry.hangup = clock.now();
    });
    const fields: Record<string, unknown> = {};
    responseLogFields.set(req, fields);
    const reqLog = log.child({
      RequestID: id,
      remoteAddr: remoteAddr(req),
      reqForwardedFor: header(req, 'x-forwarded-for'),
      reqMethod: req.method,
      reqHost: req.headers.host ?? '',
      reqPath: path.slice(1),
      reqQuery: redactQuery((req.url ?? '').split('?').slice(1).join('?')),
      reqBytes: contentLength(req),
    });
    reqLog.info('request');
    try {
      await next(req, res);
    } finally {
      active.delete(req);
      const done = (): void => {
        if (!log.isLevelEnabled('info')) return;
        const end = clock.now();
        const status = rec.status || 200;
        const wrote = rec.firstWrite ?? end;
        reqLog.info('response', {
          timeTotal: seconds(end - start),
          timeToStatus: seconds(wrote - start),
          timeWriteBody: seconds(end - wrote),
          ...fields,
          respStatusCode: status,
          respStatus: STATUS_CODES[status] ?? '',
          respBytes: rec.bytes,
          ...(status >= 400 ? { respBody: rec.sniffed.toString('utf8') } : {}),
        });
        // The reference labels this one with the method lower-cased as it came, not promhttp's sanitised label.
        timeToStatus.observe({ code: String(status || 200), method: (req.method ?? '').toLowerCase() }, (wrote - start) / 1000);
      };
      // The handler may still be writing a streamed body: log when it ends.
      if (res.writableEnded || res.destroyed) done();
      else res.once('close', done);
    }
  };
}

/** What went out: status, first byte's time, body size, and the start of the body. */
function record(res: ServerResponse, clock: Clock): { status: number; firstWrite?: number; bytes: number; sniffed: Buffer } {
  const rec: { status: number; firstWrite?: number; bytes: number; sniffed: Buffer } = { status: 0, bytes: 0, sniffed: Buffer.alloc(0) };
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
  const write = res.write.bind(res) as (...args: unknown[]) => boolean;
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse;
  const note = (chunk: unknown): void => {
    rec.firstWrite ??= clock.now();
    rec.status ||= res.statusCode;
    if (typeof chunk === 'string' || chunk instanceof Uint8Array) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk);
      rec.bytes += buf.length;
      if (rec.sniffed.length < SNIFF_BYTES) rec.sniffed = Buffer.concat([rec.sniffed, buf.subarray(0, SNIFF_BYTES - rec.sniffed.length)]);
    }
  };
  res.writeHead = ((...args: unknown[]) => {
    rec.firstWrite ??= clock.now();
    rec.status = Number(args[0]);
    return writeHead(...args);
  }) as typeof res.writeHead;
  res.write = ((...args: unknown[]) => {
    note(args[0]);
    return write(...args);
  }) as typeof res.write;
  res.end = ((...args: unknown[]) => {
    if (typeof args[0] !== 'function') note(args[0]);
    return end(...args);
  }) as typeof res.end;
  return rec;
}

/** GET /_inspect/requests: the requests in progress, youngest first. */
function inspect(req: IncomingMessage, res: ServerResponse, token: string, active: Map<IncomingMessage, Active>, clock: Clock): void {
  if (token === '' || !tokensEqual(req.headers.authorization ?? '', `Bearer ${token}`)) {
    res.writeHead(401, { 'Content-Type': 'application/json', 'X-Content-Type-Options': 'nosniff' });
    res.end(`${JSON.stringify({ errors: ['unauthorized'] })}\n`);
    return;
  }
  const now = clock.now();
  const out = [...active.entries()]
    .map(([r, a]) => ({
      RequestID: header(r, 'x-request-id'),
      Method: r.method ?? '',
      Host: r.headers.host ?? '',
      URL: redactURL(r.url ?? ''),
      RemoteAddr: remoteAddr(r),
      XForwardedFor: header(r, 'x-forwarded-for'),
      Elapsed: (now - a.start) / 1000,
    }))
    .sort((a, b) => a.Elapsed - b.Elapsed);
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(`${JSON.stringify(out)}\n`);
}

/** The request's X-Request-Id, or a new one set on it. */
function requestId(req: IncomingMessage): string {
  const given = header(req, 'x-request-id');
  if (given !== '') return given;
  const id = newRequestId();
  req.headers['x-request-id'] = id;
  return id;
}

/** The Go client's `code` and `method` labels. */
function labels(status: number, method: string | undefined): { code: string; method: string } {
  const m = (method ?? '').toLowerCase();
  return { code: String(status || 200), method: KNOWN_METHODS.has(m) ? m : 'unknown' };
}

function header(req: IncomingMessage, name: string): string {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : (v ?? '');
}

/**
 * The client's address as Go writes it: `ip:port`, `[ip6]:port`; an IPv4
 * client of a listener on every address (`::`), which Node names by its
 * IPv4-mapped IPv6 address (`::ffff:10.1.2.3`), as plain IPv4.
 */
function remoteAddr(req: IncomingMessage): string {
  const { remoteAddress, remotePort } = req.socket;
  if (remoteAddress === undefined) return '';
  const address = remoteAddress.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
  return address.includes(':') ? `[${address}]:${remotePort}` : `${address}:${remotePort}`;
}

/** Go's ContentLength: the header's value, -1 for a body of unknown length, else 0. */
function contentLength(req: IncomingMessage): number {
  const n = Number(req.headers['content-length']);
  if (Number.isInteger(n) && n >= 0) return n;
  return req.headers['transfer-encoding'] ? -1 : 0;
}

/**
 * A query string with `api_token` values hidden: logs never carry a token.
 * The name is matched as the token reader decodes it (`api%5Ftoken`, `api_tok%65n`).
 */
function redactQuery(query: string): string {
  return query.replace(/(^|&)([^&=]*)(=[^&]*)?/g, (whole: string, sep: string, name: string, value: string | undefined) =>
    value !== undefined && decodedName(name) === 'api_token' ? `${sep}${name}=[REDACTED]` : whole,
  );
}

/** A query parameter's name decoded by URLSearchParams, as the token reader (auth.ts) gets it. */
function decodedName(name: string): string {
  return new URLSearchParams(`${name}=`).keys().next().value ?? name;
}

/** A request target with its query's `api_token` values hidden. */
function redactURL(url: string): string {
  const q = url.indexOf('?');
  return q < 0 ? url : `${url.slice(0, q)}?${redactQuery(url.slice(q + 1))}`;
}

/** The reference's stats.Duration: seconds, six decimals. */
function seconds(ms: number): number {
  return Number((ms / 1000).toFixed(6));
}
