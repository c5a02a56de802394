/** The Compute clients' options: where the calls go, and with which credentials. */
import assert from 'node:assert/strict';
import { clientOptions } from '../../../drivers/gce/client.js';
import { parseGceParams } from '../../../drivers/gce/params.js';
import { gceAgents } from '../../../drivers/gce/transport.js';

const options = (raw: Record<string, unknown>) => clientOptions(parseGceParams({ Project: 'p', Zone: 'us-central1-a', ...raw }).params, gceAgents({}));

describe('gce client options', () => {
  it('an Endpoint without a port is asked on its scheme\'s port: 80 for http, 443 for https', async () => {
    assert.deepEqual(await options({ Endpoint: 'http://compute.internal' }).then((o) => [o.apiEndpoint, o.port, o.protocol]), ['compute.internal', 80, 'http']);
    assert.deepEqual(await options({ Endpoint: 'https://compute.example' }).then((o) => [o.apiEndpoint, o.port, o.protocol]), ['compute.example', 443, 'https']);
    assert.deepEqual(await options({ Endpoint: 'http://[::1]:8080' }).then((o) => [o.apiEndpoint, o.port, o.protocol]), ['::1', 8080, 'http']);
  });

  it('credentials from CredentialsFile are asked for the compute scope only, all the dispatcher\'s own calls need', async () => {
    const o = await options({ CredentialsFile: '/nonexistent/key.json' });
    assert.deepEqual((o.auth as unknown as { scopes?: unknown }).scopes, ['https://www.googleapis.com/auth/compute']);
  });
});
