/**
 * `cloudtest` against the lame cloud: its VMs are real SSH servers, so the
 * boot probe, the instance secret check and `--command` run over SSH.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { getLameCloud, resetLameClouds } from '../../drivers/lame/index.js';
import { chooseInstanceType, passesFor, runCloudtestCommand } from '../../src/cloudtest/command.js';
import { systemClock } from '../../src/clock/index.js';
import '../../src/drivers.js';
import { newInstanceSet } from '../../src/cloud/registry.js';
import { loadConfigFile } from '../../src/config/index.js';
import { silentLogger } from '../../src/log.js';
import { Capture, runInProcess, TempConfig } from './helpers.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

function lameConfig(extra: Record<string, unknown> = {}, cloudVMs: Record<string, string | number> = {}): { cfg: TempConfig; cloudName: string } {
  const cloudName = `cloudtest-${randomBytes(4).toString('hex')}`;
  const cfg = new TempConfig({
    driver: 'lame',
    driverParameters: { MinBootTime: '300ms', MaxBootTime: '600ms', CloudName: cloudName, ...extra },
    cloudVMs,
  });
  return { cfg, cloudName };
}

const STEP_LINE = /^step \d+: .* \.\.\. (ok|FAILED) \(\d+\.\ds\)/;

describe('cloudtest (lame cloud)', function () {
  this.timeout(40_000);
  const configs: TempConfig[] = [];

  afterEach(async () => {
    for (const c of configs.splice(0)) c.remove();
    await resetLameClouds();
  });

  function config(extra: Record<string, unknown> = {}, cloudVMs: Record<string, string | number> = {}): { cfg: TempConfig; cloudName: string } {
    const made = lameConfig(extra, cloudVMs);
    configs.push(made.cfg);
    return made;
  }

  it('passes in-process: every step printed with its duration, the cheapest type used, nothing left behind', async () => {
    const { cfg, cloudName } = config();
    const r = await runInProcess({ config: cfg.path, instanceSetId: 'cloudtest-a' });
    assert.equal(r.code, 0, r.out + r.err);
    const steps = r.out.split('\n').filter((l) => l.startsWith('step '));
    for (const l of steps) assert.match(l, STEP_LINE);
    const expected = [
      /^step 1: start the lame driver/,
      /^step 2: check that no instances with InstanceSetID cloudtest-a exist/,
      /^step 3: create a small instance \(provider type t3\.medium, image test-image\) \.\.\. ok \(.*\): instance lame-\d+$/,
      /^step 4: wait for the instance to appear in the instance list .* ok \(.*\): address 127\.0\.0\.1:\d+$/,
      /^step 5: check the instance tags/,
      /^step 6: run the boot probe `systemctl is-system-running` over SSH/,
      /^step 7: destroy instance lame-\d+ and wait until it is gone from the list/,
    ];
    assert.equal(steps.length, expected.length, r.out);
    steps.forEach((l, i) => assert.match(l, expected[i]!));
    assert.match(r.out, /login: ssh -p \d+ crunch@127\.0\.0\.1\n/);
    assert.match(r.out, /instance type small \(t3\.medium/);
    assert.match(r.out, /cloudtest passed/);
    assert.equal(getLameCloud(cloudName)?.listVMs().length ?? 0, 0);
    // The instance secret is never printed.
    assert.doesNotMatch(r.out + r.err, /[0-9a-f]{40}/);
  });

  it('refuses to start when instances with its InstanceSetID exist, and --destroy-existing removes them first', async () => {
    const { cfg, cloudName } = config();
    const { cluster } = loadConfigFile(cfg.path);
    const set = await newInstanceSet({ cluster, logger: silentLogger(), clock: systemClock, instanceSetId: 'cloudtest-b' });
    const type = chooseInstanceType(cluster, undefined);
    const existing = await set.create(type, 'img', { ArvadosInstanceSetID: 'cloudtest-b' }, '', '');
    // Another InstanceSetID's instance (a running dispatcher's) is neither a reason to refuse nor touched.
    const other = await set.create(type, 'img', { ArvadosInstanceSetID: 'someone-else' }, '', '');
    set.stop();

    const refused = await runInProcess({ config: cfg.path, instanceSetId: 'cloudtest-b' });
    assert.equal(refused.code, 1);
    assert.match(refused.out, /step 2: check that no instances with InstanceSetID cloudtest-b exist \.\.\. FAILED .*found 1 \(lame-\d+\).*--destroy-existing/);
    assert.match(refused.err, /cloudtest FAILED: step 2 \(check that no instances/);
    assert.doesNotMatch(refused.out, /step 3/);
    assert.deepEqual(getLameCloud(cloudName)!.listVMs().map((v) => v.id).sort(), [existing.id, other.id].sort());

    const cleaned = await runInProcess({ config: cfg.path, instanceSetId: 'cloudtest-b', destroyExisting: true });
    assert.equal(cleaned.code, 0, cleaned.out);
    assert.match(cleaned.out, /step 2: destroy any instances with InstanceSetID cloudtest-b and wait until they are gone \.\.\. ok \(.*\): destroyed 1/);
    assert.deepEqual(getLameCloud(cloudName)!.listVMs().map((v) => v.id), [other.id]);
  });

  it('fails naming the boot probe step and TimeoutBooting when the VM never boots, and still destroys it', async () => {
    const { cfg, cloudName } = config({ NeverBootRate: 1 }, { TimeoutBooting: '1500ms' });
    const r = await runInProcess({ config: cfg.path, instanceSetId: 'cloudtest-c' });
    assert.equal(r.code, 1);
    assert.match(r.out, /step 6: run the boot probe `systemctl is-system-running` over SSH until it succeeds \(TimeoutBooting\) \.\.\. FAILED \(\d+\.\ds\): the boot probe did not succeed within TimeoutBooting \(1\.5s\) after \d+ attempts; last: exit code 1: starting/);
    assert.match(r.out, /step 7: destroy instance lame-\d+ and wait until it is gone from the list \.\.\. ok/);
    assert.match(r.err, /cloudtest FAILED: step 6 \(run the boot probe/);
    assert.equal(getLameCloud(cloudName)?.listVMs().length ?? 0, 0);
  });

  describe('--pause-before-destroy', () => {
    /** Runs cloudtest with the option; resolves once it asks for Enter, with the run still going. */
    async function pausedRun(cfgPath: string, instanceSetId: string): Promise<{ out: Capture; err: Capture; stdin: PassThrough; result: Promise<number> }> {
      const out = new Capture();
      const err = new Capture();
      const stdin = new PassThrough();
      const result = runCloudtestCommand({ config: cfgPath, instanceSetId, pauseBeforeDestroy: true }, { stdout: out, stderr: err, logger: silentLogger(), stdin });
      const deadline = Date.now() + 20_000;
      while (!err.text.includes('Press Enter')) {
        if (Date.now() > deadline) throw new Error(`no prompt; output so far:\n${out.text}${err.text}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return { out, err, stdin, result };
    }

    it('keeps the instance, with its login line shown, until Enter; then destroys it', async () => {
      const { cfg, cloudName } = config();
      const run = await pausedRun(cfg.path, 'cloudtest-p');
      assert.match(run.out.text, /\n {4}login: ssh -p \d+ \S+@\S+\n/);
      assert.doesNotMatch(run.out.text, /destroy instance/);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(getLameCloud(cloudName)?.listVMs().length, 1);
      run.stdin.write('\n');
      assert.equal(await run.result, 0, run.out.text);
      assert.match(run.out.text, /step 7: destroy instance lame-\d+ and wait until it is gone from the list \.\.\. ok/);
      assert.equal(run.out.text.match(/login: ssh/g)?.length, 1);
      assert.equal(getLameCloud(cloudName)?.listVMs().length ?? 0, 0);
    });

    it('pauses after a failed step too, so the operator can log in and look; the end of stdin also continues', async () => {
      const { cfg, cloudName } = config({ NeverBootRate: 1 }, { TimeoutBooting: '1500ms' });
      const run = await pausedRun(cfg.path, 'cloudtest-q');
      assert.match(run.out.text, /step 6: run the boot probe .* FAILED/);
      assert.equal(getLameCloud(cloudName)?.listVMs().length, 1);
      run.stdin.end();
      assert.equal(await run.result, 1);
      assert.match(run.out.text, /step 7: destroy instance .* ok/);
      assert.equal(getLameCloud(cloudName)?.listVMs().length ?? 0, 0);
    });
  });

  it('shows the output of --command, and a failing command fails the run', async () => {
    const { cfg, cloudName } = config();
    const ok = await runInProcess({ config: cfg.path, instanceSetId: 'cloudtest-d', command: 'echo hello from the VM' });
    assert.equal(ok.code, 0, ok.out);
    assert.match(ok.out, /step 7: run the command `echo hello from the VM` \.\.\. ok \(.*\)\n {4}stdout:\n {4}hello from the VM\n/);

    const bad = await runInProcess({ config: cfg.path, instanceSetId: 'cloudtest-d', command: 'false', instanceType: 'big' });
    assert.equal(bad.code, 1);
    assert.match(bad.out, /create a big instance \(provider type t3\.2xlarge/);
    assert.match(bad.out, /step 7: run the command `false` \.\.\. FAILED \(.*\): exit code 1/);
    assert.match(bad.out, /step 8: destroy instance .* ok/);
    assert.equal(getLameCloud(cloudName)?.listVMs().length ?? 0, 0);
  });

  it('refuses an unknown --instance-type with exit 2', async () => {
    const { cfg } = config();
    const r = await runInProcess({ config: cfg.path, instanceSetId: 'cloudtest-e', instanceType: 'huge' });
    assert.equal(r.code, 2);
    assert.match(r.err, /--instance-type: "huge" is not configured \(configured: big, small\)/);
  });

  it('splits a SubnetID list into one pass per subnet', async () => {
    const { cfg } = config();
    const { cluster } = loadConfigFile(cfg.path);
    cluster.Containers.CloudVMs.DriverParameters.SubnetID = ['subnet-a', 'subnet-b'];
    const passes = passesFor(cluster);
    assert.deepEqual(passes.map((p) => [p.label, p.cluster.Containers.CloudVMs.DriverParameters.SubnetID]), [
      ['SubnetID[0] "subnet-a"', 'subnet-a'],
      ['SubnetID[1] "subnet-b"', 'subnet-b'],
    ]);
    cluster.Containers.CloudVMs.DriverParameters.SubnetID = 'subnet-a';
    assert.equal(passesFor(cluster).length, 1);
  });

  it('passes through the real command line (node scripts/from-sources.mjs cloudtest --config F)', async () => {
    const { cfg } = config();
    const r = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['scripts/from-sources.mjs', 'cloudtest', '--config', cfg.path, '--instance-set-id', 'cloudtest-cli', '--command', 'echo hi'],
        { cwd: REPO, env: { ...process.env, LOG_LEVEL: '' } },
        (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
    });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const steps = r.stdout.split('\n').filter((l) => l.startsWith('step '));
    assert.equal(steps.length, 8, r.stdout);
    for (const l of steps) assert.match(l, STEP_LINE);
    assert.match(r.stdout, /cloudtest passed/);
  });
});
