/**
 * The lame cloud as its own process: one LameCloud served over HTTP at
 * `DriverParameters.CloudURL`, so that its VMs (real SSH servers on
 * 127.0.0.1, with crunch-run reporting to the controller) outlive any
 * dispatcher that uses them, as a real cloud's do. Dispatchers reach it
 * through the lame driver with the same CloudURL (`remote.ts`); tests inject
 * faults through the chaos endpoints. The routes are in `server-routes.ts`;
 * README.md lists the API.
 *
 * This module owns the process-level concerns: config checks, binding to
 * exactly the configured host and port, and a clean close (HTTP first, then
 * every VM's SSH server).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Clock, systemClock } from '../../src/clock/index.js';
import type { Cluster } from '../../src/config/types.js';
import type { Logger } from '../../src/log.js';
import { LameCloud } from './cloud.js';
import { type LameParams, LameParamsError, parseLameParams } from './params.js';
import { handleRequest } from './server-routes.js';

export interface LameCloudServerOptions {
  /** The cluster config: `Containers.CloudVMs.DriverParameters` gives CloudURL and every fault knob. */
  cluster: Cluster;
  logger: Logger;
  /** Boot times, run times and delays count on this clock. Default the system clock. */
  clock?: Clock;
}

/** A running lame cloud server. */
export interface LameCloudServer {
  /** `http://HOST:PORT` it listens on (the real port when CloudURL gave port 0). */
  readonly url: string;
  /** The cloud it serves; in-process tests may use its hooks directly. */
  readonly cloud: LameCloud;
  /** Stops serving HTTP, then terminates every VM (closing its SSH server). Idempotent. */
  close(): Promise<void>;
}

/** The config cannot run a lame cloud server; the message names the config key. */
export class LameCloudConfigError extends Error {
  override name = 'LameCloudConfigError';
}

/** The server could not listen (port taken, address not on this host, ...). */
export class LameCloudListenError extends Error {
  override name = 'LameCloudListenError';
}

/** The cloud's name when the config gives no CloudName: only logs show it. */
const DEFAULT_CLOUD_NAME = 'lame-cloud';

/** Checks the config and returns the lame parameters, CloudURL included; throws LameCloudConfigError. */
export function lameCloudServerParams(cluster: Cluster): LameParams & { CloudURL: string } {
  const key = `Clusters.${cluster.ClusterID}.Containers.CloudVMs`;
  const vms = cluster.Containers.CloudVMs;
  if (vms.Driver !== 'lame') {
    throw new LameCloudConfigError(`${key}.Driver: the lame-cloud command serves the lame driver, but the config names "${vms.Driver}"`);
  }
  let params: LameParams;
  try {
    params = parseLameParams(vms.DriverParameters);
  } catch (err) {
    if (err instanceof LameParamsError) throw new LameCloudConfigError(`${key}.${err.message}`);
    throw err;
  }
  if (params.CloudURL === undefined) {
    throw new LameCloudConfigError(`${key}.DriverParameters.CloudURL: required by the lame-cloud command (where to listen, e.g. "http://127.0.0.1:9100")`);
  }
  return { ...params, CloudURL: params.CloudURL };
}

/**
 * Starts serving the lame cloud configured in `cluster` at its CloudURL.
 * Throws LameCloudConfigError for a config it cannot use and
 * LameCloudListenError when the address cannot be bound.
 */
export async function startLameCloudServer(opts: LameCloudServerOptions): Promise<LameCloudServer> {
  const params = lameCloudServerParams(opts.cluster);
  const clock = opts.clock ?? systemClock;
  const logger = opts.logger;
  const listenURL = new URL(params.CloudURL);
  // URL keeps the brackets of an IPv6 literal; listen() wants them off.
  const host = listenURL.hostname.replace(/^\[(.*)\]$/, '$1');
  const port = listenURL.port === '' ? 80 : Number(listenURL.port);

  const cloud = new LameCloud(params.CloudName ?? DEFAULT_CLOUD_NAME, params, {
    // Instance sets of any InstanceSetID use this cloud; tags tell their VMs apart.
    instanceSetId: DEFAULT_CLOUD_NAME,
    cluster: opts.cluster,
    logger,
    clock,
  });
  // What the configure endpoint merges changes into, so a change is validated with everything else in force.
  const state = { raw: { ...opts.cluster.Containers.CloudVMs.DriverParameters } };

  const server = http.createServer((req, res) => {
    void handleRequest(req, res, { cloud, logger, clock, state });
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await cloud.shutdown();
    throw new LameCloudListenError(listenProblem(err, params.CloudURL));
  }
  server.on('error', (err) => logger.error('lame cloud: HTTP server error', { error: err }));
  const bound = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound}`;
  if (!isLoopback(host)) {
    // The API is unauthenticated and the VMs' SSH servers listen on 127.0.0.1 only.
    logger.warn('lame cloud: listening on a non-loopback address; the API has no authentication and VMs are reachable from this host only', {
      URL: url,
    });
  }
  logger.info('lame cloud listening', { URL: url, Cloud: cloud.name });

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive connections from dispatchers would otherwise hold close() open.
        server.closeAllConnections();
      });
      const vms = cloud.listVMs().length;
      await cloud.shutdown();
      logger.info('lame cloud closed', { URL: url, VMs: vms });
    })();
    return closing;
  };
  return { url, cloud, close };
}

function listenProblem(err: unknown, cloudURL: string): string {
  const code = (err as NodeJS.ErrnoException).code;
  const where = `cannot listen on ${cloudURL} (DriverParameters.CloudURL)`;
  switch (code) {
    case 'EADDRINUSE':
      return `${where}: the port is already in use (another lame-cloud process?)`;
    case 'EADDRNOTAVAIL':
      return `${where}: that address is not on this host`;
    case 'EACCES':
      return `${where}: permission denied (ports below 1024 need privileges)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `${where}: the host name does not resolve`;
    default:
      return `${where}: ${(err as Error).message}`;
  }
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
