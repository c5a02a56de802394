/**
 * Builds the Compute API clients. This is the only module that loads
 * @google-cloud/compute at run time (it takes ~2 s), and index.ts imports it
 * lazily, so a dispatcher on another cloud never pays for it.
 */
import type { InstancesClient, ZoneOperationsClient } from '@google-cloud/compute';
import type { GceParams } from './params.js';

export interface GceClients {
  instances: InstancesClient;
  operations: ZoneOperationsClient;
}

/** What the dispatcher's own calls need: manage instances, nothing else. */
export const API_SCOPES = ['https://www.googleapis.com/auth/compute'];

type ClientOptions = NonNullable<ConstructorParameters<typeof InstancesClient>[0]>;

export async function clientOptions(params: GceParams): Promise<ClientOptions> {
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
  if (plainHttp) {
    // A local endpoint (tests): no token to fetch, and none to leak over plain HTTP.
    opts.authClient = new auth.PassThroughClient();
  } else if (params.CredentialsFile !== '') {
    opts.auth = new auth.GoogleAuth({ keyFile: params.CredentialsFile, scopes: API_SCOPES });
  }
  // Else application default credentials (env, gcloud, the metadata server).
  return opts;
}

export async function buildClients(params: GceParams): Promise<GceClients> {
  const [sdk, opts] = await Promise.all([import('@google-cloud/compute'), clientOptions(params)]);
  return { instances: new sdk.InstancesClient(opts), operations: new sdk.ZoneOperationsClient(opts) };
}
