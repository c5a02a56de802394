/**
 * The foundations together, over real sockets: the config loader's Cluster,
 * the lame driver through the registry and wrappers, the SSH executor with
 * host key trust through the instance secret, crunch-run started with its
 * config on stdin, and the test controller seeing the container through to
 * Complete. Everything logs at debug into one capture, with no secret
 * registered for scrubbing, to show that the paths that log requests and
 * commands never write a token in the first place.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { TestController } from '../fixtures/controller.js';
import { waitFor } from '../cloud/conformance.js';
import { resetLameClouds } from '../../drivers/lame/index.js';
import { systemClock } from '../../src/clock/index.js';
import '../../src/drivers.js';
import { instanceSetIdFor, newInstanceSet } from '../../src/cloud/registry.js';
import type { Instance, InstanceSet } from '../../src/cloud/types.js';
import { loadConfigText } from '../../src/config/index.js';
import type { Cluster } from '../../src/config/types.js';
import { createLogger, LineCollector, type Logger } from '../../src/log.js';
import { generateSshKeyPair } from '../../src/ssh/keys.js';
import { HostKeyRefusedError, SshExecutor } from '../../src/ssh/ssh-executor.js';
import { crunchRunDetachCommand, crunchRunListCommand, initCommandForSecret, withSudo } from '../../src/arvados/crunch-run.js';
import { crunchRunConfigJSON } from '../../src/worker/runner.js';
import { hostKeyVerifier } from '../../src/worker/verify.js';

const TOKEN = `tok${randomBytes(24).toString('hex')}`;

function clusterFor(controllerURL: string): Cluster {
  return loadConfigText(`
Clusters:
  zzzzz:
    SystemRootToken: ${TOKEN}
    ManagementToken: mgmt${randomBytes(16).toString('hex')}
    Services:
      Controller:
        ExternalURL: ${controllerURL}
    Containers:
      CloudVMs:
        Driver: lame
        DriverParameters:
          MinBootTime: 200ms
          MaxBootTime: 400ms
          CloudName: foundations-${randomBytes(4).toString('hex')}
    InstanceTypes:
      small:
        VCPUs: 2
        RAM: 4GiB
        Price: 0.1
`).cluster;
}

describe('foundations end to end (lame cloud over SSH, test controller over HTTP)', function () {
  this.timeout(30_000);
  let out: LineCollector;
  let log: Logger;
  let controller: TestController;
  let cluster: Cluster;
  let set: InstanceSet;
  const key = generateSshKeyPair();
  const executors: SshExecutor[] = [];

  beforeEach(async () => {
    out = new LineCollector();
    log = createLogger({ level: 'debug', stream: out });
    controller = new TestController({ rootToken: TOKEN, logger: log.child({ Component: 'controller' }) });
    await controller.start();
    cluster = clusterFor(controller.url);
    set = await newInstanceSet({ cluster, logger: log, clock: systemClock });
  });

  afterEach(async () => {
    for (const e of executors.splice(0)) e.close();
    set.stop();
    await controller.stop();
    await resetLameClouds();
  });

  async function createVM(): Promise<{ instance: Instance; secretTag: string }> {
    const secret = randomBytes(20).toString('hex');
    const secretTag = 'ArvadosInstanceSecret';
    const instance = await set.create(
      cluster.InstanceTypes.small,
      cluster.Containers.CloudVMs.ImageID,
      { ArvadosInstanceSetID: instanceSetIdFor(cluster), ArvadosInstanceType: 'small', ArvadosIdleBehavior: 'run', [secretTag]: secret },
      initCommandForSecret(secret),
      key.public,
    );
    return { instance, secretTag };
  }

  function executorFor(instance: Instance, secretTag: string): SshExecutor {
    const exec = new SshExecutor({
      target: instance.address,
      username: instance.remoteUser,
      privateKey: key.private,
      verifyHostKey: hostKeyVerifier(instance, secretTag, (cmd) => withSudo(cmd, instance.remoteUser)),
      connectTimeoutMs: 5000,
      commandTimeoutMs: 5000,
      logger: log.child({ Instance: instance.id }),
    });
    executors.push(exec);
    return exec;
  }

  it('runs a container to Complete, and no log line carries the token', async () => {
    const container = controller.addContainer({ command: ['sleep', '1'] });
    const { instance, secretTag } = await createVM();
    const listed = await set.instances({ ArvadosInstanceSetID: instanceSetIdFor(cluster) });
    assert.deepEqual(
      listed.map((i) => i.id),
      [instance.id],
    );
    const exec = executorFor(instance, secretTag);
    await waitFor('boot probe', async () => (await exec.execute(cluster.Containers.CloudVMs.BootProbeCommand)).exitCode === 0, 10_000, 50);

    const lock = await fetch(`${controller.url}/arvados/v1/containers/${container.uuid}/lock`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(lock.status, 200);
    const cfg = crunchRunConfigJSON({ cluster, instanceType: cluster.InstanceTypes.small, instanceAddress: instance.address, uuid: container.uuid });
    assert.equal(JSON.parse(cfg).Env.ARVADOS_API_TOKEN, TOKEN, 'the token does travel, on stdin');
    const detach = withSudo(
      crunchRunDetachCommand({ crunchRunCommand: 'crunch-run', runtimeEngine: 'docker', argumentsList: [], uuid: container.uuid }),
      instance.remoteUser,
    );
    const res = await exec.execute(detach, { stdin: cfg });
    assert.equal(res.exitCode, 0, res.stderr.toString());
    const list = await exec.execute(withSudo(crunchRunListCommand('crunch-run'), instance.remoteUser));
    assert.match(list.stdout.toString(), new RegExp(`^${container.uuid}$`, 'm'));

    await waitFor('container Complete', () => controller.get(container.uuid)?.state === 'Complete', 10_000, 50);
    assert.equal(controller.get(container.uuid)?.exit_code, 0);
    assert.deepEqual(
      controller.history(container.uuid).map((h) => h.state),
      ['Queued', 'Locked', 'Running', 'Complete'],
    );
    await instance.destroy();
    await waitFor('instance gone', async () => (await set.instances({ ArvadosInstanceSetID: instanceSetIdFor(cluster) })).length === 0);

    const text = out.lines.join('\n');
    assert.ok(out.lines.length > 10, 'the paths under test did log at debug level');
    assert.ok(text.includes('/lock'), 'controller requests were logged');
    assert.ok(!text.includes(TOKEN), 'a token reached the log output');
    assert.ok(!text.includes(cluster.ManagementToken));
  });

  it('refuses a VM whose instance secret does not match its tag (wrong host key)', async () => {
    const { instance, secretTag } = await createVM();
    // Same VM, but the dispatcher believes a different secret: as if another host answered.
    const impostor: Instance = Object.create(instance, { tags: { value: { ...instance.tags, [secretTag]: 'f'.repeat(40) } } });
    const exec = executorFor(impostor, secretTag);
    await assert.rejects(exec.execute('true'), (err: unknown) => {
      assert.ok(err instanceof HostKeyRefusedError, String(err));
      assert.match(err.message, /SHA256:/);
      return true;
    });
    // The genuine record verifies fine against the same host.
    const good = executorFor(instance, secretTag);
    assert.equal((await good.execute('true')).exitCode, 0);
  });
});
