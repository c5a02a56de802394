/**
 * How the test controller handles one request, however it arrived (over
 * HTTP or through the in-process transport, `server.ts`): the load faults
 * first (a scheduled outage, the request limiter: `faults.ts`), then the
 * injected latency, 503s and hook, then authentication, the token's scopes
 * and the route (`routes.ts`). Every request, answered or not, is counted
 * in the controller's `stats`, recorded in its request log and logged at
 * debug.
 */
import type { Clock } from '../clock/index.js';
import type { Logger } from '../log.js';
import type { ContainerRequestStore } from './container-requests.js';
import { callerOf, type LoadFaults } from './faults.js';
import { ApiError } from './http.js';
import type { IncomingRequest, RequestHook, RequestInfo, RequestLogEntry } from './requests.js';
import { findRoute } from './routes.js';
import type { ContainerStore } from './store.js';
import type { TokenRecord, TokenTable } from './tokens.js';

export interface RequestHandlerOptions {
  clusterId: string;
  clock: Clock;
  logger?: Logger;
  store: ContainerStore;
  requests: ContainerRequestStore;
  tokens: TokenTable;
  /** The outage schedule and request limiter, set from the controller. */
  load: LoadFaults;
  /** The controller's `stats`, counted here. */
  stats: Record<string, number>;
  /** Oldest entries of the request log are dropped past this many. */
  maxRequestLog: number;
  /** Aborted by the controller's `stop()`, abandoning requests held by latency; a new one after each `start()`. */
  signal(): AbortSignal;
}

export class RequestHandler {
  private latencyMs = 0;
  private failures: Array<{ remaining: number; match?: (req: RequestInfo) => boolean }> = [];
  private hook?: RequestHook;
  private log: RequestLogEntry[] = [];

  constructor(private readonly opts: RequestHandlerOptions) {}

  /** The next `count` requests that `match` (default: all) get 503 before auth or routing. */
  fail503(count: number, match?: (req: RequestInfo) => boolean): void {
    if (count > 0) this.failures.push({ remaining: count, match });
  }

  /** Every request waits `ms` on the injected clock before it is handled (0 turns it off). */
  setLatency(ms: number): void {
    this.latencyMs = Math.max(0, ms);
  }

  /** An override consulted for every request after latency and 503s; returning a response short-circuits. */
  setHook(fn?: RequestHook): void {
    this.hook = fn;
  }

  /** The last `maxRequestLog` requests, copies. */
  requestLog(): RequestLogEntry[] {
    const { maxRequestLog } = this.opts;
    return this.log.slice(Math.max(0, this.log.length - maxRequestLog)).map((e) => ({ ...e, query: { ...e.query } }));
  }

  /** The token of an Authorization header; undefined if absent, null if not a token we know (or one expired). */
  private authenticate(header: string | undefined): TokenRecord | undefined | null {
    if (!header) return undefined;
    const m = /^(?:Bearer|OAuth2)\s+(\S+)\s*$/i.exec(header);
    if (!m) return null;
    return this.opts.tokens.find(m[1], this.opts.clock.now()) ?? null;
  }

  /**
   * One request, however it arrived: the answer's status and JSON body, or
   * undefined when the request was abandoned by `stop()` (the connection is
   * then dropped without an answer).
   */
  async respond(input: IncomingRequest): Promise<{ status: number; body: unknown } | undefined> {
    const { clock, load, stats, tokens, maxRequestLog } = this.opts;
    const url = input.url;
    const path = url.pathname;
    // The Go SDK (and our client) sends a GET whose encoded parameters reach
    // 1000 bytes as a POST with this header and the parameters form-encoded
    // in the body.
    const override = input.methodOverride;
    const method = (override !== undefined && override !== '' ? override : input.method).toUpperCase();
    const contentType = input.contentType;
    const params = new URLSearchParams(url.searchParams);
    let query = Object.fromEntries(params);
    const route = findRoute(this.opts.store, this.opts.clusterId, method, path, this.opts.requests, tokens);
    const template = route?.template ?? '(unknown)';
    const key = `${method} ${template}`;
    stats[key] = (stats[key] ?? 0) + 1;
    const caller = this.authenticate(input.authorization);
    let status = 500;
    let answer: { status: number; body: unknown } | undefined;
    let admitted = false;
    const reply = (code: number, body: unknown): void => {
      status = code;
      answer = { status: code, body };
    };
    try {
      const rawBody = await input.readBody();
      if (method === 'GET' && contentType.includes('application/x-www-form-urlencoded')) {
        for (const [k, v] of new URLSearchParams(rawBody)) params.set(k, v);
        query = Object.fromEntries(params);
      }
      const refusal = load.admit(clock.now());
      if (refusal) {
        const why = refusal === 'outage' ? 'the controller is down (scheduled outage)' : 'too many requests in flight';
        reply(503, { errors: [`503 Service Unavailable: ${why} (injected by the test controller)`] });
        return answer;
      }
      admitted = true;
      if (this.latencyMs > 0) await clock.sleep(this.latencyMs, this.opts.signal());
      const info: RequestInfo = { method, path };
      const failure = this.failures.find((f) => f.remaining > 0 && (!f.match || f.match(info)));
      if (failure) {
        failure.remaining--;
        this.failures = this.failures.filter((f) => f.remaining > 0);
        reply(503, { errors: ['503 Service Unavailable (injected by the test controller)'] });
        return answer;
      }
      if (this.hook) {
        let body: unknown;
        if (rawBody.trim() !== '') {
          try {
            body = JSON.parse(rawBody) as unknown;
          } catch {
            body = rawBody;
          }
        }
        const out = this.hook({ method, path, query, body });
        if (out) {
          reply(out.status, out.body);
          return answer;
        }
      }
      if (!route) throw new ApiError(404, `${method} ${path}: no such route`);
      if (caller === undefined) throw new ApiError(401, 'Not logged in: no Authorization header');
      if (caller === null) throw new ApiError(401, 'Not logged in: unknown API token');
      tokens.checkScopes(caller, method, path);
      const result = route.handle({ caller: caller.uuid, token: caller, query: params, rawBody, contentType });
      reply(200, result);
    } catch (err) {
      if (this.opts.signal().aborted) {
        status = 0;
        answer = undefined;
      } else if (err instanceof ApiError) {
        reply(err.status, { errors: [err.message] });
      } else {
        this.opts.logger?.error('test controller: handler failed', { error: err });
        reply(500, { errors: [`internal error: ${(err as Error).message}`] });
      }
    } finally {
      if (admitted) load.leave();
      if (answer) load.count(input.userAgent, status);
      const entry: RequestLogEntry = { method, path, query, status, route: template, caller: callerOf(input.userAgent) };
      if (caller) entry.tokenUuid = caller.uuid;
      if (input.requestId !== undefined) entry.requestId = input.requestId;
      this.log.push(entry);
      // Trimmed a quarter at a time: trimming one entry per request would copy the whole log each time.
      if (this.log.length > maxRequestLog + (maxRequestLog >> 2)) this.log.splice(0, this.log.length - maxRequestLog);
      this.opts.logger?.debug('controller request', {
        Method: method,
        Path: path,
        Status: status,
        ...(caller ? { TokenUUID: caller.uuid } : {}),
      });
    }
    return answer;
  }
}
