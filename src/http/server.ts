/**
 * The management server: the management API (`api.ts`), /metrics, and the
 * operator's status page at `/` (`status-page.ts`) on one node:http (or
 * node:https) server, with the reference's request instrumentation
 * (`instrument.ts`) and request limiter (`request-limiter.ts`) around it.
 * The daemon listens where `listen.ts` decides; tests and the demo pass
 * `127.0.0.1:0` and read the port back from `url`.
 */
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { type Clock, systemClock } from '../clock/index.js';
import type { Dispatcher } from '../dispatcher.js';
import { type ManagementTarget, managementHandler } from './api.js';
import { instrument } from './instrument.js';
import { metricsJSON } from './metrics-json.js';
import { RequestLimiter } from './request-limiter.js';
import { isStatusPagePath, statusPageHandler } from './status-page.js';
import { type KeyPair, loadKeyPair, reloadable, startKeyPairReloader, type TLSConfig } from './tls.js';

export interface ManagementServerOptions {
  /** Where to listen: `host:port`, `[v6]:port`, or `{host, port}`; port 0 picks a free one. */
  listen: string | { host: string; port: number };
  /**
   * Serve https with this certificate and key (`TLS.Certificate`, `TLS.Key`):
   * read now (a bad pair rejects), and again on SIGHUP and hourly when they
   * name files.
   */
  tls?: TLSConfig;
  /** For the request metrics and the certificate reload timer; default the system clock. */
  clock?: Clock;
}

export interface ManagementServer {
  /** `http://host:port` (or `https://`) actually bound (the real port when 0 was asked for). */
  readonly url: string;
  readonly address: AddressInfo;
  /** Stops listening and closes every open connection. */
  close(): Promise<void>;
}

/** The management API's view of a dispatcher. */
export function managementTarget(d: Dispatcher): ManagementTarget {
  return {
    managementToken: d.cluster.ManagementToken,
    logger: d.logger.child({ Component: 'management-api' }),
    queueView: () => d.scheduler.queueView(),
    instances: () => d.pool.apiInstances(),
    killContainer: (uuid, reason) => d.pool.killContainer(uuid, reason),
    setIdleBehavior: (id, behavior) => d.pool.setIdleBehavior(id, behavior),
    killInstance: (id, reason) => d.pool.killInstance(id, reason),
    checkHealth: () => d.pool.checkHealth(),
    metrics: async () => ({ contentType: d.metrics.registry.contentType, body: await d.metrics.text() }),
    metricsJSON: () => metricsJSON(d.metrics.registry),
  };
}

/** Starts serving the management API for `dispatcher`; resolves once listening, rejects if it cannot listen. */
export async function startManagementServer(dispatcher: Dispatcher, opts: ManagementServerOptions): Promise<ManagementServer> {
  const { host, port } = typeof opts.listen === 'string' ? parseHostPort(opts.listen) : opts.listen;
  const clock = opts.clock ?? systemClock;
  const target = managementTarget(dispatcher);
  const registry = dispatcher.metrics.registry;
  const api = dispatcher.cluster.API;
  const limiter = new RequestLimiter({
    registry,
    clock,
    api: { maxConcurrent: api.MaxConcurrentRequests, maxQueue: api.MaxQueuedRequests },
    tunnel: { maxConcurrent: api.MaxGatewayTunnels, maxQueue: 0 },
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
  const tls = opts.tls ? loadKeyPair(opts.tls) : undefined;
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
    opts.tls && reloadable(opts.tls)
      ? startKeyPairReloader({
          tls: opts.tls,
          apply: (pair: KeyPair) => (server as HttpsServer).setSecureContext(pair),
          clock,
          log: dispatcher.logger,
        })
      : () => undefined;
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `${tls ? 'https' : 'http'}://${shownHost}:${address.port}`,
    address,
    close: () => {
      stopReloading();
      return closeServer(server);
    },
  };
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
