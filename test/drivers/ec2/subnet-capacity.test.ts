/**
 * The ec2 driver remembers which subnets had no capacity for a type and
 * market (InsufficientInstanceCapacity) and skips them until the memory
 * expires; with every subnet remembered, it fails with the type's
 * CapacityError without calling EC2.
 */
import assert from 'node:assert/strict';
import { asCapacityError } from '../../../src/cloud/errors.js';
import { PLACE_CAPACITY_TTL_MS } from '../../../src/cloud/place-capacity.js';
import { ManualClock } from '../../../src/clock/index.js';
import type { FakeEC2 } from '../../fixtures/ec2/server.js';
import { createArgs, DISPATCH_KEY, fakeParams, M5, makeDriver, SPOT, startFake } from './helpers.js';

const IMAGE = 'ami-0123456789abcdef0';

describe('ec2 driver: subnets out of capacity are remembered', function () {
  let fake: FakeEC2;
  let clock: ManualClock;
  beforeEach(async () => {
    fake = await startFake();
    clock = new ManualClock(Date.now());
  });
  afterEach(async () => {
    await fake.stop();
  });

  const subnetsTried = (): unknown[] => fake.calls().filter((c) => c.action === 'RunInstances').map((c) => c.params['NetworkInterface.1.SubnetId']);

  it('skips a subnet that had no capacity for the type and market, until the memory expires', async () => {
    const { driver, ctx } = makeDriver(fake, { clock, params: fakeParams(fake, { SubnetID: ['subnet-a', 'subnet-b'] }) });
    const { tags, init } = createArgs(ctx.instanceSetId);
    fake.failSubnet('subnet-a', 'InsufficientInstanceCapacity');
    await driver.create(SPOT, IMAGE, tags, init, DISPATCH_KEY.public);
    assert.deepEqual(subnetsTried(), ['subnet-a', 'subnet-b']);
    assert.ok(driver.placeCapacity.isOut(SPOT, 'subnet-a'));
    assert.ok(!driver.placeCapacity.isOut(M5, 'subnet-a'), 'on-demand capacity of the same type is another market');
    fake.clearFaults();
    // Start the next create on subnet-a again: it is skipped, not asked.
    (driver as unknown as { subnetIndex: number }).subnetIndex = 0;
    await driver.create(SPOT, IMAGE, tags, init, DISPATCH_KEY.public);
    assert.deepEqual(subnetsTried(), ['subnet-a', 'subnet-b', 'subnet-b']);
    await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    assert.equal(subnetsTried().length, 4, 'the on-demand create is not held back by the spot shortage');
    await clock.advance(PLACE_CAPACITY_TTL_MS);
    (driver as unknown as { subnetIndex: number }).subnetIndex = 0;
    await driver.create(SPOT, IMAGE, tags, init, DISPATCH_KEY.public);
    assert.equal(subnetsTried().at(-1), 'subnet-a', 'tried again once the memory expired');
    driver.stop();
  });

  it('with every subnet remembered out, fails with the type\'s CapacityError and calls nothing', async () => {
    const { driver, ctx } = makeDriver(fake, { clock, params: fakeParams(fake, { SubnetID: ['subnet-a', 'subnet-b'] }) });
    const { tags, init } = createArgs(ctx.instanceSetId);
    fake.failSubnet('subnet-a', 'InsufficientInstanceCapacity');
    fake.failSubnet('subnet-b', 'InsufficientInstanceCapacity');
    const first = await driver.create(SPOT, IMAGE, tags, init, DISPATCH_KEY.public).catch((e: unknown) => e);
    assert.equal(asCapacityError(first)?.instanceType, 'm5.large');
    assert.equal(subnetsTried().length, 2);
    const again = await driver.create(SPOT, IMAGE, tags, init, DISPATCH_KEY.public).catch((e: unknown) => e);
    assert.equal(asCapacityError(again)?.instanceType, 'm5.large', String(again));
    assert.match(String(again), /every subnet is out of capacity/);
    assert.equal(subnetsTried().length, 2, 'no RunInstances while every subnet is remembered out');
    driver.stop();
  });

  it('a subnet error other than capacity is not remembered', async () => {
    const { driver, ctx } = makeDriver(fake, { clock, params: fakeParams(fake, { SubnetID: ['subnet-a', 'subnet-b'] }) });
    const { tags, init } = createArgs(ctx.instanceSetId);
    fake.failSubnet('subnet-a', 'InsufficientFreeAddressesInSubnet');
    await driver.create(SPOT, IMAGE, tags, init, DISPATCH_KEY.public);
    assert.ok(!driver.placeCapacity.isOut(SPOT, 'subnet-a'));
    driver.stop();
  });
});
