/**
 * The lame cloud server's test endpoints, driven through LameCloudAdmin as
 * an end-to-end test in another process would: a VM created through the
 * remote driver, reached over SSH with the InstanceSecret check, runs a
 * container for the test controller; the endpoints boot it, crash its
 * crunch-run, break it and cut its connections, and the VM's answers over
 * SSH change accordingly.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { Instance, InstanceSet } from '../../../src/cloud/types.js';
import { createLogger, LineCollector } from '../../../src/log.js';
import type { SshExecutor } from '../../../src/ssh/ssh-executor.js';
import { crunchRunDetachCommand, crunchRunListCommand, withSudo } from '../../../src/arvados/crunch-run.js';
import { crunchRunConfigJSON } from '../../../src/worker/runner.js';
import { LameCloudAdmin, type LameCloudServer, lameDriver, startLameCloudServer } from '../../../drivers/lame/index.js';
import { TestController } from '../../fixtures/controller.js';
import { createArgs, DISPATCH_KEY, dispatcherExecutor, makeCluster, makeContext, SMALL, waitFor } from './helpers.js';

const TOKEN = `tok${randomBytes(24).toString('hex')}`;

describe('lame cloud server test endpoints', function () {
  this.timeout(20_000);
  let controller: TestController;
  let server: LameCloudServer;
  let admin: LameCloudAdmin;
  let remote: InstanceSet;
  const executors: SshExecutor[] = [];

  beforeEach(async () => {
    controller = new TestController({ rootToken: TOKEN, logger: createLogger({ stream: new LineCollector(), level: 'error' }) });
    await controller.start();
    const cluster = makeCluster({ controllerURL: controller.url });
    // Boot takes an hour unless the test endpoint says otherwise.
    cluster.Containers.CloudVMs.DriverParameters = { CloudURL: 'http://127.0.0.1:0', MinBootTime: '1h', MaxBootTime: '1h' };
    server = await startLameCloudServer({ cluster, logger: createLogger({ stream: new LineCollector(), level: 'error' }) });
    admin = new LameCloudAdmin(server.url);
    remote = await lameDriver({ CloudURL: server.url }, makeContext());
  });

  afterEach(async () => {
    for (const e of executors.splice(0)) e.close();
    remote.stop();
    await server.close();
    await controller.stop();
  });

  async function createVM(): Promise<{ instance: Instance; exec: SshExecutor }> {
    const a = createArgs('chaos');
    const instance = await remote.create(SMALL, 'img', a.tags, a.init, DISPATCH_KEY.public);
    const exec = dispatcherExecutor(instance);
    executors.push(exec);
    return { instance, exec };
  }

  const sudo = (cmd: string): string => withSudo(cmd, 'crunch');
  const run = async (exec: SshExecutor, cmd: string): Promise<{ code: number; out: string }> => {
    const r = await exec.execute(cmd);
    return { code: r.exitCode, out: r.stdout.toString() };
  };

  it('GET /v1/vms shows each VM; boot, crash-crunch-run, break and drop-connections act on it', async () => {
    const { instance, exec } = await createVM();
    let [vm] = await admin.vms();
    assert.equal(vm.id, instance.id);
    assert.deepEqual([vm.state, vm.booted, vm.broken, vm.address], ['running', false, false, instance.address]);
    assert.equal(vm.tags.ArvadosInstanceSetID, 'chaos');

    const probe = makeCluster().Containers.CloudVMs.BootProbeCommand;
    assert.equal((await run(exec, probe)).code, 1, 'not booted yet');
    vm = await admin.setBooted(instance.id);
    assert.equal(vm.booted, true);
    assert.equal((await run(exec, probe)).code, 0);

    // A container that would run for a minute, started as the dispatcher starts one.
    const container = controller.addContainer({ command: ['sleep', '60'] });
    const lock = await fetch(`${controller.url}/arvados/v1/containers/${container.uuid}/lock`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(lock.status, 200);
    const cluster = makeCluster({ controllerURL: controller.url });
    cluster.SystemRootToken = TOKEN;
    const cfg = crunchRunConfigJSON({ cluster, instanceType: SMALL, instanceAddress: instance.address, uuid: container.uuid });
    const detach = sudo(crunchRunDetachCommand({ crunchRunCommand: 'crunch-run', runtimeEngine: 'docker', argumentsList: [], uuid: container.uuid }));
    const started = await exec.execute(detach, { stdin: cfg });
    assert.equal(started.exitCode, 0, started.stderr.toString());
    await waitFor('the container to be Running', () => controller.get(container.uuid)?.state === 'Running');
    vm = await admin.vm(instance.id);
    assert.deepEqual(vm.runningContainers, [container.uuid]);
    assert.equal(vm.processes[0].phase, 'running');
    assert.ok(vm.connections >= 1);

    // Crash it with its lock held for a minute: --list shows it stale, and the container is left Running.
    vm = await admin.crashCrunchRun(instance.id, container.uuid, { staleLockMs: 60_000 });
    assert.deepEqual(vm.runningContainers, []);
    assert.deepEqual(
      vm.processes.map((p) => [p.alive, p.lockHeld]),
      [[false, true]],
    );
    assert.equal((await run(exec, sudo(crunchRunListCommand('crunch-run')))).out, `${container.uuid} stale\n`);
    assert.equal(controller.get(container.uuid)?.state, 'Running');
    await assert.rejects(admin.crashCrunchRun(instance.id, container.uuid), /no live crunch-run/);

    vm = await admin.breakVM(instance.id);
    assert.equal(vm.broken, true);
    assert.match((await run(exec, sudo(crunchRunListCommand('crunch-run')))).out, /^broken$/m);

    await admin.dropConnections(instance.id);
    await waitFor('the connection to close', async () => (await admin.vm(instance.id)).connections === 0);
    assert.equal((await run(exec, 'echo back')).out, 'back\n', 'the executor reconnects');
  });

  it('NeverBootRate: a VM that hangs in boot shows neverBoots, fails its boot probe, and boots when told to', async () => {
    await admin.configure({ NeverBootRate: 1, MinBootTime: 0, MaxBootTime: 0 });
    const { instance, exec } = await createVM();
    let vm = await admin.vm(instance.id);
    assert.deepEqual([vm.neverBoots, vm.booted], [true, false]);
    const probe = makeCluster().Containers.CloudVMs.BootProbeCommand;
    assert.equal((await run(exec, probe)).code, 1, 'boot time has passed, but it never boots');
    vm = await admin.setBooted(instance.id);
    assert.deepEqual([vm.neverBoots, vm.booted], [false, true]);
    assert.equal((await run(exec, probe)).code, 0);
    await admin.configure({ NeverBootRate: 0 });
    const { instance: next } = await createVM();
    assert.equal((await admin.vm(next.id)).neverBoots, false);
  });

  it('fail-next-create, configure and calls', async () => {
    await admin.failNextCreate({ class: 'QuotaError', message: 'injected quota' });
    await assert.rejects(createVM(), { name: 'QuotaError', message: 'injected quota' });
    await admin.configure({ CapacityErrorTypes: [SMALL.ProviderType] });
    await assert.rejects(createVM(), { name: 'CapacityError' });
    await assert.rejects(admin.configure({ ErrorRateCreate: 7 }), /DriverParameters\.ErrorRateCreate/);
    await assert.rejects(admin.configure({ CloudURL: 'http://127.0.0.1:1' }), /cannot change while the cloud runs/);
    const now = await admin.configure({ CapacityErrorTypes: [] });
    assert.deepEqual(now.CapacityErrorTypes, []);
    assert.equal(now.MinBootTime, '1h', 'earlier parameters stay in force');
    const { instance } = await createVM();
    assert.ok(instance.id);
    await remote.instances({});
    const calls = await admin.callCounts();
    assert.equal(calls.create, 3);
    assert.equal(calls.instances, 1);
    await assert.rejects(admin.vm('lame-nope'), /not found/);
    assert.deepEqual(await admin.ping(), { cloud: 'lame-cloud', vms: 1 });
  });
});
