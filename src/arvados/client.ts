/**
 * The controller REST client: the handful of calls in ARVADOS.md section 1,
 * with a `ControllerError` carrying the controller's own error text.
 *
 * Retries are few and quick, so a call that gets failing answers fails
 * within seconds and its caller tries again on its own schedule (the queue
 * at the next PollInterval, the scheduler at its next pass):
 *
 * | answer                                          | retried inside the call           |
 * | ----------------------------------------------- | --------------------------------- |
 * | 2xx                                             | -                                 |
 * | 503, 429 (overload)                             | no (unless `retryOverload`)       |
 * | network error, 408, 500, 502, 504               | up to twice, after 250 ms, 1 s    |
 * | no complete answer within the per-attempt limit | no: a temporary `ControllerError` |
 * | other 5xx (501, 505, ...)                       | no: a temporary `ControllerError` |
 * | other 4xx                                       | no: a `ControllerError`           |
 * | a body over 256 MiB, decompressed (`http.ts`)   | no: a `ControllerError`           |
 *
 * A 503 is the controller asking for less load: retrying it inside the call
 * adds load exactly when it is overloaded, and the reference does not retry
 * at all.
 *
 * The per-attempt limit (`requestTimeoutMs`) is a guard against a peer that
 * went silent, not a deadline of our own: the reference's client has none
 * and waits for the controller, which holds a request in its queue until
 * `API.RequestTimeout` (5m by default) and then answers 503. So the daemon's
 * client (`fromCluster`) waits a little longer than that
 * (`controllerRequestTimeoutMs`), and an attempt that times out anyway is
 * not sent again: the controller may still be doing it (Rails finishes a
 * request whose client left), and a second copy would queue the same work
 * again exactly when the controller is slowest. The caller tries again on
 * its own schedule.
 *
 * Every outcome is recorded in a `ControllerHealthTracker`
 * (`health.ts`), which tells an outage from an overload for the scheduler's
 * concurrency limit, and for this client's own window of requests in
 * flight (`window.ts`, over HTTP only): on overload, requests wait their
 * turn here rather than be refused there.
 *
 * Retries and idempotency: GET and PUT are retried blindly (sending the same
 * attributes twice leaves the same record). `lock` and `unlock` are not
 * idempotent: when an attempt fails without an answer (or with a 5xx) the
 * controller may still have done it, and the retry is then refused (422
 * "cannot lock when Locked"). So when a retried lock is refused, the client
 * reads the container: Locked by our own token means the earlier attempt
 * worked, and the call succeeds with that record. Likewise a retried unlock
 * that is refused succeeds if the container is no longer locked by us. A
 * refusal on the first attempt is always an error. An attempt that timed out
 * ends the call (above), so it never leads to such a retry: the lock or
 * unlock fails with a temporary error whose outcome is unknown, and the
 * queue's next poll shows what happened (containers locked by us are read on
 * every poll, and one we held is checked by uuid when it is no longer in that
 * list), as after any failed lock.
 *
 * Request IDs: every call sends `X-Request-Id: req-` and 20 random
 * characters of [0-9a-z], the reference client's form, the same on each of
 * its attempts and a new one per call, so the controller logs it under our
 * ID (not one of its own) and a proxy that logs the header shows it too. The
 * ID is in the debug lines and in a `ControllerError` (`requestId` and the
 * end of the message), to find the call in the controller's log.
 *
 * Logs: every request at debug (method, path, status, duration, request
 * ID); retries at warn, rate-limited. Never the token, the other headers or
 * the query string.
 */
import type { Clock } from '../clock/index.js';
import type { Cluster } from '../config/types.js';
import { RateLimitedLog, type Logger } from '../log.js';
import type { Fence } from '../dblock/fence.js';
import type { ProxyEnv } from '../net/proxy.js';
import type { ControllerHealth, ControllerSignals } from '../scheduler/interfaces.js';
import { ControllerHealthTracker, outcomeOfStatus, type RequestOutcome } from './health.js';
import { RequestWindow } from './window.js';
import type { ApiClientAuthorization, Container, ContainerRequest, ItemList } from './types.js';
import { ControllerError } from './errors.js';
import { describeNetworkError, type RawResponse, type RawTransport, RequestTimeoutError, ResponseTooLargeError, Transport } from './http.js';
import { type ListParams, listQuery } from './list-query.js';
import { controllerConcurrencyCap, controllerRequestTimeoutMs, DEFAULT_RETRY, INITIAL_WINDOW, isTemporaryStatus, retriedInCall, type RetryOptions } from './client-limits.js';
import { newRequestId } from './request-id.js';
import { type CallOptions, CONTAINERS, containerPath, errorsOf, fencedAction, parseBody, prepareRequest, TOKEN_UUID } from './client-wire.js';

export type { ListParams } from './list-query.js';
export { controllerConcurrencyCap, controllerRequestTimeoutMs, DEFAULT_RETRY, type RetryOptions } from './client-limits.js';
export { newRequestId } from './request-id.js';
export { ControllerError, findControllerError, isControllerError, isControllerRefusal } from './errors.js';

export interface ControllerClientOptions {
  /** `Services.Controller.ExternalURL`: `http://` or `https://`; only scheme and host[:port] are used, as by the reference, so a path is ignored. */
  baseURL: string;
  token: string;
  /** `TLS.Insecure`: accept any certificate (self-signed test clusters). No outbound proxy then, as in the reference. */
  insecure?: boolean;
  /** Where HTTPS_PROXY / HTTP_PROXY / NO_PROXY are read from (src/net/proxy.ts). Default `process.env`; tests pass their own. */
  proxyEnv?: ProxyEnv;
  clock: Clock;
  logger: Logger;
  retry?: Partial<RetryOptions>;
  /** Most requests in flight (and connections open) at once; more requests wait their turn. Default 16. */
  maxConnections?: number;
  /** Requests allowed in flight at first; the window grows to `maxConnections` as answers come back (`window.ts`). Default `maxConnections`. */
  initialConnections?: number;
  /** Aborts every call, retries included (the owner is going away). */
  signal?: AbortSignal;
  /**
   * Where requests go instead of HTTP (the simulator's in-process
   * controller). `insecure` and `maxConnections` then do not apply, and
   * `close()` is passed on to it.
   */
  transport?: RawTransport;
  /** Consulted before every call that changes a container (lock, unlock, update); a refusal fails the call unsent. */
  fence?: Fence;
  /** The User-Agent header: who is calling, for the controller's logs. Default `arvados-dispatch-cloud`. */
  userAgent?: string;
  /** GET parameters of this many encoded bytes or more travel as a form body (see `MAX_QUERY_BYTES`). Default 1000; tests lower it to send every GET that way. */
  maxQueryBytes?: number;
  /** The largest answer body read over HTTP, after decompression. Default `MAX_RESPONSE_BYTES` (http.ts), 256 MiB; tests lower it. */
  maxResponseBytes?: number;
}

/**
 * What lock and unlock answer: the controller returns only a few attributes
 * (uuid, state, priority, locked_by_uuid, ...), so merge it, don't replace.
 */
export type ContainerPatch = Partial<Container> & Pick<Container, 'uuid' | 'state'>;

/**
 * What a lock, unlock or update asks the controller to answer with: all the
 * dispatcher reads of the reply. Without `select` the API server renders the
 * whole record, mounts included (a workflow's input can be megabytes), and
 * the controller decodes it again, failing with a 500 (after the change was
 * made) on an old record whose mounts it cannot decode.
 */
export const REPLY_FIELDS: readonly string[] = ['uuid', 'state', 'priority', 'locked_by_uuid', 'lock_count'];
const REPLY_SELECT = { select: JSON.stringify(REPLY_FIELDS) };

const API = '/arvados/v1';

interface CallResult {
  value: unknown;
}

/** A call refused after an earlier attempt may have been carried out: see `lockish`. */
class AmbiguousRefusal extends Error {
  constructor(readonly error: ControllerError) {
    super(error.message);
  }
}

export class ControllerClient implements ControllerHealth {
  private readonly base: string;
  private readonly transport: RawTransport;
  private readonly retry: RetryOptions;
  private readonly clock: Clock;
  private readonly logger: Logger;
  private readonly retryLog: RateLimitedLog;
  private tokenUuid?: Promise<string>;
  /** Outcomes of every request, for outage and overload (`health.ts`). */
  readonly health: ControllerHealthTracker;
  /** Requests in flight at once over HTTP (`window.ts`); none in-process. */
  readonly window?: RequestWindow;
  /** The overload verdict the window last acted on. */
  private overloadSeen = 0;

  /** The User-Agent header this client sends (the event feed sends the same). */
  get userAgent(): string {
    return this.opts.userAgent ?? 'arvados-dispatch-cloud';
  }

  constructor(private readonly opts: ControllerClientOptions) {
    const url = new URL(opts.baseURL);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`controller URL must be http:// or https://, not ${url.protocol}//`);
    }
    this.base = url.origin;
    this.clock = opts.clock;
    this.logger = opts.logger;
    this.retryLog = new RateLimitedLog(opts.logger, opts.clock, 10_000);
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.health = new ControllerHealthTracker(opts.clock);
    const cap = opts.maxConnections ?? 16;
    if (!opts.transport) this.window = new RequestWindow(cap, opts.initialConnections ?? cap);
    this.transport =
      opts.transport ??
      new Transport(opts.clock, { insecure: opts.insecure ?? false, maxSockets: cap, proxyEnv: opts.proxyEnv, maxBodyBytes: opts.maxResponseBytes });
  }

  /**
   * The client the dispatcher uses: the controller's ExternalURL, the
   * SystemRootToken, TLS.Insecure, a per-attempt limit past the controller's
   * `API.RequestTimeout` (`controllerRequestTimeoutMs`), and at most a
   * quarter of its `API.MaxConcurrentRequests` in flight
   * (`controllerConcurrencyCap`), starting at 8 or the cap if lower; over
   * `transport` when one is given.
   */
  static fromCluster(cluster: Cluster, clock: Clock, logger: Logger, transport?: RawTransport, fence?: Fence): ControllerClient {
    const cap = controllerConcurrencyCap(cluster.API.MaxConcurrentRequests);
    return new ControllerClient({
      maxConnections: cap,
      initialConnections: Math.min(INITIAL_WINDOW, cap),
      baseURL: cluster.Services.Controller.ExternalURL,
      token: cluster.SystemRootToken,
      insecure: cluster.TLS.Insecure,
      clock,
      logger,
      retry: { requestTimeoutMs: controllerRequestTimeoutMs(cluster.API.RequestTimeout) },
      transport,
      fence,
    });
  }

  /** Epoch ms of the last HTTP 503 any call got (retried or not), or 0. */
  last503(): number {
    return this.health.last503();
  }

  /** Outage or overload, from the outcomes of recent requests. */
  signals(): ControllerSignals {
    return this.health.signals();
  }

  /** The uuid of our token (`locked_by_uuid` of the containers we lock); asked once, then remembered. */
  currentTokenUuid(): Promise<string> {
    if (!this.tokenUuid) {
      const p = this.call('GET', `${API}/api_client_authorizations/current`, { retry: true }).then(({ value }) => {
        // Any JSON may come back (null, a string): only an object with a string uuid will do.
        const uuid = (value as ApiClientAuthorization | null)?.uuid;
        // It is compared with every container's locked_by_uuid: a wrong one would make ours look like someone else's.
        if (typeof uuid !== 'string' || !TOKEN_UUID.test(uuid)) throw new Error('api_client_authorizations/current: the answer has no well-formed uuid');
        return uuid;
      });
      // A failure is not remembered: the next caller asks again.
      p.catch(() => {
        if (this.tokenUuid === p) this.tokenUuid = undefined;
      });
      this.tokenUuid = p;
    }
    return this.tokenUuid;
  }

  /** `GET /arvados/v1/containers` with `count=none` (the controller then skips counting the matches). */
  async listContainers(params: ListParams): Promise<ItemList<Container>> {
    const { value } = await this.call('GET', `${API}/containers`, { query: listQuery(params), retry: true });
    const list = value as ItemList<Container>;
    if (!list || !Array.isArray(list.items)) throw new Error('GET /arvados/v1/containers: the answer has no items array');
    return list;
  }

  /** `GET /arvados/v1/container_requests` with `count=none`, as `listContainers`. */
  async listContainerRequests(params: ListParams): Promise<ItemList<ContainerRequest>> {
    const { value } = await this.call('GET', `${API}/container_requests`, { query: listQuery(params), retry: true });
    const list = value as ItemList<ContainerRequest>;
    if (!list || !Array.isArray(list.items)) throw new Error('GET /arvados/v1/container_requests: the answer has no items array');
    return list;
  }

  /** `GET /arvados/v1/containers/{uuid}`, all attributes unless `select` names some. */
  async getContainer(uuid: string, select?: string[]): Promise<Container> {
    const query = select ? { select: JSON.stringify(select) } : undefined;
    return (await this.call('GET', containerPath(uuid), { query, retry: true })).value as Container;
  }

  /** `POST .../lock`: Queued -> Locked by us. A retry that finds it already Locked by us succeeds. */
  lockContainer(uuid: string): Promise<ContainerPatch> {
    return this.lockish(uuid, 'lock');
  }

  /** `POST .../unlock`: Locked -> Queued (or Cancelled past MaxDispatchAttempts). A retry that finds it no longer ours succeeds. */
  unlockContainer(uuid: string): Promise<ContainerPatch> {
    return this.lockish(uuid, 'unlock');
  }

  /** `PUT /arvados/v1/containers/{uuid}` with `{"container": attrs}`; the reply has `REPLY_FIELDS` of the record after the change. */
  async updateContainer(uuid: string, attrs: Partial<Container>): Promise<ContainerPatch> {
    return (await this.call('PUT', containerPath(uuid), { query: REPLY_SELECT, body: { container: attrs }, retry: true })).value as ContainerPatch;
  }

  /**
   * Any other call, for the modules that speak for a resource of their own
   * (`token-calls.ts`): the answer's JSON, with this client's retries,
   * window, health record and errors. `retry` as for every call; `token`
   * is sent instead of the client's own. Container calls go through the
   * methods above, which the fence guards.
   */
  async request(method: string, path: string, o: { query?: Record<string, string>; body?: unknown; retry: boolean; token?: string }): Promise<unknown> {
    return (await this.call(method, path, o)).value;
  }

  /** Closes pooled connections (at shutdown, and in tests so the process can exit). */
  close(): void {
    this.transport.close();
  }

  private async lockish(uuid: string, action: 'lock' | 'unlock'): Promise<ContainerPatch> {
    const path = `${containerPath(uuid)}/${action}`;
    try {
      return (await this.call('POST', path, { query: REPLY_SELECT, retry: true, body: undefined })).value as ContainerPatch;
    } catch (err) {
      if (!(err instanceof AmbiguousRefusal)) throw err;
      // An earlier attempt may have done it: look before reporting a refusal.
      const [ctr, ours] = await Promise.all([this.getContainer(uuid, [...REPLY_FIELDS]), this.currentTokenUuid()]);
      const heldByUs = ctr.locked_by_uuid === ours && (ctr.state === 'Locked' || ctr.state === 'Running');
      const done = action === 'lock' ? ctr.state === 'Locked' && heldByUs : !heldByUs;
      if (!done) throw err.error;
      this.logger.info(`controller: retried ${action} was refused, but an earlier attempt had succeeded`, {
        ContainerUUID: uuid,
        State: ctr.state,
      });
      return ctr;
    }
  }

  /**
   * One call with retries. A refusal (4xx) after an attempt that got no
   * usable answer comes back as `AmbiguousRefusal` for POSTs, so `lockish`
   * can check what happened; every other failure is a `ControllerError`.
   */
  private async call(method: string, path: string, o: CallOptions): Promise<CallResult> {
    const signal = this.opts.signal;
    const requestId = newRequestId();
    let last: ControllerError | undefined;
    for (let attempt = 1; attempt <= this.retry.attempts; attempt++) {
      if (attempt > 1) {
        const backoff = Math.min(this.retry.maxBackoffMs, this.retry.firstBackoffMs * (this.retry.backoffFactor ?? 2) ** (attempt - 2));
        await this.clock.sleep(backoff, signal);
      }
      signal?.throwIfAborted();
      // Every attempt is an action of its own: a retry after the lock was lost must not go out.
      if (method !== 'GET' && path.startsWith(CONTAINERS)) this.opts.fence?.check(fencedAction(method, path));
      await this.window?.acquire(signal);
      const started = this.clock.now();
      let res: RawResponse;
      try {
        const request = prepareRequest({ base: this.base, token: this.opts.token, userAgent: this.userAgent, maxQueryBytes: this.opts.maxQueryBytes }, method, path, o, requestId);
        res = await this.transport.send({ ...request, timeoutMs: this.retry.requestTimeoutMs, signal });
      } catch (err) {
        this.window?.release();
        if (signal?.aborted) throw err;
        if (err instanceof ResponseTooLargeError) {
          // An answer, if not one we can use: the same again would not help.
          this.logger.debug('controller request', { Method: method, Path: path, RequestId: requestId, Status: err.status, DurationMs: this.clock.now() - started, error: err.message });
          this.health.record(outcomeOfStatus(err.status), started, err.status);
          throw new ControllerError({ method, path, status: err.status, errors: [err.message], attempts: attempt, temporary: false, requestId });
        }
        this.health.record('failed', started);
        const timedOut = err instanceof RequestTimeoutError;
        const what = timedOut ? err.message : describeNetworkError(err);
        this.logger.debug('controller request failed', { Method: method, Path: path, RequestId: requestId, DurationMs: this.clock.now() - started, error: what });
        last = new ControllerError({ method, path, errors: [what], attempts: attempt, temporary: true, requestId, cause: err });
        // The controller may still be doing it: see the header.
        if (!o.retry || timedOut) break;
        this.noteRetry(method, path, requestId, attempt, what);
        continue;
      }
      this.logger.debug('controller request', { Method: method, Path: path, RequestId: requestId, Status: res.status, DurationMs: this.clock.now() - started });
      const outcome = outcomeOfStatus(res.status);
      this.health.record(outcome, started, res.status);
      this.steerWindow(outcome);
      this.window?.release();
      if (res.status >= 200 && res.status < 300) return { value: parseBody(method, path, res, attempt, requestId) };
      const temporary = isTemporaryStatus(res.status);
      const error = new ControllerError({ method, path, status: res.status, errors: errorsOf(res), attempts: attempt, temporary, requestId });
      if (!temporary) {
        if (attempt > 1 && method === 'POST') throw new AmbiguousRefusal(error);
        throw error;
      }
      last = error;
      if (!o.retry || !retriedInCall(res.status, this.retry)) break;
      this.noteRetry(method, path, requestId, attempt, `HTTP ${res.status}`);
    }
    throw last!;
  }

  /** Cuts the window on a new overload verdict; grows it on an answer while nothing is failing. */
  private steerWindow(outcome: RequestOutcome): void {
    if (!this.window) return;
    const sig = this.health.signals();
    if (sig.lastOverload > this.overloadSeen) {
      this.overloadSeen = sig.lastOverload;
      this.window.cut(this.clock.now(), sig.responseTimeMs);
    } else if (outcome === 'ok' && sig.failingSince === 0) {
      this.window.grow();
    }
  }

  private noteRetry(method: string, path: string, requestId: string, attempt: number, what: string): void {
    if (attempt >= this.retry.attempts) return;
    this.retryLog.warn('controller request failed, will retry', { Method: method, Path: path, RequestId: requestId, Attempt: attempt, error: what }, `retry ${method}`);
  }
}
