/**
 * Listing while a zone of the project does not answer. aggregatedList
 * covers every zone of the project: without partial success one zone down
 * anywhere fails every listing; with it, the zone's scope comes back empty
 * with an UNREACHABLE warning, which must not be read as "no instances of
 * ours there" when ours may be there.
 */
import assert from 'node:assert/strict';
import { buildClients } from '../../../drivers/gce/client.js';
import { GceInstanceSet, parseGceParams } from '../../../drivers/gce/index.js';
import { placeOf, unreachableVerdict } from '../../../drivers/gce/listing.js';
import { driverPerTest, IMAGE, createArgs, DISPATCH_KEY, N2, PROJECT, ZONES } from './helpers.js';

/** A zone of the project the driver's Zone list does not name. */
const OTHER = 'us-central1-c';

describe('gce driver: listing while a zone does not answer', function () {
  this.timeout(30_000);
  const h = driverPerTest();
  const lists = () => h.fake.calls().filter((c) => c.kind === 'aggregatedList');
  const unreachableWarnings = () => h.logs.records().filter((r) => r.msg === 'some zones of the project did not answer the listing; none is configured or held instances of ours');

  /** Another driver of the same instance set (same ctx) on the same fake, with `zones` as its Zone list. */
  async function driverFor(zones: string[]): Promise<GceInstanceSet> {
    const { params } = parseGceParams({ Project: PROJECT, Zone: zones, Endpoint: h.fake.url });
    return new GceInstanceSet(params, h.ctx, { clients: await buildClients(params, { env: {} }), retryDelayMs: 5, operationPollMs: 5 });
  }

  it('asks for partial success, on every page', async () => {
    await Promise.all([h.create(), h.create(), h.create(), h.create()]);
    const before = lists().length;
    assert.equal((await h.driver.instances({})).length, 4);
    const sent = lists().slice(before);
    assert.ok(sent.length >= 2, 'pages of 3: at least two');
    assert.ok(sent.every((c) => c.query.returnPartialSuccess === 'true'), JSON.stringify(sent.map((c) => c.query)));
    assert.ok(sent.slice(1).every((c) => c.query.pageToken), 'the later pages follow nextPageToken');
  });

  it('a zone outside Zone that held none of ours: the listing stands, with our instances, and one warning names the zone', async () => {
    const a = await h.create();
    const b = await h.create();
    h.fake.unreachableZone('europe-west1-b');
    const listed = await h.driver.instances({});
    assert.deepEqual(listed.map((i) => i.id).sort(), [a.id, b.id].sort());
    await h.driver.instances({});
    const warned = unreachableWarnings();
    assert.equal(warned.length, 1, 'rate-limited: one warning for two listings');
    assert.deepEqual(warned[0].Zones, ['europe-west1-b']);
  });

  for (const zone of ZONES) {
    it(`a configured zone (${zone}) that does not answer fails the listing, whether or not ours were there`, async () => {
      await h.create();
      assert.equal((await h.driver.instances({})).length, 1);
      h.fake.unreachableZone(zone);
      await assert.rejects(h.driver.instances({}), (err: Error) => err.message.includes(zone) && err.message.includes('did not answer'));
      h.fake.clearFaults();
      assert.equal((await h.driver.instances({})).length, 1, 'listed again once the zone answers');
    });
  }

  it('a configured zone whose scope carries a warning GCE has not documented fails the listing too, and the error names the code', async () => {
    h.fake.scopeWarning(ZONES[0]!, 'SOMETHING_NEW');
    await assert.rejects(h.driver.instances({}), (err: Error) => err.message.includes(`${ZONES[0]} (warning SOMETHING_NEW) did not answer`));
    h.fake.clearFaults();
    assert.deepEqual(await h.driver.instances({}), []);
  });

  it('a zone outside Zone that held one of ours at the last listing fails the listing (a zone taken out of Zone keeps its workers)', async () => {
    // A VM in OTHER, made while OTHER was configured.
    const before = await driverFor([OTHER]);
    const args = createArgs(h.setId);
    const old = await before.create(N2, IMAGE, args.tags, args.init, DISPATCH_KEY.public);
    before.stop();
    assert.equal(h.fake.instances().find((i) => i.name === old.id)?.zone, OTHER);
    const inst = await h.create();
    assert.deepEqual((await h.driver.instances({})).map((i) => i.id).sort(), [old.id, inst.id].sort());
    h.fake.unreachableZone(OTHER);
    await assert.rejects(h.driver.instances({}), new RegExp(`${OTHER} did not answer`));
    // A driver that never listed ours there (a dispatcher started during the outage) cannot know: it lists what answers.
    const fresh = await driverFor(ZONES);
    try {
      assert.deepEqual((await fresh.instances({})).map((i) => i.id), [inst.id]);
    } finally {
      fresh.stop();
    }
  });

  it('the fake fails the call without partial success, as GCE does', async () => {
    h.fake.unreachableZone(OTHER);
    const pages = h.driver.clients.instances.aggregatedListAsync({ project: PROJECT }, { autoPaginate: false })[Symbol.asyncIterator]();
    await assert.rejects(pages.next(), /unreachable/);
  });
});

describe('gce driver: which unreachable places block a listing', () => {
  it('reads zones and regions in every form GCE may name them', () => {
    assert.deepEqual(placeOf('zones/us-central1-a'), { zone: 'us-central1-a' });
    assert.deepEqual(placeOf('projects/p/zones/us-central1-a'), { zone: 'us-central1-a' });
    assert.deepEqual(placeOf('https://www.googleapis.com/compute/v1/projects/p/zones/us-central1-a'), { zone: 'us-central1-a' });
    assert.deepEqual(placeOf('regions/europe-west4'), { region: 'europe-west4' });
    assert.equal(placeOf('global'), undefined);
  });

  it('blocks on a configured zone, a zone that held ours, their region, and an entry it cannot place', () => {
    const zones = ['us-central1-a', 'us-central1-b'];
    const held = new Set(['us-east1-b']);
    assert.deepEqual(unreachableVerdict(['zones/europe-west1-b'], zones, held), { blocking: [], all: ['europe-west1-b'] });
    assert.deepEqual(unreachableVerdict(['zones/us-central1-b', 'zones/europe-west1-b'], zones, held).blocking, ['us-central1-b']);
    assert.deepEqual(unreachableVerdict(['projects/p/zones/us-east1-b'], zones, held).blocking, ['us-east1-b']);
    assert.deepEqual(unreachableVerdict(['regions/us-central1'], zones, held).blocking, zones);
    assert.deepEqual(unreachableVerdict(['regions/europe-west1'], zones, held).blocking, []);
    assert.deepEqual(unreachableVerdict(['something else'], zones, held).blocking, ['something else']);
  });
});
