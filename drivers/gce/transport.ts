/**
 * The connections of the Compute API clients: outbound proxy by Go's rules
 * and the site's CA, as every other HTTP client of the daemon has them
 * (src/net/proxy.ts, src/net/trust.ts).
 *
 * How @google-cloud/compute 6.x sends a call: its REST transport (google-gax
 * 5, fallbackServiceStub.js) calls `fetch(url, init)` on the auth client,
 * which hands the request to that client's transporter, a Gaxios instance
 * (gaxios 7), which sends it with node-fetch. google-gax puts an `agent` of
 * its own in every request (plain keep-alive agents, no proxy, Node's
 * roots). Gaxios leaves a request that names an agent alone, so not even
 * its own HTTPS_PROXY handling applies: the calls went direct, whatever the
 * environment said.
 *
 * The hook: an auth client takes `transporterOptions`, the defaults of its
 * Gaxios instance, and Gaxios takes among them an `adapter`, a function that
 * is given each prepared request and the default way of sending it. Ours
 * puts our agents in the request and sends it the default way. That is a
 * supported option of both libraries, it touches only the clients this
 * driver builds, and it also covers what the auth client itself sends
 * through its transporter: the OAuth token requests of a service account
 * key file or of user credentials, which Go's oauth2 package sends through
 * the default transport, proxy included. Not covered: requests to the
 * metadata server (the token of a VM's own service account, project
 * detection), which google-auth-library sends through gcp-metadata's own
 * Gaxios with no hook short of patching that module. That Gaxios sends
 * them through HTTPS_PROXY or HTTP_PROXY unless NO_PROXY names the host,
 * which no proxy should be given: the metadata server is link-local, and a
 * proxy on another VM that reached it would answer with that VM's identity.
 * So `keepMetadataServerDirect` adds its names to NO_PROXY. Nor impersonated
 * service account credentials: google-auth-library 10 builds that client
 * (and its source credentials' client) without the options it was given,
 * so its calls keep google-gax's agents.
 */
import type http from 'node:http';
import type { gaxios } from 'google-auth-library';
import { describeProxy, EnvProxyAgent, proxyFor, type ProxyEnv, proxySettings } from '../../src/net/proxy.js';
import { secureContextOption } from '../../src/net/trust.js';

/** Where the Compute API is when `Endpoint` is empty (the googleapis.com universe). */
export const DEFAULT_COMPUTE_URL = 'https://compute.googleapis.com/';

export interface GceAgents {
  http: EnvProxyAgent;
  https: EnvProxyAgent;
}

/**
 * One agent per scheme, each choosing direct or a proxy per request from
 * `env` (Go's rules: a loopback endpoint is never proxied), trusting Node's
 * roots plus the site CA file. Keep-alive as google-gax's own agents; no
 * socket limit either, as theirs: operations.wait calls hold a connection
 * for up to two minutes each, and a cap would queue list calls behind them.
 */
export function gceAgents(env: ProxyEnv = process.env): GceAgents {
  const opts = { env, keepAlive: true, ...secureContextOption() };
  return { http: new EnvProxyAgent('http:', opts), https: new EnvProxyAgent('https:', opts) };
}

/** The Gaxios defaults that send every request of an auth client through `agents` (see the file comment). */
export function transporterOptions(agents: GceAgents): gaxios.GaxiosOptions {
  const agentFor = (url: URL): http.Agent => (url.protocol === 'http:' ? agents.http : agents.https);
  return {
    adapter: <T>(request: gaxios.GaxiosOptionsPrepared, send: (o: gaxios.GaxiosOptionsPrepared) => gaxios.GaxiosPromise<T>) => {
      // Replaces google-gax's agent (or Gaxios's own proxy agent, on a token request).
      request.agent = agentFor;
      return send(request);
    },
  };
}

/**
 * The start-up log fields when a proxy variable is set (undefined when none
 * is): the settings without credentials, and what the Compute API endpoint
 * itself gets, since NO_PROXY or a loopback endpoint may exempt it.
 */
export function proxyLogFields(endpoint: string, env: ProxyEnv = process.env): Record<string, string> | undefined {
  const settings = proxySettings(env);
  if (!settings) return undefined;
  const proxy = proxyFor(endpoint === '' ? DEFAULT_COMPUTE_URL : endpoint, env);
  return { ...settings, ComputeAPI: proxy ? `via ${describeProxy(proxy)}` : 'direct' };
}

/**
 * The metadata server's host names as gcp-metadata's requests name them:
 * its address, its DNS name (with the trailing dot it is raced under), and
 * GCE_METADATA_IP / GCE_METADATA_HOST when set (they replace the address).
 */
export function metadataServerHosts(env: ProxyEnv): string[] {
  const hosts = ['169.254.169.254', 'metadata.google.internal', 'metadata.google.internal.'];
  for (const v of [env.GCE_METADATA_IP, env.GCE_METADATA_HOST]) {
    if (!v) continue;
    try {
      hosts.push(new URL(/^https?:\/\//.test(v) ? v : `http://${v}`).hostname);
    } catch {
      // Not a host gcp-metadata could use either.
    }
  }
  return [...new Set(hosts)];
}

/**
 * When a proxy variable is set, adds the metadata server's hosts that the
 * no-proxy list lacks to it (NO_PROXY, or no_proxy when only that one is
 * set, as Gaxios reads them), in `env` (the process's: Gaxios reads it at
 * each request). Returns the variable and the hosts added, or undefined
 * when there was nothing to do. Our own clients go direct to them as well,
 * which is right for the same reason.
 */
export function keepMetadataServerDirect(env: Record<string, string | undefined> = process.env): { variable: string; added: string[] } | undefined {
  if (!(env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy)) return undefined;
  const variable = env.NO_PROXY !== undefined || env.no_proxy === undefined ? 'NO_PROXY' : 'no_proxy';
  const current = env[variable] ?? '';
  const listed = new Set(current.split(',').map((h) => h.trim()));
  const added = metadataServerHosts(env).filter((h) => !listed.has(h));
  if (added.length === 0) return undefined;
  env[variable] = [...(current.trim() === '' ? [] : [current]), ...added].join(',');
  return { variable, added };
}
