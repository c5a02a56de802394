/**
 * The few controller calls the emulated crunch-run makes (read a container,
 * update its state), over real HTTP as the real crunch-run does, with
 * retries on network errors and 5xx, backing off on the cloud's clock.
 * Tokens never reach a log line: only method, path, status and the error.
 */
import https from 'node:https';
import type { Clock } from '../../src/clock/index.js';
import type { Logger } from '../../src/log.js';

export interface ApiSettings {
  /** ARVADOS_API_HOST: `host[:port]` (https), or a base URL when it contains `://`. */
  apiHost: string;
  token: string;
  /** Skip TLS certificate checks (ARVADOS_API_HOST_INSECURE). */
  insecure: boolean;
}

export interface RetryPolicy {
  /** Attempts per call, the first included. */
  attempts: number;
  /** Wait before the 2nd attempt; doubles each time. */
  firstBackoffMs: number;
  /** A request with no answer after this long is abandoned (and retried). */
  requestTimeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, firstBackoffMs: 500, requestTimeoutMs: 30_000 };

/** A controller call that failed for good; `status` is set when the controller answered. */
export class ControllerCallError extends Error {
  override name = 'ControllerCallError';
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
  }
}

/** The base URL for an ARVADOS_API_HOST value. */
export function apiBaseURL(apiHost: string): string {
  const base = apiHost.includes('://') ? apiHost : `https://${apiHost}`;
  return base.replace(/\/+$/, '');
}

interface RawResponse {
  status: number;
  text: string;
}

export class ControllerApi {
  private readonly base: string;

  constructor(
    private readonly settings: ApiSettings,
    private readonly clock: Clock,
    private readonly logger: Logger,
    /** Aborts everything, retries included: the process died. */
    private readonly signal?: AbortSignal,
    private readonly retry: RetryPolicy = DEFAULT_RETRY,
  ) {
    this.base = apiBaseURL(settings.apiHost);
  }

  /** `GET /arvados/v1/containers/{uuid}`. */
  getContainer(uuid: string): Promise<Record<string, unknown>> {
    return this.call('GET', `/arvados/v1/containers/${encodeURIComponent(uuid)}`);
  }

  /** `PUT /arvados/v1/containers/{uuid}` with `{"container": attrs}`. */
  updateContainer(uuid: string, attrs: Record<string, unknown>): Promise<Record<string, unknown>> {
    return this.call('PUT', `/arvados/v1/containers/${encodeURIComponent(uuid)}`, JSON.stringify({ container: attrs }));
  }

  private async call(method: string, path: string, body?: string): Promise<Record<string, unknown>> {
    let lastError = '';
    for (let attempt = 1; attempt <= this.retry.attempts; attempt++) {
      if (attempt > 1) await this.clock.sleep(this.retry.firstBackoffMs * 2 ** (attempt - 2), this.signal);
      this.signal?.throwIfAborted();
      let res: RawResponse;
      try {
        res = await this.once(method, path, body);
      } catch (err) {
        this.signal?.throwIfAborted();
        lastError = (err as Error).message;
        this.logger.warn('crunch-run: controller request failed', { Method: method, Path: path, Attempt: attempt, error: lastError });
        continue;
      }
      if (res.status >= 200 && res.status < 300) {
        try {
          return JSON.parse(res.text) as Record<string, unknown>;
        } catch {
          throw new ControllerCallError(`${method} ${path}: malformed JSON response`, res.status);
        }
      }
      lastError = `HTTP ${res.status}: ${res.text.slice(0, 300)}`;
      const retryable = res.status >= 500 || res.status === 408 || res.status === 429;
      this.logger.warn('crunch-run: controller refused request', {
        Method: method,
        Path: path,
        Attempt: attempt,
        Status: res.status,
        Body: res.text.slice(0, 300),
      });
      if (!retryable) throw new ControllerCallError(`${method} ${path}: ${lastError}`, res.status);
    }
    throw new ControllerCallError(`${method} ${path}: giving up after ${this.retry.attempts} attempts: ${lastError}`);
  }

  private async once(method: string, path: string, body: string | undefined): Promise<RawResponse> {
    const url = new URL(this.base + path);
    const headers: Record<string, string> = { Authorization: `Bearer ${this.settings.token}`, Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const abort = new AbortController();
    const timer = this.clock.setTimer(this.retry.requestTimeoutMs, () =>
      abort.abort(new Error(`no response within ${this.retry.requestTimeoutMs} ms`)),
    );
    try {
      const signal = this.signal ? AbortSignal.any([abort.signal, this.signal]) : abort.signal;
      if (this.settings.insecure && url.protocol === 'https:') {
        return await insecureRequest(url, method, headers, body, signal);
      }
      const res = await fetch(url, { method, headers, body, signal });
      return { status: res.status, text: await res.text() };
    } catch (err) {
      // fetch hides the reason (ECONNREFUSED, ...) in `cause`.
      const cause = (err as Error).cause;
      const detail = cause instanceof Error ? `: ${cause.message}` : '';
      throw new Error(`${(err as Error).message}${detail}`);
    } finally {
      timer.cancel();
    }
  }
}

/** An https request that accepts any certificate: global fetch has no per-request switch for that. */
function insecureRequest(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  signal: AbortSignal,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, headers, rejectUnauthorized: false, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}
