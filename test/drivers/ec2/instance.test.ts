/**
 * Ec2Instance on its own, from object-literal records and a client that
 * records the commands it is sent: the fields read from a DescribeInstances
 * record, setTags' requests, and the spot price history.
 */
import assert from 'node:assert/strict';
import type { EC2Client, Instance as AwsInstance } from '@aws-sdk/client-ec2';
import { Ec2Instance, type Ec2InstanceHost } from '../../../drivers/ec2/instance.js';
import type { PricePoint } from '../../../src/cloud/types.js';
import { instanceType } from '../lame/helpers.js';

interface Sent {
  command: string;
  input: { Resources?: string[]; Tags?: Array<{ Key?: string; Value?: string }> };
}

function host(opts: { history?: PricePoint[]; ebsPrice?: number } = {}): { host: Ec2InstanceHost; sent: Sent[] } {
  const sent: Sent[] = [];
  const client = {
    send: async (cmd: { constructor: { name: string }; input: Sent['input'] }) => {
      sent.push({ command: cmd.constructor.name, input: cmd.input });
      return {};
    },
  } as unknown as EC2Client;
  return {
    sent,
    host: {
      remoteUser: 'crunch',
      ebsPrice: opts.ebsPrice ?? 0.1,
      call: (_what, fn) => fn(),
      client,
      spotHistory: () => opts.history ?? [],
    },
  };
}

const RECORD: AwsInstance = {
  InstanceId: 'i-0123456789abcdef0',
  InstanceType: 'm5.large',
  PrivateIpAddress: '10.0.0.7',
  SubnetId: 'subnet-a',
  Placement: { AvailabilityZone: 'us-east-1a' },
  Tags: [{ Key: 'ArvadosInstanceSetID', Value: 'set-1' }],
};

describe('ec2 driver: Ec2Instance', function () {
  it('is reached on its private address, even when EC2 lists a public one too (as the reference)', () => {
    const inst = new Ec2Instance(host().host, { ...RECORD, PublicIpAddress: '203.0.113.9' });
    assert.equal(inst.address, '10.0.0.7');
  });

  it('keeps a tag whose value is empty, as EC2 lists it (a ResourceTag may be empty)', () => {
    const inst = new Ec2Instance(host().host, { ...RECORD, Tags: [...RECORD.Tags!, { Key: 'Empty', Value: '' }] });
    assert.deepEqual(inst.tags, { ArvadosInstanceSetID: 'set-1', Empty: '' });
  });

  it('an instance EC2 lists without tags or a private address yet has no tags and address "", and a tag listed without a value reads as ""', () => {
    const bare = new Ec2Instance(host().host, { ...RECORD, Tags: undefined, PrivateIpAddress: undefined });
    assert.deepEqual(bare.tags, {});
    assert.equal(bare.address, '');
    const inst = new Ec2Instance(host().host, { ...RECORD, Tags: [...RECORD.Tags!, { Key: 'NoValue' }, { Value: 'no key' }] });
    assert.deepEqual(inst.tags, { ArvadosInstanceSetID: 'set-1', NoValue: '' });
  });

  it('has no zone when EC2 names no availability zone (unknown, not a zone called "")', () => {
    const inst = new Ec2Instance(host().host, { ...RECORD, Placement: undefined });
    assert.equal(inst.zone, undefined);
    assert.equal(new Ec2Instance(host().host, RECORD).zone, 'us-east-1a');
  });

  it('prices a preemptible type from spot history even when the record leaves out InstanceLifecycle, scratch volume included', () => {
    const history = [{ startTime: 1000, price: 0.02 }];
    const type = { ...instanceType('m5large.preemptible', 'm5.large'), Preemptible: true, AddedScratch: 72 * 2 ** 30 };
    const inst = new Ec2Instance(host({ history, ebsPrice: 0.1 }).host, RECORD);
    assert.equal(inst.spot, false);
    // 72 GiB at 0.1 per GiB-month is 7.2 a month, 0.01 an hour.
    assert.deepEqual(inst.priceHistory(type).map((p) => [p.startTime, Number(p.price.toFixed(6))]), [[1000, 0.03]]);
    assert.deepEqual(inst.priceHistory({ ...type, Preemptible: false }), [], 'on-demand: the configured price');
  });

  it('setTags leaves tags EC2 reserves (aws:, in any case) alone: neither written nor deleted', async () => {
    const { host: h, sent } = host();
    const inst = new Ec2Instance(h, {
      ...RECORD,
      Tags: [...RECORD.Tags!, { Key: 'aws:autoscaling:groupName', Value: 'g' }, { Key: 'AWS:Other', Value: 'o' }, { Key: 'Old', Value: 'x' }],
    });
    // As the pool calls it: the tags it read, one changed, one dropped, reserved ones carried along or not.
    await inst.setTags({ ArvadosInstanceSetID: 'set-1', ArvadosIdleBehavior: 'drain', 'aws:autoscaling:groupName': 'g', 'Aws:New': 'n' });
    const keys = (command: string) => sent.filter((s) => s.command === command).flatMap((s) => s.input.Tags!.map((t) => t.Key));
    assert.deepEqual(keys('CreateTagsCommand').sort(), ['ArvadosIdleBehavior', 'ArvadosInstanceSetID']);
    assert.deepEqual(keys('DeleteTagsCommand'), ['Old']);
  });

  it("setTags: the instance's tags are then the new set, so a later setTags deletes nothing again", async () => {
    const { host: h, sent } = host();
    const inst = new Ec2Instance(h, { ...RECORD, Tags: [...RECORD.Tags!, { Key: 'Old', Value: 'x' }] });
    await inst.setTags({ ArvadosInstanceSetID: 'set-1', ArvadosIdleBehavior: 'drain' });
    assert.deepEqual(inst.tags, { ArvadosInstanceSetID: 'set-1', ArvadosIdleBehavior: 'drain' });
    sent.length = 0;
    await inst.setTags({ ArvadosInstanceSetID: 'set-1', ArvadosIdleBehavior: 'hold' });
    assert.deepEqual(sent.map((s) => s.command), ['CreateTagsCommand']);
  });
});
