/**
 * `cloudtest` against the EC2 driver and the real AWS SDK, pointed at the
 * local EC2 endpoint, whose instances are real SSH servers on 127.0.0.N.
 * Skipped while the EC2 driver is not registered.
 */
import assert from 'node:assert/strict';
import '../../src/cloud/drivers.js';
import { driverNames } from '../../src/cloud/registry.js';
import { runInProcess, TempConfig } from './helpers.js';

interface FakeEC2Like {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  instances(): Array<{ id: string; state: string; subnetId?: string }>;
}

describe('cloudtest (EC2 driver on the local EC2 endpoint)', function () {
  this.timeout(60_000);
  let fake: FakeEC2Like;
  let sshPort: number;
  const configs: TempConfig[] = [];

  before(async function () {
    if (!driverNames().includes('ec2')) this.skip();
    const { FakeEC2 } = await import('../fixtures/ec2/server.js');
    sshPort = 20_000 + Math.floor(Math.random() * 20_000);
    fake = new FakeEC2({ sshHosts: { port: sshPort, authorizedKeysFrom: 'keypair' } }) as unknown as FakeEC2Like;
    await fake.start();
  });

  after(async () => {
    await fake?.stop();
  });

  afterEach(() => {
    for (const c of configs.splice(0)) c.remove();
  });

  function config(driverParameters: Record<string, unknown> = {}): TempConfig {
    const cfg = new TempConfig({
      driver: 'ec2',
      driverParameters: {
        Endpoint: fake.url,
        Region: 'us-east-1',
        AccessKeyID: 'AKIDCLOUDTEST',
        SecretAccessKey: 'cloudtest-secret',
        SubnetID: 'subnet-one',
        ...driverParameters,
      },
      cloudVMs: { SSHPort: String(sshPort) },
    });
    configs.push(cfg);
    return cfg;
  }

  function live(): Array<{ id: string; state: string; subnetId?: string }> {
    return fake.instances().filter((i) => i.state !== 'terminated' && i.state !== 'shutting-down');
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
    const before = new Set(fake.instances().map((i) => i.id));
    const r = await runInProcess({ config: config({ SubnetID: ['subnet-a', 'subnet-b'] }).path, instanceSetId: 'cloudtest-ec2-subnets' });
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /pass 1\/2: SubnetID\[0\] "subnet-a"\n/);
    assert.match(r.out, /pass 2\/2: SubnetID\[1\] "subnet-b"\n/);
    assert.equal(r.out.match(/run the boot probe .* ok/g)?.length, 2, r.out);
    const made = fake.instances().filter((i) => !before.has(i.id));
    assert.deepEqual(made.map((i) => i.subnetId), ['subnet-a', 'subnet-b']);
    assert.deepEqual(live(), []);
  });
});
