/**
 * The cloudtest command's own rules, without a cloud: which instance type it
 * picks, how --pause-before-destroy waits, and what an interrupt stops.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { chooseInstanceType, runCloudtestCommand, waitForEnter } from '../../src/cloudtest/command.js';
import type { InstanceSet } from '../../src/cloud/types.js';
import { loadConfigText } from '../../src/config/index.js';
import type { Cluster } from '../../src/config/types.js';
import { silentLogger } from '../../src/log.js';
import { Capture, TempConfig } from './helpers.js';


/**
 * For a config whose creates the test makes fail: a failed create is
 * looked for until TimeoutBooting, kept short because this clock is real.
 */
const CREATES_FAIL = { TimeoutBooting: '1s' };

describe('cloudtest command', () => {

  it('without --instance-type: the cheapest type, and of two at the same price the one that is not preemptible', () => {
    const cluster: Cluster = loadConfigText(`
Clusters:
  zzzzz:
    InstanceTypes:
      a-spot:
        VCPUs: 2
        RAM: 4GiB
        Price: 0.1
        Preemptible: true
        ProviderType: t3.medium
      b-ondemand:
        VCPUs: 2
        RAM: 4GiB
        Price: 0.1
        ProviderType: t3.medium
      c-dear:
        VCPUs: 8
        RAM: 32GiB
        Price: 0.8
        ProviderType: t3.2xlarge
`).cluster;
    assert.equal(chooseInstanceType(cluster, undefined).Name, 'b-ondemand');
    assert.equal(chooseInstanceType(cluster, 'c-dear').Name, 'c-dear');
  });

  it('--pause-before-destroy: a line without its newline is not Enter; a signal already aborted does not wait at all', async () => {
    const stdin = new PassThrough();
    const err = new Capture();
    let done = false;
    const waiting = waitForEnter(stdin, err).then(() => (done = true));
    stdin.write('partial');
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false);
    stdin.write(' line\n');
    await waiting;
    assert.match(err.text, /Press Enter to continue: $/);

    const ac = new AbortController();
    ac.abort(new Error('interrupted by SIGINT'));
    // Nothing will ever arrive on this stdin: only the signal can end the wait.
    await waitForEnter(new PassThrough(), new Capture(), ac.signal);
  });

  it('an interrupt during one subnet ends the run there: later subnets are not tested', async function () {
    this.timeout(20_000);
    const cfg = new TempConfig({ driver: 'lame', driverParameters: { SubnetID: ['subnet-a', 'subnet-b', 'subnet-c'] } });
    try {
      const ac = new AbortController();
      const built: string[] = [];
      const out = new Capture();
      const code = await runCloudtestCommand(
        { config: cfg.path, instanceSetId: 'cloudtest-abort' },
        {
          stdout: out,
          stderr: new Capture(),
          logger: silentLogger(),
          signal: ac.signal,
          newInstanceSet: async (c) => {
            built.push(String(c.Containers.CloudVMs.DriverParameters.SubnetID));
            // The operator presses Ctrl-C while the first pass lists.
            return {
              create: () => Promise.reject(new Error('not reached')),
              instances: async () => {
                ac.abort(new Error('interrupted by SIGINT'));
                throw new Error('interrupted by SIGINT');
              },
              stop: () => undefined,
            } satisfies InstanceSet;
          },
        },
      );
      assert.equal(code, 1);
      assert.deepEqual(built, ['subnet-a']);
      assert.match(out.text, /cloudtest FAILED: SubnetID\[0\] "subnet-a": step 2 .*interrupted by SIGINT/);
      assert.doesNotMatch(out.text, /pass 2\/3/);
    } finally {
      cfg.remove();
    }
  });

  it("stops each pass's driver, whether the pass passed or failed (a driver's sockets would keep the command from exiting)", async () => {
    const cfg = new TempConfig({ driver: 'lame', driverParameters: { SubnetID: ['subnet-a', 'subnet-b'] }, cloudVMs: CREATES_FAIL });
    try {
      const stopped: string[] = [];
      const code = await runCloudtestCommand(
        { config: cfg.path, instanceSetId: 'cloudtest-stop' },
        {
          stdout: new Capture(),
          stderr: new Capture(),
          logger: silentLogger(),
          newInstanceSet: async (c) => {
            const subnet = String(c.Containers.CloudVMs.DriverParameters.SubnetID);
            return {
              create: () => Promise.reject(new Error('InvalidSubnetID.NotFound')),
              instances: async () => [],
              stop: () => stopped.push(subnet),
            } satisfies InstanceSet;
          },
        },
      );
      assert.equal(code, 1);
      assert.deepEqual(stopped, ['subnet-a', 'subnet-b']);
    } finally {
      cfg.remove();
    }
  });

  it('refuses a config without Containers.DispatchPrivateKey with exit 2, before touching the cloud', async () => {
    const cfg = new TempConfig({ driver: 'lame', driverParameters: {} });
    try {
      writeFileSync(cfg.path, readFileSync(cfg.path, 'utf8').replace(/      DispatchPrivateKey: \|\n(        .*\n)+/, ''));
      const err = new Capture();
      let built = 0;
      const code = await runCloudtestCommand(
        { config: cfg.path, instanceSetId: 'cloudtest-nokey' },
        {
          stdout: new Capture(),
          stderr: err,
          logger: silentLogger(),
          newInstanceSet: async () => {
            built++;
            throw new Error('not reached');
          },
        },
      );
      assert.equal(code, 2);
      assert.equal(err.text, 'cloudtest: Clusters.zzzzz.Containers.DispatchPrivateKey: required (cloudtest logs in to the instance with it)\n');
      assert.equal(built, 0);
    } finally {
      cfg.remove();
    }
  });

  it('tags the test instance with the CloudTestPID of the process that made it, besides the dispatcher tags', async () => {
    const cfg = new TempConfig({ driver: 'lame', driverParameters: {}, cloudVMs: CREATES_FAIL });
    try {
      const created: Array<Record<string, string>> = [];
      await runCloudtestCommand(
        { config: cfg.path, instanceSetId: 'cloudtest-pid' },
        {
          stdout: new Capture(),
          stderr: new Capture(),
          logger: silentLogger(),
          newInstanceSet: async () =>
            ({
              create: (_type, _image, tags) => {
                created.push(tags);
                return Promise.reject(new Error('stop here'));
              },
              instances: async () => [],
              stop: () => undefined,
            }) satisfies InstanceSet,
        },
      );
      assert.equal(created.length, 1);
      assert.equal(created[0]!.ArvadosCloudTestPID, String(process.pid));
      assert.equal(created[0]!.ArvadosInstanceSetID, 'cloudtest-pid');
    } finally {
      cfg.remove();
    }
  });

  it('--image-id replaces CloudVMs.ImageID for the test instance (testing a new image before it goes into the config)', async () => {
    const cfg = new TempConfig({ driver: 'lame', driverParameters: {}, cloudVMs: CREATES_FAIL });
    try {
      const images: string[] = [];
      const out = new Capture();
      await runCloudtestCommand(
        { config: cfg.path, instanceSetId: 'cloudtest-image', imageId: 'img-candidate' },
        {
          stdout: out,
          stderr: new Capture(),
          logger: silentLogger(),
          newInstanceSet: async () =>
            ({
              create: (_type, image) => {
                images.push(image);
                return Promise.reject(new Error('stop here'));
              },
              instances: async () => [],
              stop: () => undefined,
            }) satisfies InstanceSet,
        },
      );
      assert.deepEqual(images, ['img-candidate']);
      assert.match(out.text, /^cloudtest: driver lame, .*, image img-candidate\n/);
    } finally {
      cfg.remove();
    }
  });
});
