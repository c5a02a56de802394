/**
 * `arvados-dispatch-cloud lame-cloud` as a real child process: a dispatcher
 * side (the registry's lame driver with CloudURL) creates a VM in it, reaches
 * the VM over SSH with the InstanceSecret check, runs a container that
 * reports to the test controller from the child, and a second, fresh
 * instance set (a restarted dispatcher) finds the VM with its tags. SIGTERM
 * then stops the child cleanly. Also: the exit statuses for a bad config and
 * a taken port.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { systemClock } from '../../../src/clock/index.js';
import '../../../src/drivers.js';
import { instanceSetIdFor, newInstanceSet } from '../../../src/cloud/registry.js';
import type { InstanceSet } from '../../../src/cloud/types.js';
import { loadConfigText } from '../../../src/config/index.js';
import type { Cluster } from '../../../src/config/types.js';
import { createLogger, LineCollector } from '../../../src/log.js';
import type { SshExecutor } from '../../../src/ssh/ssh-executor.js';
import { crunchRunDetachCommand, initCommandForSecret, withSudo } from '../../../src/arvados/crunch-run.js';
import { crunchRunConfigJSON } from '../../../src/worker/runner.js';
import { TestController } from '../../fixtures/controller.js';
import { DISPATCH_KEY, dispatcherExecutor, waitFor } from './helpers.js';

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const TOKEN = `tok${randomBytes(24).toString('hex')}`;

function configText(controllerURL: string, cloudURL: string, extra = ''): string {
  return `
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
          CloudURL: ${cloudURL}
          MinBootTime: 0s
          MaxBootTime: 0s
${extra}
    InstanceTypes:
      small:
        VCPUs: 2
        RAM: 4GiB
        Price: 0.1
`;
}

interface Child {
  proc: ChildProcess;
  /** Every stdout line so far. */
  lines: string[];
  stderr: () => string;
  /** Resolves with the exit status (or the signal's name). */
  exited: Promise<number | string>;
}

function startChild(configFile: string): Child {
  const proc = spawn(process.execPath, ['scripts/from-sources.mjs', 'lame-cloud', '--config', configFile], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LOG_LEVEL: 'debug' },
  });
  const lines: string[] = [];
  createInterface({ input: proc.stdout! }).on('line', (l) => lines.push(l));
  let err = '';
  proc.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | string>((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal ?? -1)));
  return { proc, lines, stderr: () => err, exited };
}

/** Resolves with the URL the child logs once it listens; rejects if it exits first. */
async function listeningURL(child: Child): Promise<string> {
  let exitedWith: number | string | undefined;
  void child.exited.then((c) => (exitedWith = c));
  let url: string | undefined;
  await waitFor(
    'the lame cloud to log that it listens',
    () => {
      if (exitedWith !== undefined) assert.fail(`lame-cloud exited with ${exitedWith}: ${child.stderr()}`);
      for (const l of child.lines) {
        let rec: { msg?: string; URL?: string };
        try {
          rec = JSON.parse(l) as typeof rec;
        } catch {
          continue;
        }
        if (rec.msg === 'lame cloud listening') url = rec.URL;
      }
      return url !== undefined;
    },
    20_000,
    20,
  );
  return url!;
}

describe('arvados-dispatch-cloud lame-cloud (child process)', function () {
  this.timeout(60_000);
  let dir: string;
  let controller: TestController;
  const children: Child[] = [];
  const sets: InstanceSet[] = [];
  const executors: SshExecutor[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lame-cloud-'));
    controller = new TestController({ rootToken: TOKEN, logger: createLogger({ stream: new LineCollector(), level: 'error' }) });
    await controller.start();
  });

  afterEach(async () => {
    for (const e of executors.splice(0)) e.close();
    for (const s of sets.splice(0)) s.stop();
    for (const c of children.splice(0)) {
      if (c.proc.exitCode === null && c.proc.signalCode === null) c.proc.kill('SIGKILL');
      await c.exited;
    }
    await controller.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  function writeConfig(text: string): string {
    const file = join(dir, 'config.yml');
    writeFileSync(file, text);
    return file;
  }

  /** A dispatcher's instance set for the cluster, with DriverParameters pointing at the child. */
  async function dispatcherSet(cluster: Cluster): Promise<InstanceSet> {
    const s = await newInstanceSet({ cluster, logger: createLogger({ stream: new LineCollector(), level: 'error' }), clock: systemClock });
    sets.push(s);
    return s;
  }

  it('serves VMs that outlive an instance set, run containers, and stop on SIGTERM', async () => {
    const child = startChild(writeConfig(configText(controller.url, 'http://127.0.0.1:0')));
    children.push(child);
    const url = await listeningURL(child);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const cluster = loadConfigText(configText(controller.url, url)).cluster;
    const setId = instanceSetIdFor(cluster);

    const first = await dispatcherSet(cluster);
    const secret = randomBytes(20).toString('hex');
    const tags = { ArvadosInstanceSetID: setId, ArvadosInstanceType: 'small', ArvadosIdleBehavior: 'run', ArvadosInstanceSecret: secret };
    const instance = await first.create(cluster.InstanceTypes.small, 'img', tags, initCommandForSecret(secret), DISPATCH_KEY.public);
    assert.match(instance.address, /^127\.0\.0\.1:\d+$/);

    const exec = dispatcherExecutor(instance);
    executors.push(exec);
    assert.equal((await exec.execute(cluster.Containers.CloudVMs.BootProbeCommand)).exitCode, 0);

    // crunch-run in the child reports to the controller in this process.
    const container = controller.addContainer({ command: ['sleep', '1'] });
    const lock = await fetch(`${controller.url}/arvados/v1/containers/${container.uuid}/lock`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(lock.status, 200);
    const cfg = crunchRunConfigJSON({ cluster, instanceType: cluster.InstanceTypes.small, instanceAddress: instance.address, uuid: container.uuid });
    const detach = withSudo(
      crunchRunDetachCommand({ crunchRunCommand: 'crunch-run', runtimeEngine: 'docker', argumentsList: [], uuid: container.uuid }),
      instance.remoteUser,
    );
    const res = await exec.execute(detach, { stdin: cfg });
    assert.equal(res.exitCode, 0, res.stderr.toString());
    await waitFor('container Complete', () => controller.get(container.uuid)?.state === 'Complete', 15_000, 50);

    // The dispatcher goes away; a new one (fresh instance set, same config) finds the VM and its tags.
    first.stop();
    const restarted = await dispatcherSet(cluster);
    const listed = await restarted.instances({ ArvadosInstanceSetID: setId });
    assert.deepEqual(
      listed.map((i) => ({ id: i.id, address: i.address, secret: i.tags.ArvadosInstanceSecret, type: i.tags.ArvadosInstanceType })),
      [{ id: instance.id, address: instance.address, secret, type: 'small' }],
    );

    exec.close();
    child.proc.kill('SIGTERM');
    assert.equal(await child.exited, 0, child.stderr());
    const records = child.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.ok(records.some((r) => r.msg === 'lame cloud stopping' && r.Signal === 'SIGTERM'));
    assert.ok(records.some((r) => r.msg === 'lame cloud closed' && r.VMs === 1));
    assert.ok(records.every((r) => r.Component === 'lame-cloud' && r.ClusterID === 'zzzzz'), 'JSON lines with the process fields');
    assert.ok(!child.lines.join('\n').includes(TOKEN), 'a token reached the lame cloud log');
    // The VM's SSH server went with the process.
    const port = Number(instance.address.split(':')[1]);
    await assert.rejects(
      new Promise<void>((resolve, reject) => {
        const sock = net.connect(port, '127.0.0.1', () => {
          sock.destroy();
          resolve();
        });
        sock.on('error', reject);
      }),
      /ECONNREFUSED/,
    );
  });

  it('exits 2 naming the key when the config lacks CloudURL or has a bad parameter', async () => {
    const noURL = configText(controller.url, 'http://127.0.0.1:0').replace(/ *CloudURL: .*\n/, '');
    const child = startChild(writeConfig(noURL));
    children.push(child);
    assert.equal(await child.exited, 2);
    assert.match(child.stderr(), /^lame-cloud: Clusters\.zzzzz\.Containers\.CloudVMs\.DriverParameters\.CloudURL: required/m);

    const bad = startChild(writeConfig(configText(controller.url, 'http://127.0.0.1:0', '          ErrorRateCreate: 2')));
    children.push(bad);
    assert.equal(await bad.exited, 2);
    assert.match(bad.stderr(), /DriverParameters\.ErrorRateCreate: expected a number from 0 to 1/);

    const missing = startChild(join(dir, 'nope.yml'));
    children.push(missing);
    assert.equal(await missing.exited, 2);
    assert.match(missing.stderr(), /cannot read the config file/);
  });

  it('exits 1 saying the port is taken', async () => {
    const holder = net.createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = holder.address() as AddressInfo;
      const child = startChild(writeConfig(configText(controller.url, `http://127.0.0.1:${port}`)));
      children.push(child);
      assert.equal(await child.exited, 1);
      assert.match(child.stderr(), new RegExp(`cannot listen on http://127\\.0\\.0\\.1:${port} \\(DriverParameters\\.CloudURL\\): the port is already in use`));
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });
});
