/**
 * The lame driver as a client of a lame cloud in another process
 * (`arvados-dispatch-cloud lame-cloud`, see `server.ts`): what the factory
 * returns when DriverParameters has a CloudURL. The VMs live in that process,
 * so they outlive a dispatcher that crashes or restarts, and every instance
 * set pointed at the same CloudURL sees the same VMs.
 *
 * Network failures of idempotent calls (list, setTags, destroy) are retried
 * a few times with exponential backoff on the clock; a create is never
 * retried (it might have worked), as with a real cloud. An error the server
 * classified comes back as the same class (RateLimitError, QuotaError,
 * CapacityError); anything else is a plain Error, which callers treat as
 * transient.
 */
import { HostKeyVerificationNotImplemented } from '../../src/cloud/errors.js';
import type { DriverContext, Instance, InstanceSet, InstanceTags } from '../../src/cloud/types.js';
import type { Clock } from '../../src/clock/index.js';
import type { InstanceType } from '../../src/config/types.js';
import type { Logger } from '../../src/log.js';
import { API_PREFIX, errorFromWire, isWireError, type WireCreateRequest, type WireInstance } from './protocol.js';

/** How hard the client tries before giving up on a call. */
export interface RemoteRetryPolicy {
  /** Attempts for an idempotent call, the first included (a create gets one). */
  attempts: number;
  /** Wait before the second attempt; doubles each time. */
  firstBackoffMs: number;
  /** A request with no complete answer after this long fails (and, if idempotent, is retried). */
  requestTimeoutMs: number;
}

/** About 1.75 s of retrying before a list reports the cloud unreachable. */
export const DEFAULT_REMOTE_RETRY: Readonly<RemoteRetryPolicy> = { attempts: 4, firstBackoffMs: 250, requestTimeoutMs: 60_000 };

/** The lame cloud process did not answer (not running, wrong CloudURL, too slow). */
export class LameCloudUnreachableError extends Error {
  override name = 'LameCloudUnreachableError';
  constructor(
    message: string,
    readonly cloudURL: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Sends requests to one lame cloud server; shared by an instance set and its instances. */
class LameCloudClient {
  private readonly stopping = new AbortController();

  constructor(
    readonly cloudURL: string,
    private readonly clock: Clock,
    private readonly logger: Logger,
    private readonly retry: RemoteRetryPolicy,
  ) {}

  stop(): void {
    this.stopping.abort(new Error('lame: instance set stopped'));
  }

  get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /** One API call; resolves to the parsed JSON answer (undefined for an empty one). */
  async call(method: string, path: string, opts: { body?: unknown; idempotent: boolean }): Promise<unknown> {
    const attempts = opts.idempotent ? Math.max(1, this.retry.attempts) : 1;
    const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
    // Only the path goes into logs and errors: a list's query is a tag filter.
    const what = `${method} ${path.split('?')[0]}`;
    let lastProblem = '';
    let lastError: unknown;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      this.checkRunning();
      if (attempt > 1) {
        try {
          await this.clock.sleep(this.retry.firstBackoffMs * 2 ** (attempt - 2), this.stopping.signal);
        } catch {
          this.checkRunning();
        }
      }
      let res: { status: number; text: string };
      try {
        res = await this.once(method, path, body);
      } catch (err) {
        this.checkRunning();
        lastError = err;
        lastProblem = (err as Error).message;
        if (attempt < attempts) {
          this.logger.warn('lame: cloud request failed, retrying', { CloudURL: this.cloudURL, Request: what, Attempt: attempt, error: lastProblem });
        }
        continue;
      }
      return this.decode(what, res);
    }
    throw new LameCloudUnreachableError(
      `lame: cannot reach the lame cloud at ${this.cloudURL} (DriverParameters.CloudURL) for ${what}` +
        `${attempts > 1 ? ` after ${attempts} attempts` : ''}: ${lastProblem}; is "arvados-dispatch-cloud lame-cloud" running there?`,
      this.cloudURL,
      { cause: lastError },
    );
  }

  private checkRunning(): void {
    if (this.stopped) throw new Error('lame: instance set used after stop()');
  }

  private async once(method: string, path: string, body: string | undefined): Promise<{ status: number; text: string }> {
    const timeout = new AbortController();
    const timer = this.clock.setTimer(this.retry.requestTimeoutMs, () =>
      timeout.abort(new Error(`no complete answer within ${this.retry.requestTimeoutMs} ms`)),
    );
    try {
      const headers: Record<string, string> = { Accept: 'application/json' };
      if (body !== undefined) headers['Content-Type'] = 'application/json';
      const res = await fetch(this.cloudURL + path, {
        method,
        headers,
        body,
        signal: AbortSignal.any([timeout.signal, this.stopping.signal]),
      });
      return { status: res.status, text: await res.text() };
    } catch (err) {
      if (timeout.signal.aborted) throw timeout.signal.reason as Error;
      // fetch says only "fetch failed"; the reason (ECONNREFUSED, ...) is its cause.
      const cause = (err as Error).cause;
      throw new Error(cause instanceof Error ? cause.message : (err as Error).message, { cause: err });
    } finally {
      timer.cancel();
    }
  }

  private decode(what: string, res: { status: number; text: string }): unknown {
    let parsed: unknown;
    try {
      parsed = res.text === '' ? undefined : (JSON.parse(res.text) as unknown);
    } catch {
      parsed = undefined;
    }
    if (res.status >= 200 && res.status < 300) {
      if (res.text !== '' && parsed === undefined) throw new Error(`lame: malformed answer from the lame cloud at ${this.cloudURL} to ${what}`);
      return parsed;
    }
    const wire = typeof parsed === 'object' && parsed !== null ? (parsed as { error?: unknown }).error : undefined;
    if (isWireError(wire)) throw errorFromWire(wire);
    throw new Error(
      `lame: unexpected answer from ${this.cloudURL} to ${what}: HTTP ${res.status} ${res.text.slice(0, 200)} (is that a lame-cloud server?)`,
    );
  }
}

/** An instance of the remote lame cloud: a snapshot, as of the list or create that produced it. */
export class RemoteLameInstance implements Instance {
  readonly id: string;
  readonly providerType: string;
  readonly tags: InstanceTags;
  readonly address: string;
  readonly remoteUser: string;
  readonly zone?: string;

  /** @internal built by RemoteLameInstanceSet from the server's answer. */
  constructor(
    wire: WireInstance,
    private readonly client: LameCloudClient,
  ) {
    this.id = wire.id;
    this.providerType = wire.providerType;
    this.tags = { ...wire.tags };
    this.address = wire.address;
    this.remoteUser = wire.remoteUser;
    if (typeof wire.zone === 'string') this.zone = wire.zone;
  }

  async setTags(tags: InstanceTags): Promise<void> {
    await this.client.call('PUT', `${API_PREFIX}/instances/${encodeURIComponent(this.id)}/tags`, { body: { tags }, idempotent: true });
  }

  async destroy(): Promise<void> {
    await this.client.call('DELETE', `${API_PREFIX}/instances/${encodeURIComponent(this.id)}`, { idempotent: true });
  }

  /** As in-process: the lame cloud publishes no host keys, so the InstanceSecret check decides. */
  async verifyHostKey(): Promise<void> {
    throw new HostKeyVerificationNotImplemented();
  }
}

/** The lame driver's InstanceSet when DriverParameters.CloudURL is set. */
export class RemoteLameInstanceSet implements InstanceSet {
  private readonly client: LameCloudClient;

  constructor(
    /** `http://HOST:PORT` of the lame cloud server. */
    readonly cloudURL: string,
    private readonly ctx: DriverContext,
    retry: RemoteRetryPolicy = DEFAULT_REMOTE_RETRY,
  ) {
    this.client = new LameCloudClient(cloudURL.replace(/\/+$/, ''), ctx.clock, ctx.logger, retry);
  }

  /** The InstanceSetID this instance set was built for. */
  get instanceSetId(): string {
    return this.ctx.instanceSetId;
  }

  async create(type: InstanceType, imageId: string, tags: InstanceTags, initCommand: string, publicKey: string): Promise<Instance> {
    const body: WireCreateRequest = { instanceType: type, imageId, tags, initCommand, publicKey };
    const answer = await this.client.call('POST', `${API_PREFIX}/instances`, { body, idempotent: false });
    return new RemoteLameInstance(this.wireInstance((answer as { instance?: unknown } | undefined)?.instance), this.client);
  }

  async instances(tagFilter: InstanceTags): Promise<Instance[]> {
    const query = new URLSearchParams(Object.entries(tagFilter)).toString();
    const answer = await this.client.call('GET', `${API_PREFIX}/instances${query ? `?${query}` : ''}`, { idempotent: true });
    const list = (answer as { instances?: unknown } | undefined)?.instances;
    if (!Array.isArray(list)) throw this.malformed('GET /v1/instances');
    return list.map((w) => new RemoteLameInstance(this.wireInstance(w), this.client));
  }

  /** Ends pending retries and requests of this process; the lame cloud and its VMs are not touched. */
  stop(): void {
    this.client.stop();
  }

  private wireInstance(v: unknown): WireInstance {
    const w = v as Partial<WireInstance> | undefined;
    const ok =
      typeof w === 'object' &&
      w !== null &&
      typeof w.id === 'string' &&
      typeof w.providerType === 'string' &&
      typeof w.address === 'string' &&
      typeof w.remoteUser === 'string' &&
      typeof w.tags === 'object' &&
      w.tags !== null &&
      Object.values(w.tags).every((t) => typeof t === 'string');
    if (!ok) throw this.malformed('an instance');
    return w as WireInstance;
  }

  private malformed(what: string): Error {
    return new Error(`lame: malformed answer from the lame cloud at ${this.cloudURL} (${what})`);
  }
}
