/**
 * What the driver makes of aggregatedList answers the fake GCE does not
 * give: a top-level `unreachables` entry with no zone scope warning, and an
 * answer that names no zone at all. Either one, read as a complete listing,
 * drops VMs of ours from the pool's view (it forgets them: they run on,
 * billed, with nobody to shut them down).
 */
import assert from 'node:assert/strict';
import type { InstancesClient } from '@google-cloud/compute';
import { listAggregated } from '../../../drivers/gce/listing.js';
import { driverPerTest } from './helpers.js';

/** An InstancesClient whose aggregatedList answers `pages` in turn. */
function clientAnswering(pages: unknown[]): InstancesClient {
  let i = 0;
  return {
    initialize: async () => undefined,
    innerApiCalls: { aggregatedList: () => Promise.resolve([null, null, pages[i++]]) },
  } as unknown as InstancesClient;
}

describe('gce listing: answers the fake does not give', function () {
  this.timeout(30_000);

  it('a place named only in the top-level unreachables (no scope warning) is reported unreachable', async () => {
    const client = clientAnswering([
      {
        items: { 'zones/us-central1-a': { instances: [{ name: 'vm-1' }] }, 'zones/us-central1-b': { warning: { code: 'NO_RESULTS_ON_PAGE' } } },
        unreachables: ['regions/us-central1', 'zones/europe-west1-b'],
      },
    ]);
    const listing = await listAggregated(client, 'p', '', new AbortController().signal);
    assert.deepEqual(listing.records.map((r) => r.name), ['vm-1']);
    assert.deepEqual(listing.unreachable, ['regions/us-central1', 'zones/europe-west1-b']);
  });

  it('pages that repeat a nextPageToken fail the listing instead of paging for ever', async () => {
    const page = { items: { 'zones/us-central1-a': { warning: { code: 'NO_RESULTS_ON_PAGE' } } }, nextPageToken: 'again' };
    // After 20 such pages a last one: without the check the listing would end there, having asked 21 times.
    const client = clientAnswering([...Array.from({ length: 20 }, () => page), { items: page.items }]);
    await assert.rejects(listAggregated(client, 'p', '', new AbortController().signal), /the same nextPageToken came back twice/);
  });

  it('an instance without a name fails the listing rather than being left out', async () => {
    const items = { 'zones/us-central1-a': { instances: [{ name: 'vm-1' }, { status: 'RUNNING' }] } };
    await assert.rejects(listAggregated(clientAnswering([{ items }]), 'p', '', new AbortController().signal), /without a name/);
  });

  it('a scope that is not a zone fails the listing rather than counting as a zone that answered', async () => {
    const zoneA = { 'zones/us-central1-a': { instances: [{ name: 'vm-1' }] } };
    for (const items of [{ ...zoneA, garbage: { warning: { code: 'NO_RESULTS_ON_PAGE' } } }, { ...zoneA, 'regions/us-central1': {} }]) {
      await assert.rejects(listAggregated(clientAnswering([{ items }]), 'p', '', new AbortController().signal), /not a list by zone/, JSON.stringify(items));
    }
  });

  it('an answer that is not an object fails the listing, saying so', async () => {
    for (const answer of [undefined, null, 'Service Unavailable', 0]) {
      await assert.rejects(listAggregated(clientAnswering([answer]), 'p', '', new AbortController().signal), /^Error: gce: aggregatedList: the answer is not a list$/, String(answer));
    }
  });

  it('an answer without items is a page that names no zone: no records, no scopes, nothing unreachable', async () => {
    const listing = await listAggregated(clientAnswering([{}]), 'p', '', new AbortController().signal);
    assert.deepEqual(listing, { records: [], scopes: 0, unreachable: [], warnings: {} });
  });

  const h = driverPerTest();

  it('the driver fails a listing whose only sign of an unreachable configured zone is the top-level unreachables', async () => {
    const inst = await h.create();
    const real = h.driver.clients.instances.innerApiCalls.aggregatedList;
    try {
      h.driver.clients.instances.innerApiCalls.aggregatedList = (() =>
        Promise.resolve([null, null, { items: { 'zones/europe-west1-b': { warning: { code: 'NO_RESULTS_ON_PAGE' } } }, unreachables: [`zones/${inst.zone}`] }])) as typeof real;
      await assert.rejects(h.driver.instances({}), (err: Error) => err.message.includes(`${inst.zone} did not answer`));
    } finally {
      h.driver.clients.instances.innerApiCalls.aggregatedList = real;
    }
    assert.deepEqual((await h.driver.instances({})).map((i) => i.id), [inst.id]);
  });

  it('an answer that names no zone at all (an empty body, a proxy page) fails the listing instead of listing no instances', async () => {
    const inst = await h.create();
    const real = h.driver.clients.instances.innerApiCalls.aggregatedList;
    try {
      for (const answer of [{ items: {} }, {}]) {
        h.driver.clients.instances.innerApiCalls.aggregatedList = (() => Promise.resolve([null, null, answer])) as typeof real;
        await assert.rejects(h.driver.instances({}), /names no zone at all/, JSON.stringify(answer));
      }
    } finally {
      h.driver.clients.instances.innerApiCalls.aggregatedList = real;
    }
    assert.deepEqual((await h.driver.instances({})).map((i) => i.id), [inst.id]);
  });
});
