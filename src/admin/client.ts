/**
 * A small client for a running dispatcher's management API (ARVADOS.md
 * section 7), used by the `instances` and `containers` subcommands. It reads
 * the address and token from the same config file the daemon reads, so an
 * operator on the dispatch host needs nothing else.
 */
import http from 'node:http';
import https from 'node:https';
import { ConfigError, loadConfigFile } from '../config/index.js';
import type { Cluster } from '../config/types.js';
import { withHost } from '../config/urls.js';
import { secureContextOption } from '../net/trust.js';
import { NOT_DISPATCHING_HEADER } from '../http/not-dispatching.js';

/**
 * A failure the command reports as one line on stderr. `exitCode` 2 means
 * the config cannot say how to reach the daemon (as the daemon's own bad
 * config status), 1 means the daemon could not be reached or said no.
 */
export class AdminError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
    options?: { cause?: unknown },
    /** The dispatcher's HTTP status, when it answered with an error. */
    readonly httpStatus?: number,
    /**
     * Another InternalURL may do better: this one could not be reached, or
     * answered 503 (a standby waiting for the dispatch lock answers that), or
     * 404 saying it is not dispatching (a standby asked for a container).
     */
    readonly elsewhere = false,
  ) {
    super(message, options);
    this.name = 'AdminError';
  }
}

/** Where the daemon listens and how to authenticate to it. */
export interface ManagementTarget {
  /** Base URL with no trailing slash, e.g. `http://127.0.0.1:9006`. */
  baseURL: string;
  token: string;
  /** Accept any TLS certificate (the cluster's `TLS.Insecure`). */
  insecure: boolean;
}

export interface ConfigOptions {
  config: string;
  cluster?: string;
}

/** Reads the config file and lists where the daemon may answer, or throws an AdminError naming the key to fix. */
export function targetsFromConfig(opts: ConfigOptions): ManagementTarget[] {
  let cluster: Cluster;
  try {
    // The key is the daemon's: these commands never need it (nor its file).
    cluster = loadConfigFile(opts.config, { clusterId: opts.cluster, skipPrivateKey: true }).cluster;
  } catch (err) {
    if (err instanceof ConfigError) throw new AdminError(err.errors.join('\n'), 2, { cause: err });
    throw err;
  }
  return targetsFromCluster(cluster);
}

/**
 * Every InternalURL of an already loaded cluster config, in config order.
 * Several dispatch hosts may share the dispatch lock, and only the holder
 * answers: the others say 503. So a command asks each in turn until one
 * answers, as the reference's `arvados-server instance` commands ask every
 * InternalURL.
 */
export function targetsFromCluster(cluster: Cluster): ManagementTarget[] {
  const path = `Clusters.${cluster.ClusterID}`;
  const urls = cluster.Services.DispatchCloud.InternalURLs;
  if (urls.length === 0) {
    throw new AdminError(`${path}.Services.DispatchCloud.InternalURLs: empty, so there is no address to reach the dispatcher's management API at`, 2);
  }
  if (!cluster.ManagementToken) {
    throw new AdminError(`${path}.ManagementToken: empty, so the dispatcher's management API refuses every request`, 2);
  }
  return urls.map((url) => ({ baseURL: connectableURL(url), token: cluster.ManagementToken, insecure: cluster.TLS.Insecure }));
}

/**
 * The URL to connect to for a listen URL. An InternalURL may name a wildcard
 * address (`0.0.0.0`, `[::]`) to listen on every interface; one cannot
 * connect to that, but the daemon is then reachable on loopback.
 */
export function connectableURL(listenURL: string): string {
  let u: URL;
  try {
    // No host (http://:9006) means every address: the daemon is on this host's loopback, as Go dials ":9006".
    u = new URL(withHost(listenURL, '127.0.0.1'));
  } catch {
    throw new AdminError(`Services.DispatchCloud.InternalURLs: "${listenURL}" is not a URL`, 2);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new AdminError(`Services.DispatchCloud.InternalURLs: "${listenURL}" is not an http or https URL`, 2);
  }
  if (u.hostname === '0.0.0.0') u.hostname = '127.0.0.1';
  else if (u.hostname === '[::]' || u.hostname === '::') u.hostname = '[::1]';
  return u.toString().replace(/\/+$/, '');
}

export type Query = Record<string, string | undefined>;

/** Calls the management API; resolves with the parsed JSON body of a 2xx answer. */
export class ManagementClient {
  constructor(
    private readonly target: ManagementTarget,
    /** Gives up on a daemon that accepts the connection but never answers. */
    private readonly timeoutMs = 30_000,
  ) {}

  get(path: string, query: Query = {}): Promise<unknown> {
    return this.request('GET', path, query);
  }

  post(path: string, query: Query = {}): Promise<unknown> {
    return this.request('POST', path, query);
  }

  private request(method: string, path: string, query: Query): Promise<unknown> {
    const url = new URL(this.target.baseURL + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = mod.request(
        url,
        {
          method,
          headers: { Authorization: `Bearer ${this.target.token}`, Accept: 'application/json' },
          timeout: this.timeoutMs,
          rejectUnauthorized: !this.target.insecure,
          ...(this.target.insecure ? {} : secureContextOption()),
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(new AdminError(`reading the answer from ${this.target.baseURL}: ${err.message}`, 1, { cause: err })));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            let body: unknown;
            try {
              body = text === '' ? {} : JSON.parse(text);
            } catch {
              body = undefined;
            }
            if (status >= 200 && status < 300) {
              if (body === undefined) reject(new AdminError(`${method} ${path}: the dispatcher answered ${status} with a body that is not JSON`));
              else resolve(body);
              return;
            }
            // A 503, or a 404 that says this process is not dispatching (a standby): another InternalURL may be the dispatcher.
            const standby = status === 503 || (status === 404 && res.headers[NOT_DISPATCHING_HEADER.toLowerCase()] !== undefined);
            reject(new AdminError(`${method} ${path}: ${status} ${res.statusMessage ?? ''}`.trimEnd() + `: ${errorText(body, text)}`, 1, undefined, status, standby));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`no answer within ${Math.round(this.timeoutMs / 1000)} s`)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        reject(new AdminError(`cannot reach the dispatcher at ${this.target.baseURL}${hint(err)}: ${err.message}`, 1, { cause: err }, undefined, true));
      });
      req.end();
    });
  }
}

/** The server's `{"errors":[...]}` text, else the raw body (short), else a placeholder. */
function errorText(body: unknown, raw: string): string {
  if (body && typeof body === 'object' && Array.isArray((body as { errors?: unknown }).errors)) {
    const errors = (body as { errors: unknown[] }).errors.map(String).filter((e) => e !== '');
    if (errors.length > 0) return errors.join('; ');
  }
  const trimmed = raw.trim();
  if (trimmed === '') return '(empty answer)';
  return trimmed.length > 200 ? `${trimmed.slice(0, 200)}...` : trimmed;
}

function hint(err: NodeJS.ErrnoException): string {
  if (err.code === 'ECONNREFUSED') return ' (is arvados-dispatch-cloud running? see `systemctl status arvados-dispatch-cloud`)';
  return '';
}
