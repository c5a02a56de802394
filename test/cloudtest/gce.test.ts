/**
 * `cloudtest` against the GCE driver and the real `@google-cloud/compute`
 * client, pointed at the local Compute endpoint, whose instances are real SSH
 * servers on 127.0.0.N. Skipped while the GCE driver is not registered.
 */
import assert from 'node:assert/strict';
import { type FakeEndpoint, runInProcess, useFakeCloud } from './helpers.js';

interface FakeGCELike extends FakeEndpoint {
  instances(): Array<{ name: string; zone: string; deleted?: boolean; metadata: Record<string, string> }>;
}

describe('cloudtest (GCE driver on the local Compute endpoint)', function () {
  this.timeout(60_000);
  const cloud = useFakeCloud(
    'gce',
    async (sshPort) => {
      const { FakeGCE } = await import('../fixtures/gce/server.js');
      return new FakeGCE({ sshHosts: { port: sshPort } }) as unknown as FakeGCELike;
    },
    (fake) => ({
      Endpoint: fake.url,
      Project: 'cloudtest-project',
      Zone: 'us-central1-a',
    }),
  );
  const config = cloud.config;

  function live(): Array<{ name: string }> {
    return cloud.fake().instances().filter((i) => !i.deleted);
  }

  it('passes: create, list, tags, boot probe and secret over SSH, --command, destroy', async () => {
    const before = new Set(cloud.fake().instances().map((i) => i.name));
    const r = await runInProcess({ config: config().path, instanceSetId: 'cloudtest-gce', command: 'true' });
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /step 3: create a small instance \(provider type t3\.medium, image test-image\) \.\.\. ok \(.*\): instance arvados-[0-9a-f]{16}/);
    assert.match(r.out, /address 127\.\d+\.\d+\.\d+/);
    assert.match(r.out, /run the boot probe .* ok/);
    assert.match(r.out, /cloudtest passed/);
    const made = cloud.fake().instances().filter((i) => !before.has(i.name));
    assert.equal(made.length, 1, JSON.stringify(made));
    assert.equal(made[0]?.zone, 'us-central1-a');
    assert.match(made[0]?.metadata['ssh-keys'] ?? '', /^crunch:ssh-/);
    assert.deepEqual(live(), []);
  });
});
