/**
 * The lame VM over real SSH (real clock; no fixed sleeps): key checks, the
 * boot probe, the instance secret with the pool's host key verifier, runner
 * deployment, and what destroy and dropConnections do to connections.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Instance, InstanceSet } from '../../../src/cloud/types.js';
import { SshConnectError } from '../../../src/ssh/errors.js';
import { SshExecutor } from '../../../src/ssh/ssh-executor.js';
import type { Executor } from '../../../src/ssh/executor.js';
import { crunchRunListCommand, instanceSecretCommand, runnerInstallCommand, runnerMd5Command, runnerMd5Expected, withSudo } from '../../../src/arvados/crunch-run.js';
import { deployedRunnerPath } from '../../../src/worker/runner.js';
import { hostKeyVerifier } from '../../../src/worker/verify.js';
import { lameDriver, type LameInstance, resetLameClouds } from '../../../drivers/lame/index.js';
import { generateHostKey } from '../../../drivers/lame/sshd.js';
import { createArgs, DISPATCH_KEY, makeCluster, makeContext, SMALL, waitFor } from './helpers.js';

describe('lame driver over SSH', function () {
  this.timeout(20_000);
  let set: InstanceSet;
  let executors: Executor[];

  const make = async (params: Record<string, unknown> = {}, bootProbe?: string): Promise<{ inst: LameInstance; secret: string }> => {
    const ctx = makeContext({ cluster: makeCluster({ bootProbe }) });
    set = await lameDriver({ MinBootTime: '1h', MaxBootTime: '1h', ...params }, ctx);
    const { tags, init, secret } = createArgs(ctx.instanceSetId);
    const inst = (await set.create(SMALL, 'lame-image', tags, init, DISPATCH_KEY.public)) as LameInstance;
    return { inst, secret };
  };

  const sshTo = (inst: Instance, privateKey = DISPATCH_KEY.private): SshExecutor => {
    const exec = new SshExecutor({
      target: inst.address,
      username: inst.remoteUser,
      privateKey,
      connectTimeoutMs: 5000,
      verifyHostKey: hostKeyVerifier(inst, 'ArvadosInstanceSecret', (cmd) => withSudo(cmd, inst.remoteUser)),
    });
    executors.push(exec);
    return exec;
  };

  beforeEach(() => {
    executors = [];
  });

  afterEach(async () => {
    for (const e of executors) e.close();
    await resetLameClouds();
  });

  it('listens on 127.0.0.1, logs in the admin user with the dispatcher key, and verifies through the instance secret', async () => {
    const { inst, secret } = await make();
    assert.match(inst.address, /^127\.0\.0\.1:\d+$/);
    assert.equal(inst.remoteUser, 'crunch');
    const exec = sshTo(inst);
    const r = await exec.execute(withSudo(instanceSecretCommand(), inst.remoteUser));
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout.toString(), secret);
    assert.equal(inst.vm.connectionCount(), 1);
  });

  it('refuses a client key other than the one given to create', async () => {
    const { inst } = await make();
    const exec = sshTo(inst, generateHostKey().private);
    await assert.rejects(exec.execute('true'), (err: unknown) => err instanceof SshConnectError && err.kind === 'authentication');
  });

  it('accepts AuthorizedKeys from the parameters too', async () => {
    const extra = generateHostKey();
    const { inst } = await make({ AuthorizedKeys: [extra.public] });
    assert.equal((await sshTo(inst, extra.private).execute('true')).exitCode, 0);
  });

  it('fails the boot probe until boot completes, then passes it', async () => {
    const { inst } = await make();
    const exec = sshTo(inst);
    const before = await exec.execute('systemctl is-system-running');
    assert.equal(before.exitCode, 1);
    assert.equal(before.stdout.toString(), 'starting\n');
    const crunchRun = await exec.execute(withSudo(crunchRunListCommand('crunch-run'), 'crunch'));
    assert.equal(crunchRun.exitCode, 1, 'crunch-run is not usable before boot');
    inst.vm.setBooted();
    const after = await exec.execute('systemctl is-system-running');
    assert.equal(after.exitCode, 0);
    assert.equal(after.stdout.toString(), 'running\n');
    assert.equal((await exec.execute('sudo crunch-run --list')).exitCode, 0);
  });

  it("treats the cluster's BootProbeCommand as the boot probe", async () => {
    const { inst } = await make({}, 'docker ps -q');
    const exec = sshTo(inst);
    assert.equal((await exec.execute('docker ps -q')).exitCode, 1);
    inst.vm.setBooted();
    assert.equal((await exec.execute('docker ps -q')).exitCode, 0);
  });

  it('keeps the instance secret root-only', async () => {
    const { inst } = await make();
    const r = await sshTo(inst).execute(instanceSecretCommand());
    assert.equal(r.exitCode, 1);
    assert.match(r.stderr.toString(), /Permission denied/);
  });

  it('deploys a runner: md5sum misses, install, md5sum matches, the deployed path runs', async () => {
    const { inst } = await make();
    inst.vm.setBooted();
    const exec = sshTo(inst);
    const binary = Buffer.from('#!/bin/sh\n# not really crunch-run\n' + 'x'.repeat(100_000));
    const md5 = createHash('md5').update(binary).digest('hex');
    const path = deployedRunnerPath('/tmp/arvados-crunch-run', md5);

    const missingRun = await exec.execute(withSudo(crunchRunListCommand(path), 'crunch'));
    assert.equal(missingRun.exitCode, 127);
    const miss = await exec.execute(runnerMd5Command(path));
    assert.equal(miss.exitCode, 1);
    assert.match(miss.stderr.toString(), /No such file or directory/);

    const install = await exec.execute(runnerInstallCommand(path, inst.remoteUser), { stdin: binary });
    assert.equal(install.exitCode, 0, install.stderr.toString());
    const hit = await exec.execute(runnerMd5Command(path));
    assert.equal(hit.exitCode, 0);
    assert.equal(hit.stdout.toString(), runnerMd5Expected(md5, path));
    assert.equal(hit.stderr.length, 0);

    const list = await exec.execute(withSudo(crunchRunListCommand(path), 'crunch'));
    assert.equal(list.exitCode, 0, list.stderr.toString());
  });

  it('answers unknown commands with 127 and shell syntax with 2', async () => {
    const { inst } = await make();
    const exec = sshTo(inst);
    assert.equal((await exec.execute('frobnicate --now')).exitCode, 127);
    assert.equal((await exec.execute('true && false')).exitCode, 2);
    assert.equal((await exec.execute('false')).exitCode, 1);
    assert.equal((await exec.execute(`echo 'a  b' c`)).stdout.toString(), 'a  b c\n');
  });

  it('survives dropConnections: the executor reconnects', async () => {
    const { inst } = await make();
    const exec = sshTo(inst);
    assert.equal((await exec.execute('true')).exitCode, 0);
    inst.vm.dropConnections();
    await waitFor('the connection to drop', () => inst.vm.connectionCount() === 0);
    assert.equal((await exec.execute('true')).exitCode, 0);
  });

  it('closes the SSH server when the VM is destroyed', async () => {
    const { inst } = await make();
    const exec = sshTo(inst);
    assert.equal((await exec.execute('true')).exitCode, 0);
    await inst.destroy();
    assert.equal(inst.vm.connectionCount(), 0);
    const fresh = sshTo(inst);
    await assert.rejects(fresh.execute('true'), (err: unknown) => err instanceof SshConnectError && err.kind === 'refused');
    assert.deepEqual(await set.instances({}), []);
  });
});
