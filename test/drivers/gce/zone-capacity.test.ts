/**
 * The driver's memory of zones out of capacity for a type (place-capacity.ts,
 * as the ec2 driver keeps per subnet): a zone that had no room for a type,
 * or did not offer it, is not asked again by that type's creates (in that
 * market) until the memory expires, and a create that finds every zone
 * remembered answers with the type's CapacityError without an insert.
 */
import assert from 'node:assert/strict';
import { asCapacityError } from '../../../src/cloud/errors.js';
import { PLACE_CAPACITY_TTL_MS } from '../../../src/cloud/place-capacity.js';
import { ManualClock } from '../../../src/clock/index.js';
import { driverPerTest, E2, failure, N2, SPOT, ZONES } from './helpers.js';

describe('gce driver: zones recently out of capacity are skipped', function () {
  this.timeout(20_000);
  let clock = new ManualClock();
  const h = driverPerTest({
    driver: () => {
      clock = new ManualClock();
      return { clock };
    },
  });
  const inserts = () => h.fake.calls().filter((c) => c.kind === 'insert').map((c) => c.path.split('/')[6]);

  it(`every zone exhausted: the next create within ${PLACE_CAPACITY_TTL_MS / 1000} s makes no insert and is a CapacityError for the type; after that, every zone is asked again`, async () => {
    for (const z of ZONES) h.fake.failZone(z, 'ZONE_RESOURCE_POOL_EXHAUSTED');
    const first = await failure(h.create(N2));
    assert.equal(asCapacityError(first)?.instanceType, N2.ProviderType, String(first));
    assert.deepEqual(inserts(), ZONES);
    await clock.advance(PLACE_CAPACITY_TTL_MS - 1);
    const second = await failure(h.create(N2));
    assert.equal(asCapacityError(second)?.instanceType, N2.ProviderType, String(second));
    assert.equal(inserts().length, 2, 'no insert while every zone is remembered');
    assert.ok(h.logs.records().some((r) => r.msg === 'skipping zone recently out of capacity for this type'));
    await clock.advance(1);
    await failure(h.create(N2));
    assert.equal(inserts().length, 4, 'the memory expired: both zones asked again');
  });

  it('is kept per type and market: Spot of the same machine type, and another type, still ask', async () => {
    for (const z of ZONES) h.fake.failZone(z, 'ZONE_RESOURCE_POOL_EXHAUSTED');
    await failure(h.create(N2));
    h.fake.clearFaults();
    await h.create(SPOT);
    await h.create(E2);
    assert.equal(inserts().length, 4);
  });

  it('a type no zone offers is remembered too', async () => {
    for (const z of ZONES) h.fake.offerMachineTypes(z, [E2.ProviderType]);
    await failure(h.create(N2));
    assert.deepEqual(inserts(), ZONES);
    const err = await failure(h.create(N2));
    assert.equal(asCapacityError(err)?.instanceType, N2.ProviderType, String(err));
    assert.equal(inserts().length, 2);
  });

  it('one zone remembered: a create that would start there goes straight to the other', async () => {
    h.fake.failZone(ZONES[0], 'ZONE_RESOURCE_POOL_EXHAUSTED');
    await h.create(N2);
    assert.deepEqual(inserts(), ZONES);
    h.fake.clearFaults();
    // ZONES[1] fails for a reason of its own once: the next create starts in ZONES[0], still remembered full.
    h.fake.failNext('insert', { asyncError: 'INTERNAL_ERROR' });
    await failure(h.create(N2));
    await h.create(N2);
    assert.deepEqual(inserts().slice(2), [ZONES[1], ZONES[1]]);
    await clock.advance(PLACE_CAPACITY_TTL_MS);
    h.fake.failNext('insert', { asyncError: 'INTERNAL_ERROR' });
    await failure(h.create(N2));
    await h.create(N2);
    assert.deepEqual(inserts().slice(4), [ZONES[1], ZONES[0]], 'asked again once the memory expired');
  });
});
