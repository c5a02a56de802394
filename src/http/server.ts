/**
 * The management server: the management API (`api.ts`), /metrics, and the
 * operator's status page at `/` (`status-page.ts`) on one node:http (or
 * node:https) server, with the reference's request instrumentation
 * (`instrument.ts`) and request limiter (`request-limiter.ts`) around it.
 * The daemon listens where `listen.ts` decides; tests and the demo pass
 * `127.0.0.1:0` and read the port back from `url`.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer, type ServerOptions as HttpsOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type Clock, systemClock } from '../clock/index.js';
import type { Cluster } from '../config/types.js';
import type { Dispatcher } from '../dispatcher.js';
import type { Logger } from '../log.js';
import { type ManagementTarget, managementHandler } from './api.js';
import { instrument } from './instrument.js';
import { metricsJSON } from './metrics-json.js';
import { RequestLimiter } from './request-limiter.js';
import { isStatusPagePath, statusPageHandler } from './status-page.js';
import { processMetrics } from './process-metrics.js';
import { type ConfigSource, registerConfigSource, registerVersion } from './service-metrics.js';
import { goNaN } from './windowed-summary.js';
import { type KeyPair, loadKeyPair, reloadable, startKeyPairReloader, type TLSConfig } from './tls.js';
import { AutocertCache } from './autocert.js';
import { bindAddress } from './listen.js';
import { Registry } from 'prom-client';

export interface ManagementServerOptions {
  /** Where to listen: `host:port`, `[v6]:port`, or `{host, port}`; port 0 picks a free one. */
  listen: string | { host: string; port: number };
  /**
   * Serve https with this certificate and key (`TLS.Certificate`, `TLS.Key`):
   * read now (a bad pair rejects), and again on SIGHUP and hourly when they
   * name files. With `ACME.Server` set, from the autocert cache instead.
   */
  tls?: TLSConfig;
  /** The autocert cache directory (autocert.ts), for tests; default the reference's. */
  autocertDir?: string;
  /** For the request metrics and the certificate reload timer; default the system clock. */
  clock?: Clock;
  /** The config file the daemon runs on, for `arvados_config_*_timestamp_seconds`. */
  configSource?: ConfigSource;
}

export interface ManagementServer {
  /** `http://host:port` (or `https://`) actually bound (the real port when 0 was asked for). */
  readonly url: string;
  readonly address: AddressInfo;
  /** Stops listening and closes every open connection. */
  close(): Promise<void>;
}

/**
 * Where the management server finds the dispatcher to serve when it is not
 * always the same one (the dispatch lock replaces it after a loss, and there
 * is none while the lock is not held).
 */
export interface DispatcherSource {
  readonly cluster: Cluster;
  readonly logger: Logger;
  /** The dispatcher to serve, or undefined when none runs now. */
  current(): Dispatcher | undefined;
  /** Why none runs now: the answer (503) to API requests meanwhile. */
  notCurrent(): string;
  /** Throws why the process is not dispatching, whatever the current dispatcher says. */
  checkHealth(): void;
  /** More metrics in the text format, served after the current dispatcher's. */
  metricsText(): Promise<string>;
  /** The registry `metricsText` reads, for /metrics.json; none when there are no more metrics. */
  readonly metricsRegistry?: Registry;
}

/** No dispatcher to serve right now: answered with 503 and the reason. */
export class NotDispatchingError extends Error {
  readonly httpStatus = 503;
}

/**
 * The management API's view of a dispatcher, or of whichever one `source`
 * says is current; `service_` holds the server's own metrics (requests,
 * version, config), served after the dispatcher's, the source's and the
 * process's (`process-metrics.ts`).
 */
export function managementTarget(source: Dispatcher | DispatcherSource, service_?: Registry): ManagementTarget {
  const src: DispatcherSource = 'current' in source ? source : fixedSource(source);
  const current = (): Dispatcher => {
    const d = src.current();
    if (!d) throw new NotDispatchingError(src.notCurrent());
    return d;
  };
  return {
    managementToken: src.cluster.ManagementToken,
    logger: src.logger.child({ Component: 'management-api' }),
    queueView: () => current().scheduler.queueView(),
    why: () => current().scheduler.why(),
    estimate: (uuid) => current().estimator.estimate(uuid),
    suggestions: (uuid) => current().suggester.suggestions(uuid),
    appendEstimateAt: () => {
      const d = current();
      return d.settings.SchedulingStatus.AppendEstimate ? d.clock.now() : undefined;
    },
    instances: () => current().pool.apiInstances(),
    draining: (id) => current().drain?.mark(id),
    instanceCost: (id) => current().cost.read().vm(id)?.dollars,
    containerCost: (uuid) => current().cost.read().container(uuid)?.dollars,
    spendingCap: () => current().spendingCap?.view(),
    killContainer: (uuid, reason) => current().pool.killContainer(uuid, reason),
    setIdleBehavior: (id, behavior) => {
      // The tag is saved in the background: the worker warns if the cloud
      // refuses it, and the behaviour applies whatever the cloud says.
      current().pool.setIdleBehavior(id, behavior).catch(() => undefined);
    },
    killInstance: (id, reason) => current().pool.killInstance(id, reason),
    checkHealth: () => {
      src.checkHealth();
      current().pool.checkHealth();
    },
    metrics: async () => {
      const d = src.current();
      const own = d ? await d.metrics.text() : '';
      const service = service_ ? await service_.metrics() : '';
      const body = own + (await src.metricsText()) + (await processMetrics().metrics()) + service;
      return { contentType: Registry.PROMETHEUS_CONTENT_TYPE, body: goNaN(body) };
    },
    metricsJSON: () => metricsJSON([src.current()?.metrics.registry, src.metricsRegistry, processMetrics(), service_]),
    containerTimeline: (uuid) => current().timeline.get(uuid),
    history: () => current().history.json(),
  };
}

/** One dispatcher, always current. */
function fixedSource(d: Dispatcher): DispatcherSource {
  return {
    cluster: d.cluster,
    logger: d.logger,
    current: () => d,
    notCurrent: () => 'not dispatching',
    checkHealth: () => undefined,
    metricsText: async () => '',
  };
}

/** Starts serving the management API for `dispatcher`; resolves once listening, rejects if it cannot listen. */
export async function startManagementServer(dispatcher: Dispatcher | DispatcherSource, opts: ManagementServerOptions): Promise<ManagementServer> {
  const { host: name, port } = typeof opts.listen === 'string' ? parseHostPort(opts.listen) : opts.listen;
  // A name is resolved by the rule the listen URL's probe used (listen.ts `bindAddress`).
  const host = await bindAddress(name);
  const clock = opts.clock ?? systemClock;
  // The server's own metrics outlive any one dispatcher (the dispatch lock
  // replaces it), so they have a registry of their own.
  const registry = new Registry();
  registerVersion(registry);
  if (opts.configSource) registerConfigSource(registry, opts.configSource);
  const target = managementTarget(dispatcher, registry);
  const api = dispatcher.cluster.API;
  const limiter = new RequestLimiter({
    registry,
    clock,
    api: { maxConcurrent: api.MaxConcurrentRequests, maxQueue: api.MaxQueuedRequests },
    tunnel: { maxConcurrent: api.MaxGatewayTunnels, maxQueue: 0 },
    requestTimeoutMs: api.RequestTimeout,
  });
  const page = statusPageHandler();
  const handler = managementHandler(target, {
    instrument: instrument({ registry, log: dispatcher.logger.child({ Component: 'management-api' }), clock, managementToken: target.managementToken }),
    // The page holds no data (its script calls the API with the token the
    // operator types in), so it is served before the auth check; every other
    // path, `/` with other methods included, is the API's.
    before: (req, res) => {
      if ((req.method !== 'GET' && req.method !== 'HEAD') || !isStatusPagePath(req.url)) return false;
      page(req, res);
      return true;
    },
    limit: (req, res, next) => limiter.handle(req, res, next),
  });
  const acme = opts.tls !== undefined && (opts.tls.ACME?.Server ?? '') !== '';
  const tls: HttpsOptions | undefined = !opts.tls
    ? undefined
    : acme
      ? new AutocertCache({ dir: opts.autocertDir, clock, log: dispatcher.logger }).serverOptions()
      : loadKeyPair(opts.tls);
  const server: Server = tls ? createHttpsServer(tls, handler) : createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => dispatcher.logger.error('management server error', { error: err }));
  const stopReloading =
    opts.tls && !acme && reloadable(opts.tls)
      ? startKeyPairReloader({
          tls: opts.tls,
          apply: (pair: KeyPair) => (server as HttpsServer).setSecureContext(pair),
          clock,
          log: dispatcher.logger,
        })
      : () => undefined;
  const address = server.address() as AddressInfo;
  return {
    url: `${tls ? 'https' : 'http'}://${listenAddress(address)}`,
    address,
    close: () => {
      stopReloading();
      return closeServer(server);
    },
  };
}

/** The bound address as Go writes a listener's: `ip:port` or `[ip6]:port`, the port always there (80 and 443 too). */
export function listenAddress(address: AddressInfo): string {
  return `${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
}

function parseHostPort(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(s);
  if (!m) throw new Error(`listen address "${s}": expected host:port`);
  return { host: m[1] ?? m[2] ?? '', port: Number(m[3]) };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive connections would hold close() open until they time out.
    server.closeAllConnections();
  });
}
