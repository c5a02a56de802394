/**
 * The few controller calls the emulated crunch-run makes (read a container,
 * update its state), over real HTTP as the real crunch-run does. A thin
 * wrapper around the dispatcher's own `ControllerClient` (retries on
 * network errors and 5xx, 503 included, with backoff on the cloud's clock;
 * tokens never logged), adding only what crunch-run's environment needs: the
 * ARVADOS_API_HOST form of the address.
 */
import type { Clock } from '../../src/clock/index.js';
import type { Logger } from '../../src/log.js';
import { type ContainerPatch, ControllerClient, DEFAULT_RETRY as CLIENT_RETRY, type RetryOptions } from '../../src/arvados/client.js';
import type { RawTransport } from '../../src/arvados/http.js';
import type { Container } from '../../src/arvados/types.js';

export interface ApiSettings {
  /** ARVADOS_API_HOST: `host[:port]` (https), or a base URL when it contains `://`. */
  apiHost: string;
  token: string;
  /** Skip TLS certificate checks (ARVADOS_API_HOST_INSECURE). */
  insecure: boolean;
}

export type RetryPolicy = RetryOptions;

/**
 * crunch-run's SDK keeps trying through a controller restart and retries
 * 503s (it has one container to report on, not a cluster's worth of load):
 * eight attempts over about 20 s, half a second apart at first.
 */
export const DEFAULT_RETRY: RetryPolicy = {
  ...CLIENT_RETRY,
  attempts: 8,
  firstBackoffMs: 500,
  backoffFactor: 2,
  maxBackoffMs: 5000,
  retryOverload: true,
  requestTimeoutMs: 30_000,
};

/** The base URL for an ARVADOS_API_HOST value. */
export function apiBaseURL(apiHost: string): string {
  const base = apiHost.includes('://') ? apiHost : `https://${apiHost}`;
  return base.replace(/\/+$/, '');
}

export class ControllerApi {
  private readonly client: ControllerClient;

  constructor(
    settings: ApiSettings,
    clock: Clock,
    logger: Logger,
    /** Aborts everything, retries included: the process died. */
    signal?: AbortSignal,
    retry: RetryPolicy = DEFAULT_RETRY,
    /** Instead of HTTP: the simulator's in-process controller (see `LameCloud.controllerTransports`). */
    transport?: RawTransport,
  ) {
    this.client = new ControllerClient({
      baseURL: apiBaseURL(settings.apiHost),
      token: settings.token,
      insecure: settings.insecure,
      clock,
      logger,
      retry,
      // One crunch-run makes one call at a time.
      maxConnections: 2,
      userAgent: 'crunch-run (lame)',
      signal,
      transport,
    });
  }

  /** `GET /arvados/v1/containers/{uuid}`. */
  getContainer(uuid: string): Promise<Container> {
    return this.client.getContainer(uuid);
  }

  /** `PUT /arvados/v1/containers/{uuid}` with `{"container": attrs}`. */
  updateContainer(uuid: string, attrs: Partial<Container>): Promise<ContainerPatch> {
    return this.client.updateContainer(uuid, attrs);
  }

  /** Drops pooled connections: the process has exited. */
  close(): void {
    this.client.close();
  }
}
