/**
 * What the ec2 driver makes of answers AWS itself does not give, from an
 * EC2-compatible cloud or a proxy: a client stand-in (object literal) answers
 * each command as the test says.
 */
import assert from 'node:assert/strict';
import { EC2Client } from '@aws-sdk/client-ec2';
import { Ec2InstanceSet, parseEc2Params } from '../../../drivers/ec2/index.js';
import { systemClock } from '../../../src/clock/index.js';
import { silentLogger } from '../../../src/log.js';
import { createArgs, ec2Cluster, M5, SPOT } from './helpers.js';

const IMAGE = 'ami-0123456789abcdef0';

/** A driver whose client answers `answer(commandName, input)`. */
function driverWith(answer: (command: string, input: Record<string, unknown>) => unknown): Ec2InstanceSet {
  // A real client (the SDK's paginators insist), whose send never leaves the process.
  const client = new EC2Client({ region: 'us-east-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' } });
  client.send = (async (cmd: { constructor: { name: string }; input: Record<string, unknown> }) => answer(cmd.constructor.name, cmd.input)) as EC2Client['send'];
  const { params } = parseEc2Params({ Region: 'us-east-1', SubnetID: 'subnet-a' });
  return new Ec2InstanceSet(params, { instanceSetId: 'set-1', cluster: ec2Cluster(), logger: silentLogger(), clock: systemClock }, { client, retryDelayMs: 1 });
}

describe('ec2 driver: answers AWS does not give', function () {
  it('drops shutting-down and terminated instances from a listing even when the cloud ignored the state filter', async () => {
    const rec = (id: string, state: string) => ({ InstanceId: id, InstanceType: 'm5.large', State: { Name: state }, Tags: [{ Key: 'ArvadosInstanceSetID', Value: 'set-1' }] });
    const driver = driverWith((command) => {
      assert.equal(command, 'DescribeInstancesCommand');
      return { Reservations: [{ Instances: [rec('i-1', 'running'), rec('i-2', 'shutting-down'), rec('i-3', 'terminated'), rec('i-4', 'stopped')] }] };
    });
    const listed = await driver.instances({ ArvadosInstanceSetID: 'set-1' });
    assert.deepEqual(listed.map((i) => i.id), ['i-1', 'i-4']);
    driver.stop();
  });

  it('keeps a listed instance whose record has no State: only a state that says it is going away drops it', async () => {
    const driver = driverWith(() => ({ Reservations: [{ Instances: [{ InstanceId: 'i-1', InstanceType: 'm5.large' }, { InstanceId: 'i-2', State: {} }] }] }));
    const listed = await driver.instances({});
    assert.deepEqual(listed.map((i) => i.id), ['i-1', 'i-2']);
    driver.stop();
  });

  it('a created instance has the tags it was created with when the answer does not echo them', async () => {
    const driver = driverWith(() => ({ Instances: [{ InstanceId: 'i-1', InstanceType: 'm5.large', PrivateIpAddress: '10.0.0.5' }] }));
    const { tags, init } = createArgs('set-1');
    const inst = await driver.create(M5, IMAGE, tags, init, '');
    assert.equal(inst.id, 'i-1');
    assert.deepEqual(inst.tags, tags);
    driver.stop();
  });

  it('a RunInstances answer that names no instance id fails the create, not an instance with id ""', async () => {
    const driver = driverWith(() => ({ Instances: [{ InstanceType: 'm5.large' }] }));
    const { tags, init } = createArgs('set-1');
    await assert.rejects(driver.create(M5, IMAGE, tags, init, ''), /names no instance/);
    driver.stop();
  });

  it('a listed instance without an InstanceId fails the listing (the pool keeps its workers), rather than being left out', async () => {
    const driver = driverWith(() => ({ Reservations: [{ Instances: [{ InstanceId: 'i-1', State: { Name: 'running' } }, { State: { Name: 'running' } }] }] }));
    await assert.rejects(driver.instances({}), /without an InstanceId/);
    driver.stop();
  });

  it('spot prices: a history whose second page fails keeps the first page\'s prices, as the reference; an entry without a usable price is left out', async () => {
    const at = new Date('2024-01-01T00:00:00Z');
    const spotCalls: Array<string | undefined> = [];
    const driver = driverWith((command, input) => {
      if (command === 'DescribeInstancesCommand') {
        return { Reservations: [{ Instances: [{ InstanceId: 'i-1', InstanceType: 'm5.large', InstanceLifecycle: 'spot', State: { Name: 'running' }, Placement: { AvailabilityZone: 'us-east-1a' } }] }] };
      }
      assert.equal(command, 'DescribeSpotPriceHistoryCommand');
      spotCalls.push(input.NextToken as string | undefined);
      if (input.NextToken === undefined) {
        return {
          SpotPriceHistory: [
            { InstanceType: 'm5.large', AvailabilityZone: 'us-east-1a', SpotPrice: '0.03', Timestamp: at },
            { InstanceType: 'm5.large', AvailabilityZone: 'us-east-1a', SpotPrice: '', Timestamp: new Date(at.getTime() + 1000) },
            { InstanceType: 'm5.large', AvailabilityZone: 'us-east-1a', SpotPrice: ' ', Timestamp: new Date(at.getTime() + 2000) },
          ],
          NextToken: 'page-2',
        };
      }
      throw Object.assign(new Error('We encountered an internal error. Please try again.'), { name: 'InternalError', $metadata: { httpStatusCode: 500 } });
    });
    const [inst] = await driver.instances({});
    assert.deepEqual(spotCalls, [undefined, 'page-2']);
    assert.deepEqual(inst.priceHistory!(SPOT), [{ startTime: at.getTime(), price: 0.03 }]);
    driver.stop();
  });

  it('a listing whose pages repeat a NextToken fails, instead of asking for the same pages for ever', async () => {
    let calls = 0;
    // After 20 pages, a last page: without the guard the listing would end there, having asked 21 times.
    const driver = driverWith(() => ({ Reservations: [], ...(++calls <= 20 ? { NextToken: 'again' } : {}) }));
    await assert.rejects(driver.instances({}), /repeats an earlier page token/);
    assert.equal(calls, 2);
    driver.stop();
  });
});
