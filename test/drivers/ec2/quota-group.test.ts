/**
 * EC2 vCPU quota groups: which types one VcpuLimitExceeded holds back. The
 * rule (the reference driver's): the type's leading letters, replaced by
 * the longest InstanceTypeQuotaGroups entry for a prefix at least that long;
 * `-spot` for preemptible types.
 */
import assert from 'node:assert/strict';
import { asCapacityError } from '../../../src/cloud/errors.js';
import { wrapInstanceSet } from '../../../src/cloud/wrap.js';
import { ManualClock } from '../../../src/clock/index.js';
import { silentLogger } from '../../../src/log.js';
import { DEFAULT_QUOTA_GROUPS, parseEc2Params, quotaGroupFor } from '../../../drivers/ec2/index.js';
import type { FakeEC2 } from '../../fixtures/ec2/server.js';
import { instanceType } from '../lame/helpers.js';
import { createArgs, DISPATCH_KEY, fakeParams, makeDriver, SPOT, startFake } from './helpers.js';

const onDemand = (providerType: string) => ({ ProviderType: providerType, Preemptible: false });
const spot = (providerType: string) => ({ ProviderType: providerType, Preemptible: true });
const group = (providerType: string, groups: Record<string, string> = DEFAULT_QUOTA_GROUPS) => quotaGroupFor(onDemand(providerType), groups);

describe('ec2 driver: vCPU quota groups', () => {
  it('trn1 is in quota group trn, not t', () => {
    assert.equal(group('trn1.32xlarge'), 'trn');
    assert.equal(group('trn1n.32xlarge'), 'trn');
  });

  it('a family longer than a listed letter keeps its own letters (inf, dl, mac, hpc, im, is)', () => {
    assert.deepEqual(
      ['inf1.xlarge', 'dl1.24xlarge', 'mac1.metal', 'hpc6a.48xlarge', 'im4gn.large', 'is4gen.large', 'u-6tb1.metal'].map((t) => group(t)),
      ['inf', 'dl', 'mac', 'hpc', 'im', 'is', 'u'],
    );
  });

  it('a listed prefix at least as long as the letters names the group, the longest winning', () => {
    assert.equal(group('m5.large'), 'standard');
    assert.equal(group('t3a.micro'), 'standard');
    assert.equal(group('vt1.3xlarge'), 'g');
    assert.equal(group('p5.48xlarge'), 'p5');
    assert.equal(group('p4d.24xlarge'), 'p', 'an unlisted family gets its own letters');
    assert.equal(group('g5.xlarge'), 'g');
    assert.equal(group('M5.Large'), 'standard', 'the provider type is matched lower-cased');
    assert.equal(group('p5e.48xlarge', { ...DEFAULT_QUOTA_GROUPS, p5e: 'p5e' }), 'p5e');
    assert.equal(group('m5.large', { ...DEFAULT_QUOTA_GROUPS, 'm5.': 'm5-dot' }), 'm5-dot', 'a prefix may run past the family');
    assert.equal(group('trn1.2xlarge', { ...DEFAULT_QUOTA_GROUPS, trn: 'trainium' }), 'trainium');
  });

  it('preemptible types are in the -spot group', () => {
    assert.equal(quotaGroupFor(spot('m5.large'), DEFAULT_QUOTA_GROUPS), 'standard-spot');
    assert.equal(quotaGroupFor(spot('trn1.2xlarge'), DEFAULT_QUOTA_GROUPS), 'trn-spot');
    assert.equal(quotaGroupFor(onDemand('m5.large'), DEFAULT_QUOTA_GROUPS), 'standard');
  });

  it('InstanceTypeQuotaGroups: an empty value takes a default entry away; an upper-case key matches nothing', () => {
    const { params } = parseEc2Params({ Region: 'us-east-1', InstanceTypeQuotaGroups: { t: '', G: 'gpu', x: null } });
    assert.equal(group('t3.micro', params.InstanceTypeQuotaGroups), 't');
    assert.equal(group('g5.xlarge', params.InstanceTypeQuotaGroups), 'g');
    assert.equal(group('x2iedn.xlarge', params.InstanceTypeQuotaGroups), 'x');
    assert.equal(group('m5.large', params.InstanceTypeQuotaGroups), 'standard', 'the other defaults stay');
  });

  describe('through the driver', () => {
    let fake: FakeEC2;
    beforeEach(async () => {
      fake = await startFake();
    });
    afterEach(async () => {
      await fake.stop();
    });

    it('knows a type\'s quota group before the first failure, and the wrapper passes it on', () => {
      const { driver } = makeDriver(fake, { params: fakeParams(fake, { InstanceTypeQuotaGroups: { trn: 'trainium' } }) });
      try {
        assert.equal(driver.quotaGroup(instanceType('trn', 'trn1.2xlarge')), 'trainium');
        assert.equal(driver.quotaGroup(SPOT), 'standard-spot');
        const wrapped = wrapInstanceSet(driver, { clock: new ManualClock(), logger: silentLogger(), maxCloudOpsPerSecond: 0, resourceTags: {} });
        assert.equal(wrapped.quotaGroup?.(instanceType('c5', 'c5.xlarge')), 'standard');
      } finally {
        driver.stop();
      }
    });

    it('VcpuLimitExceeded on a spot type -> CapacityError for the -spot group', async () => {
      const { driver, ctx } = makeDriver(fake);
      const { tags, init } = createArgs(ctx.instanceSetId, SPOT.Name);
      fake.failNext('RunInstances', 'VcpuLimitExceeded', 'You have requested more vCPU capacity than your current vCPU limit');
      try {
        const err = await driver.create(SPOT, 'ami-0123456789abcdef0', tags, init, DISPATCH_KEY.public).then(
          () => assert.fail('create should fail'),
          (e: unknown) => e,
        );
        assert.equal(asCapacityError(err)?.quotaGroup, 'standard-spot');
        assert.equal(asCapacityError(err)?.quotaGroup, driver.quotaGroup(SPOT));
      } finally {
        driver.stop();
      }
    });
  });
});
