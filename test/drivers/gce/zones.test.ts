/**
 * Zone-specific create failures besides zone capacity: a machine type (or its
 * accelerator type, or disk type) that one zone does not offer moves the
 * create on to the next zone, and one offered in none of them is a capacity
 * error for that type, as the ec2 driver treats an unsupported instance type.
 * A zone whose inserts fail otherwise is not asked first by the next create.
 */
import assert from 'node:assert/strict';
import { asCapacityError, isQuotaError } from '../../../src/cloud/errors.js';
import { driverPerTest, E2, failure, fakeParams, N2, ZONES } from './helpers.js';

describe('gce driver: create where a zone lacks the type', function () {
  this.timeout(20_000);
  const h = driverPerTest();
  const insertZones = () => h.fake.calls().filter((c) => c.kind === 'insert').map((c) => c.path.split('/')[6]);
  const live = () => h.fake.instances().filter((i) => !i.deleted);

  it('a type only the second zone offers is created there, and the next create of it starts there', async () => {
    h.fake.offerMachineTypes(ZONES[0], [E2.ProviderType]);
    const inst = await h.create(N2);
    assert.deepEqual(insertZones(), ZONES);
    assert.deepEqual(live().map((i) => [i.name, i.zone]), [[inst.id, ZONES[1]]]);
    const warned = h.logs.lines.filter((l) => l.includes('zone does not offer this type, trying next zone'));
    assert.equal(warned.length, 1);
    assert.match(warned[0], new RegExp(`"Zone":"${ZONES[0]}"`));
    await h.create(N2);
    assert.deepEqual(insertZones(), [...ZONES, ZONES[1]]);
    // Another type the first zone offers is still created in it.
    await h.create(E2);
    assert.deepEqual(insertZones().slice(-1), [ZONES[0]]);
  });

  it('a type no zone offers is a CapacityError for that provider type, after asking every zone once', async () => {
    for (const z of ZONES) h.fake.offerMachineTypes(z, [E2.ProviderType]);
    const err = await failure(h.create(N2));
    assert.equal(asCapacityError(err)?.instanceType, N2.ProviderType, String(err));
    assert.ok(!isQuotaError(err));
    assert.match(String(err), /does not exist in zone/);
    assert.deepEqual(insertZones(), ZONES);
    assert.equal(live().length, 0);
  });

  it('a 404 for the accelerator type in this zone moves on to the next zone', async () => {
    const gone = `The resource 'projects/${h.driver.project}/zones/${ZONES[0]}/acceleratorTypes/nvidia-tesla-t4' was not found`;
    h.fake.failNext('insert', { httpStatus: 404, reason: 'notFound', message: gone });
    await h.create(N2);
    assert.deepEqual(insertZones(), ZONES);
    assert.equal(live()[0].zone, ZONES[1]);
  });

  it('a 400 or 404 about something else (the image) is not tried in other zones, nor taken for capacity', async () => {
    h.fake.failNext('insert', { httpStatus: 404, reason: 'notFound', message: "The resource 'projects/debian-cloud/global/images/family/nope' was not found" });
    const err = await failure(h.create(N2));
    assert.equal(asCapacityError(err), undefined, String(err));
    assert.deepEqual(insertZones(), [ZONES[0]]);
  });
});

describe('gce driver: a zone whose inserts keep failing', function () {
  this.timeout(20_000);
  const h = driverPerTest();
  const insertZones = () => h.fake.calls().filter((c) => c.kind === 'insert').map((c) => c.path.split('/')[6]);
  const live = () => h.fake.instances().filter((i) => !i.deleted);

  const faults: Array<[string, () => void]> = [
    ['an operation error (INTERNAL_ERROR)', () => h.fake.failZone(ZONES[0], 'INTERNAL_ERROR')],
    ['503 on every attempt', () => {
      for (let i = 0; i < 4; i++) h.fake.failNext('insert', { httpStatus: 503, reason: 'backendError', message: 'Internal error' });
    }],
  ];
  for (const [how, fail] of faults) {
    it(`${how}: the create fails there without trying another zone, and the next create starts in the next zone`, async () => {
      fail();
      const err = await failure(h.create(N2));
      assert.equal(asCapacityError(err), undefined, String(err));
      assert.deepEqual([...new Set(insertZones())], [ZONES[0]], 'no second zone for the same create: a timed-out insert may have been carried out');
      const before = insertZones().length;
      const inst = await h.create(N2);
      assert.deepEqual(insertZones().slice(before), [ZONES[1]]);
      assert.deepEqual(live().map((i) => [i.name, i.zone]), [[inst.id, ZONES[1]]]);
    });
  }

  it('a throttled insert does not move the start zone: the limit is the project\'s', async () => {
    h.fake.failNext('insert', { httpStatus: 429, reason: 'rateLimitExceeded', message: 'Rate Limit Exceeded' });
    await failure(h.create(N2));
    await h.create(N2);
    assert.deepEqual(insertZones(), [ZONES[0], ZONES[0]]);
  });
});

describe('gce driver: a regional quota moves the create to a zone in another region', function () {
  this.timeout(20_000);
  const ZONES3 = ['us-central1-a', 'us-central1-b', 'us-east1-b'];
  const h = driverPerTest({ driver: (fake) => ({ params: fakeParams(fake, { Zone: ZONES3 }) }) });
  const insertZones = () => h.fake.calls().filter((c) => c.kind === 'insert').map((c) => c.path.split('/')[6]);
  const live = () => h.fake.instances().filter((i) => !i.deleted);

  for (const synchronous of [false, true]) {
    it(`skips the other zones of the region over quota (${synchronous ? "the insert's own 403" : 'the operation\'s QUOTA_EXCEEDED'}), and the next create starts where it succeeded`, async () => {
      h.fake.failNext('insert', { quotaExceeded: 'CPUS', synchronous });
      const inst = await h.create(N2);
      assert.deepEqual(insertZones(), ['us-central1-a', 'us-east1-b']);
      assert.deepEqual(live().map((i) => [i.name, i.zone]), [[inst.id, 'us-east1-b']]);
      const warned = h.logs.lines.filter((l) => l.includes('region over quota, trying a zone in another region'));
      assert.equal(warned.length, 1);
      assert.match(warned[0], /"Zone":"us-central1-a".*"Quota":\["CPUS"\]/);
      await h.create(N2);
      assert.deepEqual(insertZones().slice(-1), ['us-east1-b']);
    });
  }

  it("an insert over both the region's CPUS and CPUS_ALL_REGIONS is the quota error at once: no insert in another region's zone", async () => {
    const message = "Quota 'CPUS' exceeded.  Limit: 24.0 in region us-central1. Quota 'CPUS_ALL_REGIONS' exceeded.  Limit: 32.0 globally.";
    h.fake.failNext('insert', { httpStatus: 403, reason: 'quotaExceeded', message });
    const err = await failure(h.create(N2));
    assert.ok(isQuotaError(err), String(err));
    assert.deepEqual(insertZones(), ['us-central1-a']);
    assert.equal(live().length, 0);
    assert.equal(h.logs.lines.filter((l) => l.includes('region over quota')).length, 0);
  });

  it('a quota of all regions, or one over quota in every region, is the quota error as before', async () => {
    h.fake.failNext('insert', { quotaExceeded: 'CPUS_ALL_REGIONS' });
    assert.ok(isQuotaError(await failure(h.create(N2))));
    assert.deepEqual(insertZones(), ['us-central1-a']);
    h.fake.failNext('insert', { quotaExceeded: 'INSTANCES' });
    h.fake.failNext('insert', { quotaExceeded: 'INSTANCES' });
    const err = await failure(h.create(N2));
    assert.ok(isQuotaError(err), String(err));
    assert.deepEqual(insertZones(), ['us-central1-a', 'us-central1-a', 'us-east1-b']);
  });
});
