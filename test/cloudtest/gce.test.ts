/**
 * `cloudtest` against the GCE driver and the real `@google-cloud/compute`
 * client, pointed at the local Compute endpoint, whose instances are real SSH
 * servers on 127.0.0.N. Skipped while the GCE driver is not registered.
 */
import assert from 'node:assert/strict';
import '../../src/cloud/drivers.js';
import { driverNames } from '../../src/cloud/registry.js';
import { runInProcess, TempConfig } from './helpers.js';

interface FakeGCELike {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  instances(): Array<{ name: string; zone: string; deleted?: boolean; metadata: Record<string, string> }>;
}

describe('cloudtest (GCE driver on the local Compute endpoint)', function () {
  this.timeout(60_000);
  let fake: FakeGCELike;
  let sshPort: number;
  const configs: TempConfig[] = [];

  before(async function () {
    if (!driverNames().includes('gce')) this.skip();
    const { FakeGCE } = await import('../fixtures/gce/server.js');
    sshPort = 20_000 + Math.floor(Math.random() * 20_000);
    fake = new FakeGCE({ sshHosts: { port: sshPort } }) as unknown as FakeGCELike;
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
      driver: 'gce',
      driverParameters: {
        Endpoint: fake.url,
        Project: 'cloudtest-project',
        Zone: 'us-central1-a',
        ...driverParameters,
      },
      cloudVMs: { SSHPort: String(sshPort) },
    });
    configs.push(cfg);
    return cfg;
  }

  function live(): Array<{ name: string }> {
    return fake.instances().filter((i) => !i.deleted);
  }

  it('passes: create, list, tags, boot probe and secret over SSH, --command, destroy', async () => {
    const before = new Set(fake.instances().map((i) => i.name));
    const r = await runInProcess({ config: config().path, instanceSetId: 'cloudtest-gce', command: 'true' });
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /step 3: create a small instance \(provider type t3\.medium, image test-image\) \.\.\. ok \(.*\): instance arvados-[0-9a-f]{16}/);
    assert.match(r.out, /address 127\.\d+\.\d+\.\d+/);
    assert.match(r.out, /run the boot probe .* ok/);
    assert.match(r.out, /cloudtest passed/);
    const made = fake.instances().filter((i) => !before.has(i.name));
    assert.equal(made.length, 1, JSON.stringify(made));
    assert.equal(made[0]?.zone, 'us-central1-a');
    assert.match(made[0]?.metadata['ssh-keys'] ?? '', /^crunch:ssh-/);
    assert.deepEqual(live(), []);
  });
});
