/**
 * The lame cloud's zones, spot outages and per-type reclaim rates.
 */
import assert from 'node:assert/strict';
import { asCapacityError, isQuotaError, QuotaError } from '../../../src/cloud/errors.js';
import type { DriverContext } from '../../../src/cloud/types.js';
import { ManualClock } from '../../../src/clock/index.js';
import type { InstanceType } from '../../../src/config/types.js';
import { type LameInstance, lameDriver, type LameInstanceSet, LameParamsError, parseLameParams, resetLameClouds } from '../../../drivers/lame/index.js';
import { reclaimDelay } from '../../../drivers/lame/zones.js';
import { createArgs, DISPATCH_KEY, makeContext, SMALL } from './helpers.js';

const SPOT: InstanceType = { ...SMALL, Name: 'small.spot', Preemptible: true };
const HOUR = 3_600_000;

describe('lame cloud zones and spot outages', function () {
  this.timeout(20_000);
  let clock: ManualClock;
  let ctx: DriverContext;

  const driver = async (params: Record<string, unknown>): Promise<LameInstanceSet> =>
    (await lameDriver({ Transport: 'inprocess', MinBootTime: '10s', MaxBootTime: '10s', Seed: 7, ...params }, ctx)) as LameInstanceSet;

  const createVia = async (set: LameInstanceSet, type: InstanceType, zone?: string): Promise<LameInstance> => {
    const { tags, init } = createArgs(ctx.instanceSetId, type.Name);
    const vm = await set.cloud.createVM(type, 'lame-image', tags, init, DISPATCH_KEY.public, zone);
    return (await set.instances({})).find((i) => i.id === vm.id) as LameInstance;
  };

  beforeEach(() => {
    clock = new ManualClock();
    ctx = makeContext({ clock });
  });

  afterEach(async () => {
    await resetLameClouds();
  });

  it('validates Zones, SpotOutages and ReclaimRates, naming the parameter', () => {
    assert.deepEqual(parseLameParams({}).Zones, []);
    assert.throws(() => parseLameParams({ Zones: ['a', 'a'] }), (e: unknown) => e instanceof LameParamsError && /DriverParameters\.Zones/.test(e.message));
    assert.throws(() => parseLameParams({ SpotOutages: [{ ProviderType: 'x', From: '2h', Until: '1h' }] }), /SpotOutages: \[0\]\.Until: must be after From/);
    assert.throws(() => parseLameParams({ SpotOutages: [{ ProviderType: 'x', From: '1h', Until: '1h' }] }), /SpotOutages: \[0\]\.Until: must be after From/);
    assert.throws(() => parseLameParams({ SpotOutages: [{ ProviderType: 'x', Until: '1h', Zone: 'b' }], Zones: ['a'] }), /SpotOutages\[0\]\.Zone/);
    assert.throws(() => parseLameParams({ SpotOutages: [{ ProviderType: 'x', Until: '1h', When: 1 }] }), /\[0\]\.When: unknown field/);
    assert.throws(() => parseLameParams({ ReclaimRates: { x: 2 } }), /DriverParameters\.ReclaimRates: x: expected a number from 0 to 1/);
    assert.throws(() => parseLameParams({ ReclaimRates: { 'x@b': 0.1 }, Zones: ['a'] }), /ReclaimRates\.x@b/);
    const p = parseLameParams({ Zones: ['a', 'b'], SpotOutages: [{ ProviderType: 'x', Zone: 'a', From: '1h', Until: '2h' }], ReclaimRates: { 'x@a': 0.5, x: 0.1 } });
    assert.deepEqual(p.SpotOutages, [{ ProviderType: 'x', Zone: 'a', From: HOUR, Until: 2 * HOUR }]);
  });

  it('without Zones, instances carry no zone; with them, creates go round robin and instances carry theirs', async () => {
    const plain = await driver({ CloudName: 'plain' });
    assert.equal((await createVia(plain, SMALL)).zone, undefined);
    const set = await driver({ CloudName: 'zoned', Zones: ['a', 'b', 'c'] });
    const zones = [];
    for (let i = 0; i < 4; i++) zones.push((await createVia(set, SMALL)).zone);
    assert.deepEqual(zones, ['a', 'b', 'c', 'a']);
    assert.equal((await createVia(set, SMALL, 'c')).zone, 'c');
    await assert.rejects(createVia(set, SMALL, 'z'), /no zone "z"/);
  });

  it('a spot outage fails creates of the preemptible type only, during its period, in its zone only', async () => {
    const set = await driver({ Zones: ['a', 'b'], SpotOutages: [{ ProviderType: SPOT.ProviderType, Zone: 'a', From: '1h', Until: '2h' }, { ProviderType: SPOT.ProviderType, Zone: 'b', From: '90m', Until: '2h' }] });
    assert.equal((await createVia(set, SPOT, 'a')).zone, 'a');
    await clock.advance(HOUR);
    const err = await createVia(set, SPOT, 'a').then(
      () => undefined,
      (e: unknown) => asCapacityError(e),
    );
    assert.equal(err?.instanceType, SPOT.ProviderType);
    assert.equal((await createVia(set, SMALL, 'a')).zone, 'a', 'on-demand capacity is not out');
    assert.equal((await createVia(set, SPOT)).zone, 'b', 'round robin skips the zone that is out');
    await clock.advance(HOUR / 2);
    await assert.rejects(createVia(set, SPOT), (e: unknown) => asCapacityError(e)?.instanceType === SPOT.ProviderType && /every zone/.test(String(e)));
    await clock.advance(HOUR / 2);
    assert.ok((await createVia(set, SPOT, 'a')).zone === 'a', 'the outage ends at Until');
  });

  it('ReclaimRates: a spot VM of a rated type (zone rate first) is reclaimed; on-demand ones and unrated types are not', async () => {
    const set = await driver({ Zones: ['a', 'b'], ReclaimRates: { [`${SPOT.ProviderType}@a`]: 1, [SPOT.ProviderType]: 0 } });
    const inA = await createVia(set, SPOT, 'a');
    const inB = await createVia(set, SPOT, 'b');
    const onDemand = await createVia(set, SMALL, 'a');
    await clock.advance(11_000);
    const left = set.cloud.listVMs().map((vm) => vm.id);
    assert.ok(!left.includes(inA.id), 'rate 1 in zone a: reclaimed at boot');
    assert.ok(left.includes(inB.id) && left.includes(onDemand.id));
    assert.equal(set.cloud.reclaimed, 1);
  });

  it('the instance set tries the next zone on a capacity error and skips zones remembered out until the memory expires', async () => {
    const set = await driver({ Zones: ['a', 'b'], SpotOutages: [{ ProviderType: SPOT.ProviderType, Zone: 'a', Until: '1h' }] });
    const { tags, init } = createArgs(ctx.instanceSetId, SPOT.Name);
    const make = (type: InstanceType): Promise<string | undefined> => set.create(type, 'lame-image', tags, init, DISPATCH_KEY.public).then((i) => i.zone);
    assert.equal(await make(SPOT), 'b', 'zone a is out: the next zone');
    assert.equal(set.cloud.callCounts().create, 2);
    assert.ok(set.placeCapacity.isOut(SPOT, 'a') && !set.placeCapacity.isOut(SMALL, 'a'));
    assert.equal(await make(SPOT), 'b', 'zone a is skipped while remembered');
    assert.equal(set.cloud.callCounts().create, 3, 'without asking the cloud about zone a');
    assert.equal(await make(SMALL), 'a', 'on-demand is another market');
    await clock.advance(60_000);
    assert.ok(!set.placeCapacity.isOut(SPOT, 'a'));
    // The round robin is per provider type: the on-demand create moved it on to b.
    assert.equal(await make(SPOT), 'b');
    assert.equal(await make(SPOT), 'b');
    assert.equal(set.cloud.callCounts().create, 7, 'zone a asked again once the memory expired');
    set.cloud.configure({ SpotOutages: [{ ProviderType: SPOT.ProviderType, From: 0, Until: 2 * HOUR }] });
    await clock.advance(60_000);
    await assert.rejects(make(SPOT), (e: unknown) => asCapacityError(e)?.instanceType === SPOT.ProviderType);
    const calls = set.cloud.callCounts().create;
    await assert.rejects(make(SPOT), (e: unknown) => asCapacityError(e)?.instanceType === SPOT.ProviderType && /remembered/.test(String(e)));
    assert.equal(set.cloud.callCounts().create, calls, 'every zone remembered out: no call');
  });

  it('the instance set passes any other create error through at once, without trying the next zone or remembering the zone out', async () => {
    const set = await driver({ Zones: ['a', 'b'] });
    const { tags, init } = createArgs(ctx.instanceSetId, SPOT.Name);
    set.cloud.failNextCreate(new QuotaError('over quota'));
    await assert.rejects(set.create(SPOT, 'lame-image', tags, init, DISPATCH_KEY.public), (e: unknown) => isQuotaError(e));
    assert.equal(set.cloud.callCounts().create, 1);
    assert.ok(!set.placeCapacity.isOut(SPOT, 'a'), 'zone a is not remembered out');
    set.cloud.failNextCreate(new Error('provider hiccup'));
    await assert.rejects(set.create(SPOT, 'lame-image', tags, init, DISPATCH_KEY.public), /provider hiccup/);
    assert.equal(set.cloud.callCounts().create, 2);
    assert.equal((await set.create(SPOT, 'lame-image', tags, init, DISPATCH_KEY.public)).zone, 'a', 'the failures did not move the round robin');
  });

  it('reclaimDelay makes the chance of a reclaim within an hour equal to the rate', () => {
    assert.equal(reclaimDelay(0, 0.5), Infinity);
    assert.equal(reclaimDelay(1, 0.5), 0);
    // u is the quantile: at u = rate the reclaim comes exactly one hour in.
    assert.ok(Math.abs(reclaimDelay(0.3, 0.3) - HOUR) < 1e-6);
    assert.ok(reclaimDelay(0.3, 0.29) < HOUR && reclaimDelay(0.3, 0.31) > HOUR);
  });
});
