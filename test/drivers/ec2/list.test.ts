/** Listing: tag and state filters, every page, the instance fields; destroy. */
import assert from 'node:assert/strict';
import type { FakeEC2 } from '../../fixtures/ec2/server.js';
import { C5, createArgs, DISPATCH_KEY, fakeParams, M5, makeDriver, SPOT, startFake } from './helpers.js';

const IMAGE = 'ami-0123456789abcdef0';

describe('ec2 driver: instances()', function () {
  let fake: FakeEC2;
  beforeEach(async () => {
    fake = await startFake({ pageSize: 3 });
  });
  afterEach(async () => {
    await fake.stop();
  });

  it('follows NextToken past the first page and returns every instance', async () => {
    const { driver, ctx } = makeDriver(fake);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) {
      const { tags, init } = createArgs(ctx.instanceSetId);
      ids.push((await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public)).id);
    }
    const listed = await driver.instances({ ArvadosInstanceSetID: ctx.instanceSetId });
    assert.deepEqual(listed.map((i) => i.id).sort(), ids.sort());
    const describes = fake.calls().filter((c) => c.action === 'DescribeInstances');
    assert.ok(describes.length >= 3, `expected several pages, got ${describes.length} requests`);
    assert.ok(describes.slice(1).every((c) => c.params.NextToken), 'later pages carry NextToken');
    driver.stop();
  });

  it('filters by tag and live state in the request, and leaves out terminated instances', async () => {
    const { driver, ctx } = makeDriver(fake);
    const { tags, init } = createArgs(ctx.instanceSetId);
    const keep = await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    const gone = await driver.create(C5, IMAGE, tags, init, DISPATCH_KEY.public);
    await gone.destroy();
    const listed = await driver.instances({ ArvadosInstanceSetID: ctx.instanceSetId });
    assert.deepEqual(listed.map((i) => i.id), [keep.id]);
    const params = fake.calls().filter((c) => c.action === 'DescribeInstances').at(-1)!.params;
    const filters = new Map<string, string[]>();
    for (const [k, v] of Object.entries(params)) {
      const m = /^Filter\.(\d+)\.Name$/.exec(k);
      if (m) filters.set(v, Object.entries(params).filter(([kk]) => kk.startsWith(`Filter.${m[1]}.Value.`)).map(([, vv]) => vv));
    }
    assert.deepEqual(filters.get(`tag:ArvadosInstanceSetID`), [ctx.instanceSetId]);
    const states = filters.get('instance-state-name') ?? [];
    assert.ok(!states.includes('terminated') && !states.includes('shutting-down') && states.includes('running'), states.join(','));
    const inst = listed[0];
    const rec = fake.instances().find((i) => i.id === keep.id)!;
    assert.equal(inst.providerType, 'm5.large');
    assert.equal(inst.address, rec.privateIp);
    assert.equal(inst.remoteUser, 'crunch');
    assert.deepEqual(inst.tags, tags);
    driver.stop();
  });

  it('uses AdminUsername as the remote user', async () => {
    const { driver, ctx } = makeDriver(fake, { params: fakeParams(fake, { AdminUsername: 'admin' }) });
    const { tags, init } = createArgs(ctx.instanceSetId);
    await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    const [inst] = await driver.instances({ ArvadosInstanceSetID: ctx.instanceSetId });
    assert.equal(inst.remoteUser, 'admin');
    driver.stop();
  });

  it('destroying an instance EC2 no longer knows is not an error', async () => {
    const { driver, ctx } = makeDriver(fake);
    const { tags, init } = createArgs(ctx.instanceSetId);
    const inst = await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    fake.failNext('TerminateInstances', 'InvalidInstanceID.NotFound', `The instance ID '${inst.id}' does not exist`);
    await inst.destroy();
    fake.failNext('TerminateInstances', 'UnauthorizedOperation', 'no');
    await assert.rejects(inst.destroy(), /no/);
    driver.stop();
  });

  it('verifyHostKey is not implemented (the pool uses the InstanceSecret check)', async () => {
    const { driver, ctx } = makeDriver(fake);
    const { tags, init } = createArgs(ctx.instanceSetId);
    const inst = await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    await assert.rejects(inst.verifyHostKey(Buffer.from('key'), undefined as never), { name: 'HostKeyVerificationNotImplemented' });
    driver.stop();
  });

  it('a spot instance EC2 stopped to take it back is listed as reclaimed (state reason); one it terminates leaves the list; others are not', async () => {
    const { driver, ctx } = makeDriver(fake);
    const { tags, init } = createArgs(ctx.instanceSetId, SPOT.Name);
    const stopped = await driver.create(SPOT, IMAGE, tags, init, DISPATCH_KEY.public);
    const terminated = await driver.create(SPOT, IMAGE, tags, init, DISPATCH_KEY.public);
    const fine = await driver.create(SPOT, IMAGE, tags, init, DISPATCH_KEY.public);
    const onDemand = await driver.create(M5, IMAGE, createArgs(ctx.instanceSetId).tags, init, DISPATCH_KEY.public);
    fake.interruptSpot(stopped.id, 'stop');
    fake.interruptSpot(terminated.id, 'terminate');
    const listed = await driver.instances({ ArvadosInstanceSetID: ctx.instanceSetId });
    const byId = new Map(listed.map((i) => [i.id, i]));
    assert.equal(byId.get(stopped.id)?.reclaimed, true);
    assert.equal(byId.has(terminated.id), false, 'shutting-down: gone from the list, which the pool takes as a reclaim of a spot VM');
    assert.equal(byId.get(fine.id)?.reclaimed, undefined);
    assert.equal(byId.get(onDemand.id)?.reclaimed, undefined);
    assert.throws(() => fake.interruptSpot(onDemand.id), /not a spot instance/);
    driver.stop();
  });
});

describe('ec2 driver: setTags', function () {
  let fake: FakeEC2;
  beforeEach(async () => {
    fake = await startFake();
  });
  afterEach(async () => {
    await fake.stop();
  });

  it('writes the whole set with CreateTags, and needs no DeleteTags when no key is dropped (how the pool calls it)', async () => {
    const { driver, ctx } = makeDriver(fake);
    const { tags, init } = createArgs(ctx.instanceSetId);
    const inst = await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    await inst.setTags({ ...tags, ArvadosIdleBehavior: 'drain' });
    const actions = fake.calls().map((c) => c.action);
    assert.ok(actions.includes('CreateTags') && !actions.includes('DeleteTags'));
    assert.equal(fake.instances()[0].tags.ArvadosIdleBehavior, 'drain');
    assert.equal(inst.tags.ArvadosIdleBehavior, 'drain');
    const [listed] = await driver.instances({ ArvadosInstanceSetID: ctx.instanceSetId });
    assert.deepEqual(listed.tags, { ...tags, ArvadosIdleBehavior: 'drain' });
    driver.stop();
  });

  it('deletes the keys the new set drops (our contract replaces; the reference only adds)', async () => {
    const { driver, ctx } = makeDriver(fake);
    const { tags, init } = createArgs(ctx.instanceSetId);
    const inst = await driver.create(M5, IMAGE, { ...tags, Extra: 'x' }, init, DISPATCH_KEY.public);
    await inst.setTags(tags);
    const del = fake.calls().find((c) => c.action === 'DeleteTags');
    assert.ok(del, 'DeleteTags sent');
    assert.equal(del.params['ResourceId.1'], inst.id);
    assert.equal(del.params['Tag.1.Key'], 'Extra');
    const [listed] = await driver.instances({ ArvadosInstanceSetID: ctx.instanceSetId });
    assert.deepEqual(listed.tags, tags);
    driver.stop();
  });
});
