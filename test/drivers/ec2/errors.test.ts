/**
 * Error classification (ARVADOS.md section 8): each EC2 code list, end to
 * end through the SDK and the fake endpoint, plus the pure helpers.
 */
import assert from 'node:assert/strict';
import { asCapacityError, asRateLimitError, isCapacityError, isQuotaError, isRateLimitError } from '../../../src/cloud/errors.js';
import { ManualClock } from '../../../src/clock/index.js';
import { classify, isSubnetSpecific, ThrottleBackoff } from '../../../drivers/ec2/index.js';
import type { FakeEC2 } from '../../fixtures/ec2/server.js';
import { createArgs, DISPATCH_KEY, fakeParams, M5, makeDriver, startFake } from './helpers.js';
import { instanceType } from '../lame/helpers.js';

const IMAGE = 'ami-0123456789abcdef0';

describe('ec2 driver: error classes from EC2 codes', function () {
  let fake: FakeEC2;
  beforeEach(async () => {
    fake = await startFake();
  });
  afterEach(async () => {
    await fake.stop();
  });

  const failCreate = async (code: string, message?: string, times = 1, type = M5): Promise<unknown> => {
    const { driver, ctx } = makeDriver(fake);
    const { tags, init } = createArgs(ctx.instanceSetId);
    for (let i = 0; i < times; i++) fake.failNext('RunInstances', code, message);
    try {
      await driver.create(type, IMAGE, tags, init, DISPATCH_KEY.public);
    } catch (err) {
      return err;
    } finally {
      driver.stop();
    }
    return assert.fail(`create should have failed with ${code}`);
  };

  for (const code of ['RequestLimitExceeded', 'Throttling', 'ThrottlingException']) {
    it(`${code} (on every attempt) -> RateLimitError`, async () => {
      const err = await failCreate(code, 'slow down', 3);
      assert.ok(isRateLimitError(err), String(err));
      assert.ok(asRateLimitError(err)!.earliestRetry > Date.now());
    });
  }

  for (const code of ['InstanceLimitExceeded', 'InsufficientAddressCapacity', 'InsufficientFreeAddressesInSubnet', 'InsufficientVolumeCapacity', 'MaxSpotInstanceCountExceeded']) {
    it(`${code} -> QuotaError`, async () => {
      const err = await failCreate(code);
      assert.ok(isQuotaError(err), String(err));
      assert.ok(!isCapacityError(err) && !isRateLimitError(err));
    });
  }

  it('VcpuLimitExceeded -> CapacityError for the instance family quota group', async () => {
    const err = await failCreate('VcpuLimitExceeded', 'You have requested more vCPU capacity than your current vCPU limit');
    const cap = asCapacityError(err);
    assert.ok(cap, String(err));
    assert.equal(cap.quotaGroup, 'standard');
    assert.equal(cap.instanceType, undefined);
    assert.ok(!isQuotaError(err));
  });

  it('VcpuLimitExceeded on a vt1 type -> quota group g', async () => {
    const err = await failCreate('VcpuLimitExceeded', 'limit', 1, instanceType('vt1', 'vt1.3xlarge'));
    assert.equal(asCapacityError(err)?.quotaGroup, 'g');
  });

  it('InsufficientInstanceCapacity -> CapacityError for that type', async () => {
    const cap = asCapacityError(await failCreate('InsufficientInstanceCapacity', 'no m5.large today'));
    assert.equal(cap?.instanceType, 'm5.large');
  });

  it('Unsupported "requested instance type" -> CapacityError for that type; other Unsupported is not', async () => {
    const cap = asCapacityError(await failCreate('Unsupported', 'Your requested instance type (m5.large) is not supported in your requested Availability Zone'));
    assert.equal(cap?.instanceType, 'm5.large');
    const other = await failCreate('Unsupported', 'The requested configuration is currently not supported.');
    assert.ok(!isCapacityError(other) && !isQuotaError(other) && !isRateLimitError(other), String(other));
  });

  it('an unknown error passes through unclassified', async () => {
    const err = await failCreate('InvalidAMIID.NotFound', 'no such image');
    assert.ok(!isCapacityError(err) && !isQuotaError(err) && !isRateLimitError(err));
    assert.equal((err as Error).name, 'InvalidAMIID.NotFound');
  });

  it('a throttled list -> RateLimitError', async () => {
    const { driver, ctx } = makeDriver(fake);
    fake.failNext('DescribeInstances', 'RequestLimitExceeded');
    await assert.rejects(driver.instances({ ArvadosInstanceSetID: ctx.instanceSetId }), (e: unknown) => isRateLimitError(e));
    driver.stop();
  });

  it('a listing page that arrives resets the list back-off, as the reference: a throttle on a later page of the next listing waits 1 s again', async () => {
    const pagedFake = await startFake({ pageSize: 3 });
    try {
      const clock = new ManualClock();
      const { driver, ctx } = makeDriver(pagedFake, { params: fakeParams(pagedFake), clock });
      const { tags, init } = createArgs(ctx.instanceSetId);
      for (let i = 0; i < 4; i++) await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
      const wait = async (): Promise<number> => {
        const err = await driver.instances({ ArvadosInstanceSetID: ctx.instanceSetId }).catch((e: unknown) => e);
        const rl = asRateLimitError(err);
        assert.ok(rl, `expected a RateLimitError, got ${String(err)}`);
        return rl.earliestRetry - clock.now();
      };
      pagedFake.failNext('DescribeInstances', 'RequestLimitExceeded');
      assert.equal(await wait(), 1000, 'the first throttle waits 1 s');
      // The next listing's first page arrives; the request for its second page is throttled.
      let armed = true;
      driver.client.middlewareStack.add(
        (next) => async (args) => {
          if (armed && (args.input as { NextToken?: string }).NextToken) {
            armed = false;
            pagedFake.failNext('DescribeInstances', 'RequestLimitExceeded');
          }
          return next(args);
        },
        { step: 'initialize', name: 'throttleSecondPage' },
      );
      assert.equal(await wait(), 1000, 'the page that arrived in between reset the back-off');
      assert.equal(armed, false, 'the second page was asked for');
      driver.stop();
    } finally {
      await pagedFake.stop();
    }
  });
});

describe('ec2 driver: subnet failover', function () {
  let fake: FakeEC2;
  beforeEach(async () => {
    fake = await startFake();
  });
  afterEach(async () => {
    await fake.stop();
  });

  const subnetsTried = () => fake.calls().filter((c) => c.action === 'RunInstances').map((c) => c.params['NetworkInterface.1.SubnetId']);

  it('tries the next subnet on a subnet-specific error, then starts there next time', async () => {
    const { driver, ctx } = makeDriver(fake, { params: fakeParams(fake, { SubnetID: ['subnet-a', 'subnet-b'] }) });
    fake.failSubnet('subnet-a', 'InsufficientFreeAddressesInSubnet');
    const { tags, init } = createArgs(ctx.instanceSetId);
    const first = await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    assert.deepEqual(subnetsTried(), ['subnet-a', 'subnet-b']);
    assert.equal(fake.instances().find((i) => i.id === first.id)?.subnetId, 'subnet-b');
    fake.clearFaults();
    await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    assert.deepEqual(subnetsTried(), ['subnet-a', 'subnet-b', 'subnet-b']);
    driver.stop();
  });

  it("asks each subnet once when EC2 is out of capacity (a 500), and retries a subnet only on EC2's own failures", async () => {
    const { driver, ctx } = makeDriver(fake, { params: fakeParams(fake, { SubnetID: ['subnet-a', 'subnet-b'] }) });
    const { tags, init } = createArgs(ctx.instanceSetId);
    for (let i = 0; i < 3; i++) fake.failNext('RunInstances', 'InsufficientInstanceCapacity', 'We currently do not have sufficient m5.large capacity');
    await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public).catch(() => undefined);
    assert.deepEqual(subnetsTried(), ['subnet-a', 'subnet-b'], 'no retry in the same subnet');
    fake.clearFaults();
    driver.stop();

    const other = makeDriver(fake, { params: fakeParams(fake, { SubnetID: ['subnet-c'] }) });
    fake.failNext('RunInstances', 'InternalError', 'An internal error has occurred');
    const made = await other.driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    assert.ok(made.id);
    assert.deepEqual(subnetsTried().slice(2), ['subnet-c', 'subnet-c'], 'an internal error is tried again, with the same ClientToken');
    other.driver.stop();
  });

  it('with every subnet failing, returns the last capacity error over other errors', async () => {
    const { driver, ctx } = makeDriver(fake, { params: fakeParams(fake, { SubnetID: ['subnet-a', 'subnet-b'] }) });
    fake.failNext('RunInstances', 'InsufficientInstanceCapacity', 'none here');
    fake.failSubnet('subnet-b', 'InvalidSubnetID.NotFound');
    const { tags, init } = createArgs(ctx.instanceSetId);
    const err = await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public).catch((e: unknown) => e);
    assert.equal(asCapacityError(err)?.instanceType, 'm5.large', String(err));
    assert.deepEqual(subnetsTried(), ['subnet-a', 'subnet-b']);
    driver.stop();
  });

  it('returns a later subnet\'s quota-group capacity error (VcpuLimitExceeded) over an earlier type capacity error, as the reference', async () => {
    const { driver, ctx } = makeDriver(fake, { params: fakeParams(fake, { SubnetID: ['subnet-a', 'subnet-b'] }) });
    fake.failNext('RunInstances', 'InsufficientInstanceCapacity', 'none here');
    fake.failNext('RunInstances', 'VcpuLimitExceeded', 'You have requested more vCPU capacity than your current vCPU limit');
    const { tags, init } = createArgs(ctx.instanceSetId);
    const err = await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public).catch((e: unknown) => e);
    const cap = asCapacityError(err);
    assert.ok(cap?.isQuotaGroupSpecific, String(err));
    assert.equal(cap.instanceType, undefined);
    assert.equal(cap.quotaGroup, 'standard');
    assert.deepEqual(subnetsTried(), ['subnet-a', 'subnet-b']);
    driver.stop();
  });

  it('warns "RunInstances failed, trying next subnet" with the failed subnet and the error for each subnet it leaves, not for the last one', async () => {
    const { driver, ctx, logs } = makeDriver(fake, { params: fakeParams(fake, { SubnetID: ['subnet-a', 'subnet-b', 'subnet-c'] }) });
    for (const subnet of ['subnet-a', 'subnet-b', 'subnet-c']) fake.failSubnet(subnet, 'InsufficientFreeAddressesInSubnet');
    const { tags, init } = createArgs(ctx.instanceSetId);
    await assert.rejects(driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public), (e: unknown) => isQuotaError(e));
    assert.deepEqual(subnetsTried(), ['subnet-a', 'subnet-b', 'subnet-c']);
    const warnings = logs.records().filter((r) => r.msg === 'RunInstances failed, trying next subnet');
    assert.deepEqual(
      warnings.map((r) => [r.level, r.SubnetID]),
      [
        ['warning', 'subnet-a'],
        ['warning', 'subnet-b'],
      ],
    );
    assert.ok(
      warnings.every((r) => String(r.error).includes(`free addresses in subnet '${String(r.SubnetID)}'`)),
      `each warning carries the error: ${JSON.stringify(warnings)}`,
    );
    driver.stop();
  });

  it('does not fail over on an account-wide error', async () => {
    const { driver, ctx } = makeDriver(fake, { params: fakeParams(fake, { SubnetID: ['subnet-a', 'subnet-b'] }) });
    fake.failNext('RunInstances', 'InstanceLimitExceeded');
    const { tags, init } = createArgs(ctx.instanceSetId);
    await assert.rejects(driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public), (e: unknown) => isQuotaError(e));
    assert.deepEqual(subnetsTried(), ['subnet-a']);
    driver.stop();
  });
});

describe('ec2 error helpers', () => {
  const err = (name: string, message = '') => ({ name, message, $metadata: { httpStatusCode: 400 } });

  it('recognises subnet-specific failures as the reference does', () => {
    for (const e of [
      err('InvalidSubnetID.NotFound'),
      err('InsufficientFreeAddressesInSubnet'),
      err('InsufficientInstanceCapacity'),
      err('InsufficientVolumeCapacity'),
      err('Unsupported', 'anything'),
      err('InvalidParameterValue', 'Value (subnet-1) for parameter subnet is invalid: no such subnet '),
      err('InvalidParameterCombination', 'There are not sufficient free Ipv4 addresses'),
    ]) {
      assert.ok(isSubnetSpecific(e), JSON.stringify(e));
    }
    for (const e of [err('InstanceLimitExceeded'), err('InvalidParameterValue', 'bad AMI'), err('RequestLimitExceeded'), new Error('x')]) {
      assert.ok(!isSubnetSpecific(e), JSON.stringify(e));
    }
  });

  it('grows the throttle back-off with repeats (1 s, 2.5 s, 4.75 s, ... 60 s) and resets it on any other answer', () => {
    const clock = new ManualClock();
    const backoff = new ThrottleBackoff();
    const delays: number[] = [];
    for (let i = 0; i < 12; i++) {
      const e = classify(err('Throttling'), { clock, backoff, what: 'test' });
      delays.push(asRateLimitError(e)!.earliestRetry - clock.now());
    }
    assert.deepEqual(delays.slice(0, 3), [1000, 2500, 4750]);
    assert.equal(delays.at(-1), 60_000);
    classify(err('InvalidAMIID.NotFound'), { clock, backoff, what: 'test' });
    assert.equal(backoff.current, 0);
  });

  it('a quota or capacity error between two throttles leaves the back-off growing, as the reference; any other error resets it', () => {
    const clock = new ManualClock();
    const delayAfter = (between: object): number => {
      const backoff = new ThrottleBackoff();
      classify(err('Throttling'), { clock, backoff, what: 'test' });
      classify(between, { clock, backoff, what: 'test', providerType: 'm5.large' });
      return asRateLimitError(classify(err('Throttling'), { clock, backoff, what: 'test' }))!.earliestRetry - clock.now();
    };
    for (const e of [err('InstanceLimitExceeded'), err('VcpuLimitExceeded'), err('InsufficientInstanceCapacity'), err('Unsupported', 'Your requested instance type (t3.micro) is not supported')]) {
      assert.equal(delayAfter(e), 2500, `after ${e.name}`);
    }
    assert.equal(delayAfter(err('InvalidAMIID.NotFound')), 1000, 'after InvalidAMIID.NotFound');
  });

  it('treats the SDK throttle signals (429, $retryable.throttling) as throttling', () => {
    const clock = new ManualClock();
    for (const e of [{ name: 'Whatever', $metadata: { httpStatusCode: 429 } }, { name: 'X', $retryable: { throttling: true } }, err('EC2ThrottledException')]) {
      assert.ok(isRateLimitError(classify(e, { clock, backoff: new ThrottleBackoff(), what: 't' })), JSON.stringify(e));
    }
  });
});
