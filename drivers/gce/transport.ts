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
 * Gaxios with no hook short of patching that module; they keep the
 * library's proxy rules (docs/operators.md says which). Nor impersonated
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
