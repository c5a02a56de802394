/**
 * Spot prices: fetched as the reference fetches them, only while spot
 * instances run (a listing that shows them, once per SpotPriceUpdateInterval),
 * and exposed per instance type and zone.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/clock/index.js';
import { wrapInstanceSet } from '../../../src/cloud/wrap.js';
import { normalizePriceHistory, SPOT_RETRY_AFTER_FAILURE_MS } from '../../../drivers/ec2/index.js';
import type { FakeEC2 } from '../../fixtures/ec2/server.js';
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

  it('fetches prices while spot instances run: at the listing that shows them, again once SpotPriceUpdateInterval has passed', async () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    fake.setSpotPrices([
      { instanceType: 'm5.large', availabilityZone: 'us-east-1a', price: '0.031', timestamp: new Date(t0 - 2 * HOUR) },
      { instanceType: 'm5.large', availabilityZone: 'us-east-1a', price: '0.034', timestamp: new Date(t0 - HOUR) },
      { instanceType: 'm5.large', availabilityZone: 'us-east-1b', price: '0.090', timestamp: new Date(t0 - HOUR) },
    ]);
    const { driver, ctx } = makeDriver(fake, { clock, params: fakeParams(fake, { SpotPriceUpdateInterval: '1h' }) });
    const list = () => driver.instances({ ArvadosInstanceSetID: ctx.instanceSetId });
    await list();
    assert.equal(spotCalls().length, 0, 'no spot instance yet: no call');

    const { tags, init } = createArgs(ctx.instanceSetId, SPOT.Name);
    const inst = await driver.create(SPOT, 'ami-1', tags, init, DISPATCH_KEY.public);
    const od = await driver.create(M5, 'ami-1', createArgs(ctx.instanceSetId).tags, init, DISPATCH_KEY.public);
    await list();
    assert.equal(spotCalls().length, 1);
    const call = spotCalls()[0].params;
    assert.equal(call['Filter.1.Name'], 'instance-type');
    assert.deepEqual(Object.keys(call).filter((k) => k.startsWith('Filter.1.Value.')), ['Filter.1.Value.1'], 'only the running spot types');
    assert.equal(call['Filter.1.Value.1'], 'm5.large');
    assert.equal(call['Filter.2.Value.1'], 'Linux/UNIX');
    assert.equal(new Date(call.StartTime).getTime(), t0 - 3 * HOUR, 'asks for three intervals of history');
    assert.deepEqual(inst.priceHistory!(SPOT), [
      { startTime: t0 - 2 * HOUR, price: 0.031 },
      { startTime: t0 - HOUR, price: 0.034 },
    ]);
    // An on-demand instance has no price history: its price is the configured one.
    assert.deepEqual(od.priceHistory!(M5), []);

    await clock.advance(HOUR / 2);
    await list();
    assert.equal(spotCalls().length, 1, 'fresh enough: no call');

    fake.setSpotPrices([{ instanceType: 'm5.large', availabilityZone: 'us-east-1a', price: '0.040', timestamp: new Date(t0 + 30 * 60_000) }]);
    await clock.advance(HOUR / 2 + 1000);
    const [listed] = (await list()).filter((i) => i.id === inst.id);
    assert.equal(spotCalls().length, 2);
    assert.deepEqual(
      listed.priceHistory!(SPOT).map((p) => p.price),
      [0.031, 0.034, 0.04],
    );

    // No spot instance left: no more calls, however long.
    await inst.destroy();
    await clock.advance(5 * HOUR);
    await list();
    assert.equal(spotCalls().length, 2);
    driver.stop();
  });

  it('fetches no spot prices without preemptible (spot) instances running, or with SpotPriceUpdateInterval 0', async () => {
    const clock = new ManualClock();
    // Preemptible types configured, but nothing of them running.
    const a = makeDriver(fake, { clock });
    // No preemptible types: on-demand instances only.
    const b = makeDriver(fake, { clock, cluster: ec2Cluster([M5, C5]) });
    await b.driver.create(M5, 'ami-1', createArgs(b.ctx.instanceSetId).tags, 'true', DISPATCH_KEY.public);
    // Spot instances running, but price tracking turned off.
    const c = makeDriver(fake, { clock, params: fakeParams(fake, { SpotPriceUpdateInterval: '0' }) });
    await c.driver.create(SPOT, 'ami-1', createArgs(c.ctx.instanceSetId, SPOT.Name).tags, 'true', DISPATCH_KEY.public);
    for (let i = 0; i < 3; i++) {
      for (const h of [a, b, c]) await h.driver.instances({ ArvadosInstanceSetID: h.ctx.instanceSetId });
      await clock.advance(24 * HOUR);
    }
    assert.equal(spotCalls().length, 0);
    for (const h of [a, b, c]) h.driver.stop();
  });

  it('a running spot type and zone EC2 has no price history for is not asked again at every listing, only once SpotPriceUpdateInterval has passed', async () => {
    const clock = new ManualClock();
    fake.setSpotPrices([]);
    const { driver, ctx } = makeDriver(fake, { clock, params: fakeParams(fake, { SpotPriceUpdateInterval: '1h' }) });
    const inst = await driver.create(SPOT, 'ami-1', createArgs(ctx.instanceSetId, SPOT.Name).tags, 'true', DISPATCH_KEY.public);
    const list = () => driver.instances({ ArvadosInstanceSetID: ctx.instanceSetId });
    await list();
    assert.equal(spotCalls().length, 1);
    assert.deepEqual(inst.priceHistory!(SPOT), []);
    for (let i = 0; i < 3; i++) {
      await clock.advance(HOUR / 10);
      await list();
    }
    assert.equal(spotCalls().length, 1, 'an empty answer is an answer: fresh for an interval');
    await clock.advance(HOUR);
    await list();
    assert.equal(spotCalls().length, 2);
    driver.stop();
  });

  it('after a failed fetch, a later listing retries, but not every listing', async () => {
    const clock = new ManualClock();
    fake.setSpotPrices([{ instanceType: 'm5.large', availabilityZone: 'us-east-1a', price: '0.03', timestamp: new Date(clock.now() - HOUR) }]);
    const { driver, ctx, logs } = makeDriver(fake, { clock });
    const inst = await driver.create(SPOT, 'ami-1', createArgs(ctx.instanceSetId, SPOT.Name).tags, 'true', DISPATCH_KEY.public);
    fake.failNext('DescribeSpotPriceHistory', 'UnauthorizedOperation', 'You are not authorized to perform this operation.');
    const list = () => driver.instances({ ArvadosInstanceSetID: ctx.instanceSetId });
    await list();
    await list();
    assert.equal(spotCalls().length, 1);
    assert.equal(logs.records().filter((r) => r.msg === 'error retrieving spot instance prices').length, 1);
    await clock.advance(SPOT_RETRY_AFTER_FAILURE_MS);
    await list();
    assert.equal(spotCalls().length, 2);
    assert.equal(inst.priceHistory!(SPOT).length, 1);
    driver.stop();
  });

  it('quotes a new preemptible VM the lowest current price among the zones it knows, scratch included; none for on-demand or unquoted types', async () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    fake.setSpotPrices([
      { instanceType: 'm5.large', availabilityZone: 'us-east-1a', price: '0.050', timestamp: new Date(t0 - 2 * HOUR) },
      { instanceType: 'm5.large', availabilityZone: 'us-east-1a', price: '0.045', timestamp: new Date(t0 - HOUR) },
      { instanceType: 'm5.large', availabilityZone: 'us-east-1b', price: '0.041', timestamp: new Date(t0 - 3 * HOUR + 1000) },
    ]);
    const { driver, ctx } = makeDriver(fake, { clock, params: fakeParams(fake, { EBSPrice: 0.72 }) });
    assert.equal(driver.spotPrice(SPOT), undefined, 'no spot instance has run: no quote');
    const { tags, init } = createArgs(ctx.instanceSetId, SPOT.Name);
    await driver.create(SPOT, 'ami-1', tags, init, DISPATCH_KEY.public);
    await driver.instances({ ArvadosInstanceSetID: ctx.instanceSetId });
    assert.equal(driver.spotPrice(SPOT), 0.041);
    const withScratch = { ...SPOT, AddedScratch: 10 * 2 ** 30 };
    assert.ok(Math.abs(driver.spotPrice(withScratch)! - (0.041 + (0.72 * 10) / 30 / 24)) < 1e-12);
    assert.equal(driver.spotPrice(M5), undefined, 'on-demand: its configured price is its price');
    assert.equal(driver.spotPrice({ ...SPOT, ProviderType: 'c5.large' }), undefined, 'a type without history');
    // The dispatcher's wrapper passes the quote through.
    const wrapped = wrapInstanceSet(driver, { clock, logger: ctx.logger, maxCloudOpsPerSecond: 0, resourceTags: {} });
    assert.equal(wrapped.spotPrice?.(SPOT), 0.041);
    driver.stop();
  });

  it('keeps the quotes of a spot type that no longer runs for 64 intervals, so its next VMs are still ordered by price, and forgets them after, at a fetch for another type', async () => {
    const clock = new ManualClock();
    const t0 = clock.now();
    fake.setSpotPrices([
      { instanceType: 'm5.large', availabilityZone: 'us-east-1a', price: '0.030', timestamp: new Date(t0 - HOUR) },
      { instanceType: 'c5.xlarge', availabilityZone: 'us-east-1a', price: '0.060', timestamp: new Date(t0 - HOUR) },
    ]);
    const { driver, ctx } = makeDriver(fake, { clock, params: fakeParams(fake, { SpotPriceUpdateInterval: '1h' }) });
    const list = () => driver.instances({ ArvadosInstanceSetID: ctx.instanceSetId });
    const m5Args = createArgs(ctx.instanceSetId, SPOT.Name);
    const m5 = await driver.create(SPOT, 'ami-1', m5Args.tags, m5Args.init, DISPATCH_KEY.public);
    await list();
    assert.equal(driver.spotPrice(SPOT), 0.03);
    await m5.destroy();
    // Another spot type runs on: its fetches are where stale series are pruned.
    const c5Spot: typeof SPOT = { ...SPOT, Name: 'c5xlarge.preemptible', ProviderType: 'c5.xlarge', Price: 0.1 };
    const c5Args = createArgs(ctx.instanceSetId, c5Spot.Name);
    await driver.create(c5Spot, 'ami-1', c5Args.tags, c5Args.init, DISPATCH_KEY.public);
    const before = spotCalls().length;
    await clock.advance(3 * HOUR);
    await list();
    assert.equal(spotCalls().length, before + 1, 'a fetch for the type still running');
    assert.equal(driver.spotPrice(SPOT), 0.03, 'the m5 quotes are kept: three intervals is not long enough to forget them');
    await clock.advance(61 * HOUR);
    await list();
    assert.equal(driver.spotPrice(SPOT), 0.03, 'exactly 64 intervals: still kept');
    await clock.advance(HOUR + 1);
    await list();
    assert.equal(driver.spotPrice(SPOT), undefined, 'past 64 intervals: forgotten');
    assert.equal(driver.spotPrice(c5Spot), 0.06, 'the type still running keeps its quote');
    driver.stop();
  });

  it('adds the scratch volume cost (EBSPrice per GiB-month) to each point', async () => {
    const clock = new ManualClock();
    fake.setSpotPrices([{ instanceType: 'm5.large', availabilityZone: 'us-east-1a', price: '0.03', timestamp: new Date(clock.now() - HOUR) }]);
    const { driver, ctx } = makeDriver(fake, { clock, params: fakeParams(fake, { EBSPrice: 0.72 }) });
    const withScratch = { ...SPOT, AddedScratch: 100 * 2 ** 30 };
    const { tags, init } = createArgs(ctx.instanceSetId, SPOT.Name);
    const inst = await driver.create(withScratch, 'ami-1', tags, init, DISPATCH_KEY.public);
    await driver.instances({ ArvadosInstanceSetID: ctx.instanceSetId });
    const [p] = inst.priceHistory!(withScratch);
    assert.ok(Math.abs(p.price - (0.03 + (0.72 * 100) / 30 / 24)) < 1e-12, String(p.price));
    driver.stop();
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
