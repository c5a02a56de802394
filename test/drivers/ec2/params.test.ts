/** DriverParameters: defaults, accepted shapes, errors naming the parameter, the unknown-name warning. */
import assert from 'node:assert/strict';
import { DEFAULT_QUOTA_GROUPS, ec2Driver, Ec2InstanceSet, Ec2ParamsError, parseEc2Params } from '../../../drivers/ec2/index.js';
import '../../../src/drivers.js';
import { driverNames, newInstanceSet } from '../../../src/cloud/registry.js';
import { systemClock } from '../../../src/clock/index.js';
import { createLogger, LineCollector } from '../../../src/log.js';
import { ec2Cluster } from './helpers.js';

const MIN = { Region: 'us-east-1' };

describe('ec2 driver parameters', () => {
  it('fills in the defaults the reference config gives', () => {
    const { params, unknown } = parseEc2Params(MIN);
    assert.deepEqual(unknown, []);
    assert.equal(params.AdminUsername, 'crunch');
    assert.equal(params.EBSVolumeType, 'gp2');
    assert.equal(params.EBSPrice, 0.1);
    assert.equal(params.SpotPriceUpdateInterval, 24 * 3600_000);
    assert.deepEqual(params.InstanceTypeQuotaGroups, DEFAULT_QUOTA_GROUPS);
    assert.deepEqual(params.SubnetID, []);
    assert.deepEqual(params.SecurityGroupIDs, []);
    assert.equal(params.AccessKeyID, '');
    assert.equal(params.Endpoint, '');
  });

  it('takes SecurityGroupIDs as a map or a list, SubnetID as one or a list', () => {
    assert.deepEqual(parseEc2Params({ ...MIN, SecurityGroupIDs: { 'sg-1': {}, 'sg-2': {} } }).params.SecurityGroupIDs, ['sg-1', 'sg-2']);
    assert.deepEqual(parseEc2Params({ ...MIN, SecurityGroupIDs: ['sg-1'] }).params.SecurityGroupIDs, ['sg-1']);
    assert.deepEqual(parseEc2Params({ ...MIN, SubnetID: 'subnet-1' }).params.SubnetID, ['subnet-1']);
    assert.deepEqual(parseEc2Params({ ...MIN, SubnetID: '' }).params.SubnetID, []);
    assert.deepEqual(parseEc2Params({ ...MIN, SubnetID: ['subnet-1', 'subnet-2'] }).params.SubnetID, ['subnet-1', 'subnet-2']);
  });

  it('holds a security group or subnet written twice once: the reference\'s SecurityGroupIDs is a set, and a subnet named twice would only be asked twice', () => {
    assert.deepEqual(parseEc2Params({ ...MIN, SecurityGroupIDs: ['sg-1', ' sg-1', 'sg-2'] }).params.SecurityGroupIDs, ['sg-1', 'sg-2']);
    assert.deepEqual(parseEc2Params({ ...MIN, SubnetID: ['subnet-1', 'subnet-1'] }).params.SubnetID, ['subnet-1']);
  });

  it('parses SpotPriceUpdateInterval as a duration and merges InstanceTypeQuotaGroups over the defaults', () => {
    const { params } = parseEc2Params({ ...MIN, SpotPriceUpdateInterval: '1h30m', InstanceTypeQuotaGroups: { g: 'g', p4: 'p' } });
    assert.equal(params.SpotPriceUpdateInterval, 90 * 60_000);
    assert.equal(params.InstanceTypeQuotaGroups.g, 'g');
    assert.equal(params.InstanceTypeQuotaGroups.p4, 'p');
    assert.equal(params.InstanceTypeQuotaGroups.m, 'standard');
  });

  it('InstanceTypeQuotaGroups: a family written with no value (YAML null, Go\'s "") takes the default entry away, as an empty one does', () => {
    const { params } = parseEc2Params({ ...MIN, InstanceTypeQuotaGroups: { m: null, c: '' } });
    assert.equal(params.InstanceTypeQuotaGroups.m, '');
    assert.equal(params.InstanceTypeQuotaGroups.c, '');
    assert.equal(params.InstanceTypeQuotaGroups.r, 'standard');
  });

  it('takes a negative SpotPriceUpdateInterval as 0, spot prices off, as the reference does', () => {
    assert.equal(parseEc2Params({ ...MIN, SpotPriceUpdateInterval: '-1h' }).params.SpotPriceUpdateInterval, 0);
  });

  for (const [name, value, pattern] of [
    ['SpotPriceUpdateInterval', '5 minutes', /DriverParameters\.SpotPriceUpdateInterval: invalid duration/],
    ['SpotPriceUpdateInterval', 60, /DriverParameters\.SpotPriceUpdateInterval: .*missing unit/],
    ['EBSPrice', 'cheap', /DriverParameters\.EBSPrice: expected a non-negative number/],
    ['EBSPrice', -1, /DriverParameters\.EBSPrice/],
    ['SubnetID', 42, /DriverParameters\.SubnetID: expected a list of ids/],
    ['SecurityGroupIDs', [''], /DriverParameters\.SecurityGroupIDs/],
    ['AdminUsername', 'Root User', /DriverParameters\.AdminUsername: expected a user name/],
    ['Endpoint', 'not a url', /DriverParameters\.Endpoint: expected a URL/],
    ['Endpoint', 'ftp://x', /DriverParameters\.Endpoint: expected an http\(s\) URL/],
    ['InstanceTypeQuotaGroups', ['m'], /DriverParameters\.InstanceTypeQuotaGroups/],
    ['EBSVolumeType', 7, /DriverParameters\.EBSVolumeType: expected a string/],
    ['Region', 7, /DriverParameters\.Region: expected a string/],
  ] as const) {
    it(`rejects ${name}: ${JSON.stringify(value)} naming the parameter`, () => {
      assert.throws(() => parseEc2Params({ ...MIN, [name]: value }), (err: unknown) => err instanceof Ec2ParamsError && pattern.test(err.message));
    });
  }

  it('takes any login name an image may have as AdminUsername, as the reference takes any string', () => {
    for (const name of ['ec2-user', 'Admin', 'first.last', 'svc$', '_crunch']) assert.equal(parseEc2Params({ ...MIN, AdminUsername: name }).params.AdminUsername, name);
    for (const bad of ['', 'two words', 'a:b', '-x']) assert.throws(() => parseEc2Params({ ...MIN, AdminUsername: bad }), /AdminUsername: expected a user name/, bad);
  });

  it('takes an empty EBSVolumeType as gp2, as the reference', () => {
    assert.equal(parseEc2Params({ ...MIN, EBSVolumeType: '' }).params.EBSVolumeType, 'gp2');
  });

  it('leaves an empty Region for the SDK default chain to fill in', () => {
    assert.equal(parseEc2Params({}).params.Region, '');
  });

  it('requires both credentials or neither', () => {
    assert.throws(() => parseEc2Params({ ...MIN, AccessKeyID: 'AKID' }), /DriverParameters\.SecretAccessKey: required when AccessKeyID is set/);
    assert.throws(() => parseEc2Params({ ...MIN, SecretAccessKey: 'shh-secret' }), /DriverParameters\.AccessKeyID/);
  });

  it('names unknown parameters (the Azure ones in the reference defaults) once in a warning, and never logs secrets', async () => {
    const logs = new LineCollector();
    const ctx = {
      instanceSetId: 'zzzzz-test',
      cluster: ec2Cluster([]),
      logger: createLogger({ stream: logs, level: 'debug' }),
      clock: systemClock,
    };
    const set = await ec2Driver(
      { ...MIN, AccessKeyID: 'AKIDSECRETISH', SecretAccessKey: 'very-secret-access-key', SubscriptionID: 'sub', ClientSecret: 'azure-secret-value', Network: 'n' },
      ctx,
    );
    assert.ok(set instanceof Ec2InstanceSet);
    set.stop();
    const warnings = logs.records().filter((r) => r.level === 'warning');
    assert.equal(warnings.length, 1);
    assert.deepEqual(warnings[0].Parameters, ['ClientSecret', 'Network', 'SubscriptionID']);
    const text = logs.lines.join('\n');
    assert.ok(!text.includes('azure-secret-value') && !text.includes('very-secret-access-key'));
  });

  it('is registered as "ec2" and built through the registry', async () => {
    assert.ok(driverNames().includes('ec2'));
    const cluster = ec2Cluster([]);
    cluster.Containers.CloudVMs.DriverParameters = { Region: 'us-east-1', Endpoint: 'http://127.0.0.1:1' };
    const set = await newInstanceSet({ cluster, logger: createLogger({ stream: new LineCollector() }), clock: systemClock });
    set.stop();
    cluster.Containers.CloudVMs.DriverParameters = { Region: 'us-east-1', EBSPrice: 'x' };
    await assert.rejects(newInstanceSet({ cluster, logger: createLogger({ stream: new LineCollector() }), clock: systemClock }), /DriverParameters\.EBSPrice/);
  });
});
