/** The driver registry: the InstanceSetID it derives, and how a driver's parameter errors are named. */
import assert from 'node:assert/strict';
import { checkDriverConfig, DriverParametersError, instanceSetIdFor } from '../../src/cloud/registry.js';
import { silentLogger } from '../../src/log.js';
import '../../src/drivers.js';
import { ec2Cluster } from '../drivers/ec2/helpers.js';

describe('cloud driver registry', () => {
  it('derives the InstanceSetID from SystemRootToken as the reference: a v2 token\'s uuid, else the md5 hex of the token', () => {
    const cluster = ec2Cluster();
    cluster.SystemRootToken = 'v2/zzzzz-gj3su-0123456789abcde/secretsecretsecret';
    assert.equal(instanceSetIdFor(cluster), 'zzzzz-gj3su-0123456789abcde');
    cluster.SystemRootToken = 'plaintexttoken';
    // echo -n plaintexttoken | md5sum
    assert.equal(instanceSetIdFor(cluster), '8a0f88b59fa1640a74e989f542f4176d');
  });

  it('a driver\'s "DriverParameters: ..." error (the whole mapping is wrong) is named by its whole YAML path too', async () => {
    const cluster = ec2Cluster();
    cluster.Containers.CloudVMs.DriverParameters = ['Region', 'us-east-1'] as unknown as Record<string, unknown>;
    await assert.rejects(checkDriverConfig(cluster, silentLogger()), (err: unknown) => {
      assert.ok(err instanceof DriverParametersError, String(err));
      assert.match(err.message, /^Clusters\.zzzzz\.Containers\.CloudVMs\.DriverParameters: expected a mapping/);
      return true;
    });
  });
});
