/**
 * Runner deployment (DeployRunnerBinary): after the boot probe passes (or
 * fails, on a worker found in the cloud), the pool checks `md5sum` of
 * `DeployRunnerDirectory/crunch-run~<md5>` and copies the binary only when
 * the hash is not already right; every crunch-run command then uses that
 * path.
 */
import assert from 'node:assert/strict';
import { SshConnectionLostError } from '../../src/ssh/errors.js';
import { loadRunnerBinary } from '../../src/worker/runner-binary.js';
import { runnerBinaryToDeploy, SELF_EXE_RUNNER } from '../../src/worker/pool-config.js';
import { runnerMd5Hex } from '../../src/worker/worker-probe.js';
import { Harness, SMALL } from './helpers.js';

const BYTES = Buffer.from('#!/bin/sh\n# a stand-in crunch-run binary\n');
const MD5 = runnerMd5Hex(BYTES);
const PATH = `/tmp/arvados-crunch-run/crunch-run~${MD5}`;

describe('worker pool: runner deployment', function () {
  this.timeout(20_000);
  let h: Harness;

  afterEach(async () => {
    await h?.stop();
  });

  it('installs the runner once, skips the copy when md5sum matches, and copies again when it does not', async () => {
    h = await Harness.start({
      controller: false,
      runnerBinary: { md5hex: MD5, bytes: BYTES },
      cloudVMs: { DeployRunnerBinary: '/usr/local/bin/crunch-run', TimeoutIdle: 3_600_000 },
    });
    h.pool.start();
    await h.tick(0);
    h.pool.checkHealth();
    const id = await h.createIdle();
    const vm = h.cloud.vm(id)!;
    assert.deepEqual(vm.files.get(PATH), BYTES);
    assert.equal(h.sent(`md5sum ${PATH}`, id).length, 1);
    assert.equal(h.sent('cat >', id).length, 1, 'copied once');
    assert.ok(h.sent(`sudo ${PATH} --list`, id).length > 0, 'crunch-run runs from the deployed path');

    // A restarted dispatcher finds the right file and does not copy it again.
    await h.restart();
    assert.equal(h.pool.detail(id)?.workerState, 'idle');
    assert.equal(h.sent(`md5sum ${PATH}`, id).length, 2);
    assert.equal(h.sent('cat >', id).length, 1, 'md5 matched: no copy');
    // Logged as the reference logs them: lower-case hash and path, and the install's cmd.
    const said = h.logs.records().filter((r) => r.Instance === id && /^(installing runner binary on worker|runner binary already exists on worker, with correct hash)$/.test(String(r.msg)));
    assert.deepEqual(
      said.map((r) => [r.msg, r.hash, r.path, typeof r.cmd === 'string' && r.cmd.includes('cat >')]),
      [
        ['installing runner binary on worker', MD5, PATH, true],
        ['runner binary already exists on worker, with correct hash', MD5, PATH, false],
      ],
    );

    // A damaged file is replaced.
    vm.files.set(PATH, Buffer.from('garbage'));
    await h.restart();
    assert.equal(h.pool.detail(id)?.workerState, 'idle');
    assert.equal(h.sent('cat >', id).length, 2);
    assert.deepEqual(vm.files.get(PATH), BYTES);
  });

  it('a VM where the runner install fails does not go into service, even with a (wrong) file already at the runner path', async () => {
    // The lame VM refuses to install at a relative path: the install exits 1.
    h = await Harness.start({
      controller: false,
      runnerBinary: { md5hex: MD5, bytes: BYTES },
      cloudVMs: { DeployRunnerBinary: '/usr/local/bin/crunch-run', DeployRunnerDirectory: 'relative-dir', TimeoutIdle: 3_600_000 },
    });
    h.pool.start();
    await h.tick(0);
    assert.ok(h.pool.create(SMALL));
    await h.tick(0);
    const id = h.only().instance;
    // Not the binary we deploy (its md5 differs): a stale or planted file that the failed install did not replace.
    const path = `relative-dir/crunch-run~${MD5}`;
    h.cloud.vm(id)!.files.set(path, Buffer.from('not our runner'));
    void h.pool.probeNow();
    await h.tick(1000);
    assert.equal(h.sent('cat >', id).length, 1, 'the install was tried');
    assert.deepEqual(h.cloud.vm(id)!.files.get(path), Buffer.from('not our runner'), 'and failed');
    assert.notEqual(h.pool.detail(id)?.workerState, 'idle', 'not in service with a runner whose hash is wrong');
    assert.equal(h.sent(`${path} --list`, id).length, 0, 'the wrong file is never run');
    assert.ok(h.logs.lines.some((l) => l.includes('error copying runner binary')), 'the failure is logged');
  });

  it('installs the runner on a worker found in the cloud even when its boot probe fails, so its --list can say what runs there', async () => {
    h = await Harness.start({
      runnerBinary: { md5hex: MD5, bytes: BYTES },
      cloudVMs: { DeployRunnerBinary: '/usr/local/bin/crunch-run', TimeoutIdle: 3_600_000 },
    });
    h.pool.start();
    await h.tick(0);
    const id = await h.createIdle();
    const c = h.ctl!.addContainer({ state: 'Locked', command: ['sleep', '3600'] });
    assert.equal(h.pool.startContainer(id, h.ctl!.get(c.uuid)!), true);
    await h.tick(0);
    // The runner file is gone (a new path after an upgrade, or a cleaned /tmp), and the VM says degraded.
    h.cloud.vm(id)!.files.delete(PATH);
    h.degraded.add(id);
    await h.restart();
    assert.equal(h.pool.detail(id)?.workerState, 'unknown', 'the boot probe still fails');
    assert.equal(h.sent('cat >', id).length, 2, 'copied again');
    assert.deepEqual(h.pool.detail(id)?.runningContainerUUIDs, [c.uuid], 'its --list ran, from the deployed path');
    assert.equal(h.pool.unlistedWorkers(), 0);
  });

  it("with the reference's default DeployRunnerBinary (/proc/self/exe): nothing to deploy, healthy, and crunch-run from the image", async () => {
    h = await Harness.start({ controller: false, cloudVMs: { DeployRunnerBinary: SELF_EXE_RUNNER, TimeoutIdle: 3_600_000 } });
    // The dispatcher loads nothing for it (this process is no crunch-run binary)...
    assert.equal(loadRunnerBinary(h.cluster, h.log), undefined);
    // ...and the pool must not take that for a binary that failed to load.
    h.pool.start();
    await h.tick(0);
    h.pool.checkHealth();
    const id = await h.createIdle();
    assert.equal(h.sent('md5sum', id).length, 0);
    assert.equal(h.sent('cat >', id).length, 0);
    assert.ok(h.sent('sudo crunch-run --list', id).length > 0, 'crunch-run runs as CrunchRunCommand');
  });

  it('a VM where copying the runner fails with an SSH error is not put in service, says why, and gets the copy at a later probe', async () => {
    h = await Harness.start({
      controller: false,
      runnerBinary: { md5hex: MD5, bytes: BYTES },
      cloudVMs: { DeployRunnerBinary: '/usr/local/bin/crunch-run', TimeoutIdle: 3_600_000 },
    });
    // The first copy dies with the connection, as when the VM's sshd restarts mid-transfer.
    let copies = 0;
    const executorFor = h.instanceSet.executorFor!.bind(h.instanceSet);
    h.instanceSet.executorFor = (inst) => {
      const inner = executorFor(inst)!;
      return {
        execute: (command, options) =>
          command.includes('cat >') && ++copies === 1 ? Promise.reject(new SshConnectionLostError('vm:22', 'was lost while the command was running', true)) : inner.execute(command, options),
        setTarget: (address) => inner.setTarget(address),
        close: () => inner.close(),
      };
    };
    h.pool.start();
    await h.tick(0);
    assert.ok(h.pool.create(SMALL));
    await h.tick(0);
    const id = h.only().instance;
    void h.pool.probeNow();
    await h.tick(1000);
    assert.equal(copies, 1, 'the copy was tried');
    assert.notEqual(h.pool.detail(id)?.workerState, 'idle', 'not in service without its runner');
    const warned = h.logs.records().filter((r) => r.msg === 'error copying runner binary');
    assert.deepEqual(
      warned.map((r) => [r.level, r.Instance, String(r.error)]),
      [['warning', id, 'SSH connection to vm:22 was lost while the command was running']],
    );
    assert.equal(h.sent(`${PATH} --list`, id).length, 0, 'the runner is not run before it is in place');

    void h.pool.probeNow();
    await h.tick(10_000);
    assert.equal(copies, 2, 'copied again at the next probe');
    assert.equal(h.pool.detail(id)?.workerState, 'idle');
    assert.deepEqual(h.cloud.vm(id)!.files.get(PATH), BYTES);
  });

  it('a worker found in the cloud when the runner binary could not be loaded passes its boot probe but is not put in service, and the warning says why', async () => {
    h = await Harness.start({ controller: false, cloudVMs: { TimeoutIdle: 3_600_000 } });
    h.pool.start();
    await h.tick(0);
    const id = await h.createIdle();
    // The dispatcher restarts configured to deploy a binary it then fails to load.
    h.cluster.Containers.CloudVMs.DeployRunnerBinary = '/usr/local/bin/crunch-run';
    const before = h.commands.length;
    const logsBefore = h.logs.lines.length;
    await h.restart();
    void h.pool.probeNow();
    await h.tick(1000);
    void h.pool.probeNow();
    await h.tick(1000);
    const after = h.commands.slice(before).filter((c) => c.instance === id);
    assert.ok(after.filter((c) => c.command === h.cluster.Containers.CloudVMs.BootProbeCommand).length >= 2, 'probed twice');
    assert.equal(h.pool.detail(id)?.workerState, 'unknown', 'not in service');
    const logged = h.logs.records().slice(logsBefore);
    assert.ok(logged.some((r) => r.msg === 'boot probe succeeded' && r.Instance === id), 'its boot probe passed');
    assert.deepEqual(
      after.filter((c) => /md5sum|cat >/.test(c.command)),
      [],
      'nothing to copy',
    );
    const warned = logged.filter((r) => String(r.msg).startsWith('cannot boot worker'));
    assert.deepEqual(
      warned.map((r) => [r.level, r.msg, r.Instance]),
      [['warning', 'cannot boot worker: error loading runner binary (DeployRunnerBinary)', id]],
      'once: the warning is rate-limited',
    );
  });

  it('runnerBinaryToDeploy: only a real path is a binary to deploy', () => {
    assert.equal(runnerBinaryToDeploy({ DeployRunnerBinary: '' }), undefined);
    assert.equal(runnerBinaryToDeploy({ DeployRunnerBinary: '/proc/self/exe' }), undefined);
    assert.equal(runnerBinaryToDeploy({ DeployRunnerBinary: '/usr/local/bin/crunch-run' }), '/usr/local/bin/crunch-run');
  });

  it('with DeployRunnerBinary configured but not loaded: unhealthy, and no create', async () => {
    h = await Harness.start({ controller: false, cloudVMs: { DeployRunnerBinary: '/usr/local/bin/crunch-run' } });
    h.pool.start();
    await h.tick(0);
    assert.throws(() => h.pool.checkHealth(), /error loading runner binary/);
    assert.equal(h.pool.create(SMALL), undefined);
  });
});
