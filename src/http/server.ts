/**
 * The management server: the management API (`api.ts`), /metrics, and the
 * operator's status page at `/` (`status-page.ts`) on one node:http server. The daemon listens on the first
 * `Services.DispatchCloud.InternalURLs` entry; tests and the demo pass
 * `127.0.0.1:0` and read the port back from `url`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Cluster } from '../config/types.js';
import type { Dispatcher } from '../dispatcher.js';
import type { Logger } from '../log.js';
import { type ManagementTarget, managementHandler } from './api.js';
import { isStatusPagePath, statusPageHandler } from './status-page.js';
import { Registry } from 'prom-client';

export interface ManagementServerOptions {
  /** Where to listen: `host:port`, `[v6]:port`, or `{host, port}`; port 0 picks a free one. */
  listen: string | { host: string; port: number };
}

export interface ManagementServer {
  /** `http://host:port` actually bound (the real port when 0 was asked for). */
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
}

/** No dispatcher to serve right now: answered with 503 and the reason. */
export class NotDispatchingError extends Error {
  readonly httpStatus = 503;
}

/** The management API's view of a dispatcher, or of whichever one `source` says is current. */
export function managementTarget(source: Dispatcher | DispatcherSource): ManagementTarget {
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
    // As the reference, only instances the cloud knows: a create still in
    // flight has a placeholder id that no hold or kill could name.
    instances: () => {
      const d = current();
      return d.pool.instances().filter((v) => d.pool.detail(v.instance) !== undefined);
    },
    killContainer: (uuid, reason) => current().pool.killContainer(uuid, reason),
    setIdleBehavior: (id, behavior) => current().pool.setIdleBehavior(id, behavior),
    killInstance: (id, reason) => current().pool.killInstance(id, reason),
    checkHealth: () => {
      src.checkHealth();
      current().pool.checkHealth();
    },
    metrics: async () => {
      const d = src.current();
      const own = d ? await d.metrics.text() : '';
      return { contentType: Registry.PROMETHEUS_CONTENT_TYPE, body: own + (await src.metricsText()) };
    },
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
  const { host, port } = typeof opts.listen === 'string' ? parseHostPort(opts.listen) : opts.listen;
  const api = managementHandler(managementTarget(dispatcher));
  const page = statusPageHandler();
  // The page holds no data (its script calls the API with the token the
  // operator types in), so it is served before the auth check; every other
  // path, `/` with other methods included, is the API's.
  const server = createServer((req, res) =>
    (req.method === 'GET' || req.method === 'HEAD') && isStatusPagePath(req.url) ? page(req, res) : api(req, res),
  );
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => dispatcher.logger.error('management server error', { error: err }));
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${shownHost}:${address.port}`,
    address,
    close: () => closeServer(server),
  };
}

/**
 * Where to listen for an InternalURL such as `http://localhost:9006`: its
 * host and port (the scheme's default port when it names none).
 */
export function listenAddressOf(internalURL: string): { host: string; port: number } {
  let u: URL;
  try {
    u = new URL(internalURL);
  } catch {
    throw new Error(`Services.DispatchCloud.InternalURLs: "${internalURL}" is not a URL`);
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  return { host, port };
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
