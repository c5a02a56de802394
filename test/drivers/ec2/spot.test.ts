/** Spot prices: fetched on the injected clock for the preemptible types, exposed per instance type and zone. */
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/clock/index.js';
import { normalizePriceHistory } from '../../../drivers/ec2/index.js';
import type { FakeEC2 } from '../../fixtures/ec2/server.js';
import { waitFor } from '../../cloud/conformance.js';
import { C5, createArgs, DISPATCH_KEY, ec2Cluster, fakeParams, M5, makeDriver, SPOT, startFake } from './helpers.js';

const HOUR = 3600_000;

describe('ec2 driver: spot prices', function () {
  let fake: FakeEC2;
  beforeEach(async () => {
    fake = await startFake();
  });
  afterEach(async () => {
    await fake.stop();
  });

  const spotCalls = () => fake.calls().filter((c) => c.action === 'DescribeSpotPriceHistory');

  it('fetches history for the preemptible types every SpotPriceUpdateInterval, and gives it per instance, oldest first', async () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    fake.setSpotPrices([
      { instanceType: 'm5.large', availabilityZone: 'us-east-1a', price: '0.031', timestamp: new Date(t0 - 2 * HOUR) },
      { instanceType: 'm5.large', availabilityZone: 'us-east-1a', price: '0.034', timestamp: new Date(t0 - HOUR) },
      { instanceType: 'm5.large', availabilityZone: 'us-east-1b', price: '0.090', timestamp: new Date(t0 - HOUR) },
    ]);
    const { driver, ctx } = makeDriver(fake, { clock, params: fakeParams(fake, { SpotPriceUpdateInterval: '1h' }) });
    // The constructor starts the first fetch; it completes on its own.
    await waitFor('the first spot price fetch', () => driver.spot.history('m5.large', 'us-east-1a').length === 2);
    assert.equal(spotCalls().length, 1);
    const call = spotCalls()[0].params;
    assert.equal(call['Filter.1.Name'], 'instance-type');
    assert.equal(call['Filter.1.Value.1'], 'm5.large');
    assert.equal(call['Filter.2.Value.1'], 'Linux/UNIX');
    assert.equal(new Date(call.StartTime).getTime(), t0 - 3 * HOUR, 'asks for three intervals of history');

    const { tags, init } = createArgs(ctx.instanceSetId, SPOT.Name);
    const inst = await driver.create(SPOT, 'ami-1', tags, init, DISPATCH_KEY.public);
    assert.deepEqual(inst.priceHistory!(SPOT), [
      { startTime: t0 - 2 * HOUR, price: 0.031 },
      { startTime: t0 - HOUR, price: 0.034 },
    ]);
    const [listed] = await driver.instances({ ArvadosInstanceSetID: ctx.instanceSetId });
    assert.equal(listed.priceHistory!(SPOT).length, 2);

    // An on-demand instance has no price history: its price is the configured one.
    const od = await driver.create(M5, 'ami-1', createArgs(ctx.instanceSetId).tags, init, DISPATCH_KEY.public);
    assert.deepEqual(od.priceHistory!(M5), []);

    fake.setSpotPrices([{ instanceType: 'm5.large', availabilityZone: 'us-east-1a', price: '0.040', timestamp: new Date(t0 + 30 * 60_000) }]);
    await clock.advance(HOUR);
    await waitFor('the second fetch', () => inst.priceHistory!(SPOT).length === 3);
    assert.equal(spotCalls().length, 2);
    assert.deepEqual(
      inst.priceHistory!(SPOT).map((p) => p.price),
      [0.031, 0.034, 0.04],
    );
    driver.stop();
    await clock.advance(HOUR);
    assert.equal(spotCalls().length, 2, 'stop() stops the refresh timer');
  });

  it('adds the scratch volume cost (EBSPrice per GiB-month) to each point', async () => {
    const clock = new ManualClock();
    fake.setSpotPrices([{ instanceType: 'm5.large', availabilityZone: 'us-east-1a', price: '0.03', timestamp: new Date(clock.now() - HOUR) }]);
    const { driver, ctx } = makeDriver(fake, { clock, params: fakeParams(fake, { EBSPrice: 0.72 }) });
    await driver.spot.refresh();
    const withScratch = { ...SPOT, AddedScratch: 100 * 2 ** 30 };
    const { tags, init } = createArgs(ctx.instanceSetId, SPOT.Name);
    const inst = await driver.create(withScratch, 'ami-1', tags, init, DISPATCH_KEY.public);
    const [p] = inst.priceHistory!(withScratch);
    assert.ok(Math.abs(p.price - (0.03 + (0.72 * 100) / 30 / 24)) < 1e-12, String(p.price));
    driver.stop();
  });

  it('makes no spot price calls without preemptible types, or with SpotPriceUpdateInterval 0', async () => {
    const clock = new ManualClock();
    const a = makeDriver(fake, { clock, cluster: ec2Cluster([M5, C5]) });
    const b = makeDriver(fake, { clock, params: fakeParams(fake, { SpotPriceUpdateInterval: '0' }) });
    await clock.advance(48 * HOUR);
    assert.equal(spotCalls().length, 0);
    a.driver.stop();
    b.driver.stop();
  });

  it('normalizes history: oldest first, one point per change', () => {
    assert.deepEqual(
      normalizePriceHistory([
        { startTime: 3, price: 2 },
        { startTime: 1, price: 1 },
        { startTime: 2, price: 1 },
        { startTime: 3, price: 2 },
        { startTime: 4, price: 3 },
      ]),
      [
        { startTime: 1, price: 1 },
        { startTime: 3, price: 2 },
        { startTime: 4, price: 3 },
      ],
    );
  });
});
