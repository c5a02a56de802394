/**
 * What the ec2 driver puts in RunInstances, read back from the fake
 * endpoint's records: network, metadata, shutdown, user data, tags, spot
 * options, the scratch volume, the key pair, and the ClientToken across our
 * own retries.
 */
import assert from 'node:assert/strict';
import { KEY_NAME_PREFIX, keyFingerprints, parsePublicKey } from '../../../drivers/ec2/index.js';
import type { FakeEC2 } from '../../fixtures/ec2/server.js';
import { systemClock } from '../../../src/clock/index.js';
import { createArgs, DISPATCH_KEY, fakeParams, M5, makeDriver, SCRATCH, SPOT, startFake } from './helpers.js';

const IMAGE = 'ami-0123456789abcdef0';

describe('ec2 driver: RunInstances request', function () {
  let fake: FakeEC2;
  beforeEach(async () => {
    fake = await startFake();
  });
  afterEach(async () => {
    await fake.stop();
  });

  it('asks for IMDSv2, no public IP, terminate on shutdown, the groups, subnet, tags and user data', async () => {
    const { driver, ctx } = makeDriver(fake);
    const { tags, init } = createArgs(ctx.instanceSetId);
    const inst = await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    const [rec] = fake.instances();
    assert.equal(rec.id, inst.id);
    assert.equal(rec.type, 'm5.large');
    assert.equal(rec.imageId, IMAGE);
    assert.deepEqual(rec.metadataOptions, { httpEndpoint: 'enabled', httpTokens: 'required' });
    assert.equal(rec.networkInterfaces?.length, 1);
    const nic = rec.networkInterfaces![0];
    assert.equal(nic.associatePublicIpAddress, false);
    assert.equal(nic.deviceIndex, 0);
    assert.equal(nic.subnetId, 'subnet-a');
    assert.deepEqual(nic.securityGroupIds, ['sg-0001']);
    assert.equal(rec.shutdownBehavior, 'terminate');
    assert.equal(rec.userData, `#!/bin/sh\n${init}\n`);
    assert.deepEqual(rec.tags, tags);
    assert.equal(rec.spot, undefined, 'on-demand type: no market options');
    assert.deepEqual(rec.blockDevices, [], 'no scratch: no extra volume');
    assert.equal(rec.iamInstanceProfile, undefined);
    assert.equal(inst.remoteUser, 'crunch');
    assert.equal(inst.address, rec.privateIp);
    driver.stop();
  });

  it('tags volumes as the reference does: one TagSpecification, for the instance, none for its volumes', async () => {
    const { driver, ctx } = makeDriver(fake);
    const { tags, init } = createArgs(ctx.instanceSetId, SCRATCH.Name);
    await driver.create(SCRATCH, IMAGE, tags, init, DISPATCH_KEY.public);
    const run = fake.calls().find((c) => c.action === 'RunInstances')!;
    const specs = Object.entries(run.params).filter(([k]) => /^TagSpecification\.\d+\.ResourceType$/.test(k));
    assert.deepEqual(specs, [['TagSpecification.1.ResourceType', 'instance']]);
    const [rec] = fake.instances();
    assert.deepEqual(rec.tags, tags);
    assert.deepEqual(rec.blockDevices[0].tags, {}, 'the scratch volume gets no tags');
    driver.stop();
  });

  it('requests a one-time spot instance for a preemptible type', async () => {
    const { driver, ctx } = makeDriver(fake);
    const { tags, init } = createArgs(ctx.instanceSetId, SPOT.Name);
    await driver.create(SPOT, IMAGE, tags, init, DISPATCH_KEY.public);
    const [rec] = fake.instances();
    assert.deepEqual(rec.spot, { maxPrice: '0.05', spotInstanceType: 'one-time' });
    const run = fake.calls().find((c) => c.action === 'RunInstances')!;
    assert.equal(run.params['InstanceMarketOptions.MarketType'], 'spot');
    assert.equal(run.params['InstanceMarketOptions.SpotOptions.InstanceInterruptionBehavior'], 'terminate');
    driver.stop();
  });

  it('adds a scratch EBS volume of the rounded-up size and configured type for AddedScratch', async () => {
    const { driver, ctx } = makeDriver(fake, { params: fakeParams(fake, { EBSVolumeType: 'gp3' }) });
    const { tags, init } = createArgs(ctx.instanceSetId, SCRATCH.Name);
    await driver.create(SCRATCH, IMAGE, tags, init, DISPATCH_KEY.public);
    const [rec] = fake.instances();
    assert.equal(rec.blockDevices.length, 1);
    const vol = rec.blockDevices[0];
    assert.equal(vol.deviceName, '/dev/xvdt');
    assert.equal(vol.volumeSize, 51, '50 GiB + 1 byte rounds up to 51 GiB');
    assert.equal(vol.volumeType, 'gp3');
    assert.equal(vol.deleteOnTermination, true);
    driver.stop();
  });

  it('passes IAMInstanceProfile by name, or by ARN when it is one', async () => {
    for (const [profile, want] of [
      ['crunch-role', { name: 'crunch-role', arn: undefined }],
      ['arn:aws:iam::123456789012:instance-profile/crunch', { name: undefined, arn: 'arn:aws:iam::123456789012:instance-profile/crunch' }],
    ] as const) {
      const f = await startFake();
      const { driver, ctx } = makeDriver(f, { params: fakeParams(f, { IAMInstanceProfile: profile }) });
      const { tags, init } = createArgs(ctx.instanceSetId);
      await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
      assert.deepEqual(f.instances()[0].iamInstanceProfile, want);
      driver.stop();
      await f.stop();
    }
  });

  it('sizes the scratch volume as AddedScratch in whole GiB, rounded up: any AddedScratch gets one, a whole number of GiB is not rounded', async () => {
    for (const [added, want] of [[1, 1], [2 ** 30, 1], [50 * 2 ** 30, 50]]) {
      const f = await startFake();
      const { driver, ctx } = makeDriver(f);
      const { tags, init } = createArgs(ctx.instanceSetId, SCRATCH.Name);
      await driver.create({ ...SCRATCH, AddedScratch: added }, IMAGE, tags, init, DISPATCH_KEY.public);
      assert.deepEqual(f.instances()[0].blockDevices.map((b) => b.volumeSize), [want], `AddedScratch ${added}`);
      driver.stop();
      await f.stop();
    }
  });

  it('says DeleteOnTermination: true for the scratch volume and the network interface, as the reference, so neither outlives the VM', async () => {
    const { driver, ctx } = makeDriver(fake);
    const { tags, init } = createArgs(ctx.instanceSetId, SCRATCH.Name);
    await driver.create(SCRATCH, IMAGE, tags, init, DISPATCH_KEY.public);
    const run = fake.calls().find((c) => c.action === 'RunInstances')!;
    assert.equal(run.params['BlockDeviceMapping.1.Ebs.DeleteOnTermination'], 'true');
    assert.equal(run.params['NetworkInterface.1.DeleteOnTermination'], 'true');
    driver.stop();
  });

  it('offers the configured Price as MaxPrice, every digit of it (the reference writes it with %v)', async () => {
    const { driver, ctx } = makeDriver(fake);
    const { tags, init } = createArgs(ctx.instanceSetId, SPOT.Name);
    await driver.create({ ...SPOT, Price: 0.1234 }, IMAGE, tags, init, DISPATCH_KEY.public);
    assert.equal(fake.instances()[0].spot?.maxPrice, '0.1234');
    driver.stop();
  });
});

describe('ec2 driver: key pair', function () {
  let fake: FakeEC2;
  beforeEach(async () => {
    fake = await startFake();
  });
  afterEach(async () => {
    await fake.stop();
  });

  it('imports the key once for several (concurrent) creates, and a new driver finds it by fingerprint', async () => {
    const a = makeDriver(fake);
    const args = () => createArgs(a.ctx.instanceSetId);
    await Promise.all([0, 1, 2].map(() => a.driver.create(M5, IMAGE, args().tags, args().init, DISPATCH_KEY.public)));
    await a.driver.create(M5, IMAGE, args().tags, args().init, DISPATCH_KEY.public);
    const count = (action: string) => fake.calls().filter((c) => c.action === action).length;
    assert.equal(count('ImportKeyPair'), 1);
    assert.equal(count('DescribeKeyPairs'), 1);
    const pairs = fake.keyPairs();
    assert.equal(pairs.length, 1);
    // Named as the reference names it, so each finds the other's even by name.
    assert.equal(pairs[0].name, KEY_NAME_PREFIX + keyFingerprints(parsePublicKey(DISPATCH_KEY.public))[0]);
    for (const rec of fake.instances()) assert.equal(rec.keyName, pairs[0].name);
    // The describe searched by fingerprint, including the form the cloud uses.
    const describe = fake.calls().find((c) => c.action === 'DescribeKeyPairs')!;
    assert.equal(describe.params['Filter.1.Name'], 'fingerprint');
    assert.ok(Object.values(describe.params).includes(pairs[0].fingerprint));
    a.driver.stop();

    const b = makeDriver(fake);
    await b.driver.create(M5, IMAGE, args().tags, args().init, DISPATCH_KEY.public);
    assert.equal(count('ImportKeyPair'), 1, 'the second driver imported nothing');
    assert.equal(count('DescribeKeyPairs'), 2);
    assert.equal(fake.instances().at(-1)!.keyName, pairs[0].name);
    b.driver.stop();
  });

  it('a failed lookup is not remembered', async () => {
    const { driver, ctx } = makeDriver(fake);
    const { tags, init } = createArgs(ctx.instanceSetId);
    fake.failNext('DescribeKeyPairs', 'InternalError', 'boom', 500);
    await assert.rejects(driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public));
    await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    assert.equal(fake.calls().filter((c) => c.action === 'ImportKeyPair').length, 1);
    driver.stop();
  });

  it('imports the key again after someone deleted the pair while it ran (one create fails, the next works)', async () => {
    const { driver, ctx } = makeDriver(fake);
    const { tags, init } = createArgs(ctx.instanceSetId);
    await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    const [pair] = fake.keyPairs();
    assert.equal(fake.deleteKeyPair(pair.name), true);
    const err = await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public).catch((e: unknown) => e);
    assert.match(String(err), /InvalidKeyPair\.NotFound|does not exist/);
    await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    assert.equal(fake.calls().filter((c) => c.action === 'ImportKeyPair').length, 2);
    assert.equal(fake.instances().at(-1)!.keyName, pair.name);
    driver.stop();
  });

  it('without a public key (DeployPublicKey: false) names no key pair', async () => {
    const { driver, ctx } = makeDriver(fake);
    const { tags, init } = createArgs(ctx.instanceSetId);
    await driver.create(M5, IMAGE, tags, init, '');
    assert.equal(fake.instances()[0].keyName, undefined);
    assert.ok(!fake.calls().some((c) => c.action.includes('KeyPair')));
    driver.stop();
  });
});

describe('ec2 driver: ClientToken across our retries', function () {
  let fake: FakeEC2;
  beforeEach(async () => {
    fake = await startFake();
  });
  afterEach(async () => {
    await fake.stop();
  });

  for (const [what, code, status] of [
    ['a throttled', 'RequestLimitExceeded', undefined],
    ['a 5xx', 'InternalError', 500],
  ] as const) {
    it(`${what} first attempt and its successful retry carry the same ClientToken; one instance results`, async () => {
      const { driver, ctx } = makeDriver(fake);
      const { tags, init } = createArgs(ctx.instanceSetId);
      fake.failNext('RunInstances', code, 'try again', status);
      const inst = await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
      const runs = fake.calls().filter((c) => c.action === 'RunInstances');
      assert.equal(runs.length, 2);
      assert.ok(runs[0].params.ClientToken, 'a ClientToken is sent');
      assert.equal(runs[1].params.ClientToken, runs[0].params.ClientToken);
      assert.equal(fake.instances().length, 1);
      assert.equal(fake.instances()[0].id, inst.id);
      driver.stop();
    });
  }

  it('separate creates use separate tokens', async () => {
    const { driver, ctx } = makeDriver(fake);
    for (let i = 0; i < 2; i++) {
      const { tags, init } = createArgs(ctx.instanceSetId);
      await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    }
    const tokens = fake.calls().filter((c) => c.action === 'RunInstances').map((c) => c.params.ClientToken);
    assert.equal(new Set(tokens).size, 2);
    assert.equal(fake.instances().length, 2);
    driver.stop();
  });

  it('waits retryDelayMs before the first retry, doubling the wait before each later one', async () => {
    const sleeps: number[] = [];
    const clock = { ...systemClock, now: () => Date.now(), sleep: async (ms: number) => void sleeps.push(ms) };
    const { driver, ctx } = makeDriver(fake, { clock, options: { retryDelayMs: 100, createAttempts: 4 } });
    const { tags, init } = createArgs(ctx.instanceSetId);
    for (let i = 0; i < 3; i++) fake.failNext('RunInstances', 'InternalError', 'try again', 500);
    await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    assert.deepEqual(sleeps, [100, 200, 400]);
    driver.stop();
  });

  it('does not retry a quota error', async () => {
    const { driver, ctx } = makeDriver(fake);
    const { tags, init } = createArgs(ctx.instanceSetId);
    fake.failNext('RunInstances', 'InstanceLimitExceeded');
    await assert.rejects(driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public));
    assert.equal(fake.calls().filter((c) => c.action === 'RunInstances').length, 1);
    driver.stop();
  });
});
