/**
 * `cloudtest` against the EC2 driver and the real AWS SDK, pointed at the
 * local EC2 endpoint, whose instances are real SSH servers on 127.0.0.N.
 * Skipped while the EC2 driver is not registered.
 */
import assert from 'node:assert/strict';
import { type FakeEndpoint, runInProcess, useFakeCloud } from './helpers.js';

interface FakeEC2Like extends FakeEndpoint {
  instances(): Array<{ id: string; state: string; subnetId?: string }>;
}

describe('cloudtest (EC2 driver on the local EC2 endpoint)', function () {
  this.timeout(60_000);
  const cloud = useFakeCloud(
    'ec2',
    async (sshPort) => {
      const { FakeEC2 } = await import('../fixtures/ec2/server.js');
      return new FakeEC2({ sshHosts: { port: sshPort, authorizedKeysFrom: 'keypair' } }) as unknown as FakeEC2Like;
    },
    (fake) => ({
      Endpoint: fake.url,
      Region: 'us-east-1',
      AccessKeyID: 'AKIDCLOUDTEST',
      SecretAccessKey: 'cloudtest-secret',
      SubnetID: 'subnet-one',
    }),
  );
  const config = cloud.config;

  function live(): Array<{ id: string; state: string; subnetId?: string }> {
    return cloud.fake().instances().filter((i) => i.state !== 'terminated' && i.state !== 'shutting-down');
  }

  it('passes: create, list, tags, boot probe and secret over SSH, --command, destroy', async () => {
    const r = await runInProcess({ config: config().path, instanceSetId: 'cloudtest-ec2', command: 'true' });
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /step 3: create a small instance \(provider type t3\.medium, image test-image\) \.\.\. ok \(.*\): instance i-/);
    assert.match(r.out, /address 127\.\d+\.\d+\.\d+/);
    assert.match(r.out, /run the boot probe .* ok/);
    assert.match(r.out, /cloudtest passed/);
    assert.deepEqual(live(), []);
  });

  it('repeats the whole test once per subnet when SubnetID lists several', async () => {
    const before = new Set(cloud.fake().instances().map((i) => i.id));
    const r = await runInProcess({ config: config({ SubnetID: ['subnet-a', 'subnet-b'] }).path, instanceSetId: 'cloudtest-ec2-subnets' });
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /pass 1\/2: SubnetID\[0\] "subnet-a"\n/);
    assert.match(r.out, /pass 2\/2: SubnetID\[1\] "subnet-b"\n/);
    assert.equal(r.out.match(/run the boot probe .* ok/g)?.length, 2, r.out);
    const made = cloud.fake().instances().filter((i) => !before.has(i.id));
    assert.deepEqual(made.map((i) => i.subnetId), ['subnet-a', 'subnet-b']);
    assert.deepEqual(live(), []);
  });
});
