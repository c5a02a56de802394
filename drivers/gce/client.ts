/**
 * Builds the Compute API clients. This is the only module that loads
 * @google-cloud/compute at run time (it takes ~2 s), and index.ts imports it
 * lazily, so a dispatcher on another cloud never pays for it.
 */
import type { InstancesClient, ZoneOperationsClient } from '@google-cloud/compute';
import type { Logger } from '../../src/log.js';
import type { ProxyEnv } from '../../src/net/proxy.js';
import type { GceParams } from './params.js';
import { type GceAgents, gceAgents, keepMetadataServerDirect, proxyLogFields, transporterOptions } from './transport.js';

export interface GceClients {
  instances: InstancesClient;
  operations: ZoneOperationsClient;
  /** The connections the clients send through (transport.ts); closed with the instance set. Absent in clients built elsewhere. */
  agents?: GceAgents;
}

/** What the dispatcher's own calls need: manage instances, nothing else. */
export const API_SCOPES = ['https://www.googleapis.com/auth/compute'];

type ClientOptions = NonNullable<ConstructorParameters<typeof InstancesClient>[0]>;

export interface BuildClientsOptions {
  /** Where the proxy variables are read from. Default `process.env`; tests pass their own. */
  env?: ProxyEnv;
  /** Gets the start-up line saying the calls follow the proxy settings, when some are set. */
  logger?: Logger;
}

/** The clients' options: endpoint, credentials, and every request of the auth client sent through `agents`. */
export async function clientOptions(params: GceParams, agents: GceAgents): Promise<ClientOptions> {
  const opts: ClientOptions = {};
  let plainHttp = false;
  if (params.Endpoint !== '') {
    const url = new URL(params.Endpoint);
    plainHttp = url.protocol === 'http:';
    opts.apiEndpoint = url.hostname.replace(/^\[(.*)\]$/, '$1');
    opts.port = url.port !== '' ? Number(url.port) : plainHttp ? 80 : 443;
    opts.protocol = plainHttp ? 'http' : 'https';
  }
  const auth = await import('google-auth-library');
  const clientOpts = { transporterOptions: transporterOptions(agents) };
  if (plainHttp) {
    // A local endpoint (tests): no token to fetch, and none to leak over plain HTTP.
    opts.authClient = new auth.PassThroughClient(clientOpts);
  } else if (params.CredentialsFile !== '') {
    opts.auth = new auth.GoogleAuth({ keyFile: params.CredentialsFile, scopes: API_SCOPES, clientOptions: clientOpts });
  } else {
    // Application default credentials (env, gcloud, the metadata server):
    // the GoogleAuth google-gax makes from these options passes them on to
    // whichever client it picks.
    opts.clientOptions = clientOpts;
  }
  return opts;
}

export async function buildClients(params: GceParams, build: BuildClientsOptions = {}): Promise<GceClients> {
  const env = build.env ?? process.env;
  if (build.env === undefined) {
    // The metadata server's requests read the process's variables (transport.ts); tests that pass their own env leave it alone.
    const direct = keepMetadataServerDirect(process.env);
    if (direct) build.logger?.info('GCE metadata server requests go direct: added to the no-proxy list', { Variable: direct.variable, Added: direct.added });
  }
  const agents = gceAgents(env);
  const [sdk, opts] = await Promise.all([import('@google-cloud/compute'), clientOptions(params, agents)]);
  const proxies = proxyLogFields(params.Endpoint, env);
  if (proxies) build.logger?.info('GCE API requests follow the outbound proxy settings', proxies);
  return { instances: new sdk.InstancesClient(opts), operations: new sdk.ZoneOperationsClient(opts), agents };
}
