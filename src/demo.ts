/**
 * `arvados-dispatch-cloud demo` (what `npm start` runs): the foundations at
 * work on one machine, with nothing to install. It starts the in-process
 * Arvados controller, queues a few containers, and for each one walks the
 * path the dispatcher takes: create a VM on the lame cloud (tags, init
 * command with the instance secret), wait for its boot probe over real SSH,
 * trust its host key through the secret, lock the container, start
 * crunch-run with its config on stdin, watch `crunch-run --list` until the
 * container is final, then destroy the VM. Every step is a JSON log line;
 * a table at the end says how each container ended.
 *
 * It is deliberately sequential per container and has no scheduler: it shows
 * the pieces the dispatcher is built from, each doing its real job.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestController } from '../test/fixtures/controller.js';
import type { Container } from './arvados/types.js';
import { systemClock } from './clock/index.js';
import './cloud/drivers.js';
import { instanceSetIdFor, newInstanceSet } from './cloud/registry.js';
import { asCapacityError } from './cloud/errors.js';
import type { Instance, InstanceSet } from './cloud/types.js';
import { loadConfigFile } from './config/index.js';
import type { Cluster, InstanceType } from './config/types.js';
import { createLogger, type Logger } from './log.js';
import { generateSshKeyPair } from './ssh/keys.js';
import { SshExecutor } from './ssh/ssh-executor.js';
import {
  crunchRunConfig,
  crunchRunDetachCommand,
  crunchRunListCommand,
  initCommandForSecret,
  withSudo,
} from './worker/runner.js';
import { hostKeyVerifier } from './worker/verify.js';

export const EXAMPLE_CONFIG = join(fileURLToPath(new URL('..', import.meta.url)), 'config.example.yml');

/** The containers the demo queues: a short sleep, one that fails, and a bigger one. */
const DEMO_CONTAINERS: Array<{ command: string[]; vcpus: number; ram: number }> = [
  { command: ['sleep', '3'], vcpus: 1, ram: 1 << 30 },
  { command: ['false'], vcpus: 1, ram: 1 << 30 },
  { command: ['sleep', '5'], vcpus: 4, ram: 8 << 30 },
];

const POLL_MS = 250;
const CONTAINER_DEADLINE_MS = 120_000;

interface Outcome {
  uuid: string;
  command: string;
  instanceType: string;
  instance: string;
  state: string;
  exitCode: string;
  seconds: number;
}

export interface DemoOptions {
  config: string;
  cluster?: string;
}

export async function runDemoCommand(opts: DemoOptions): Promise<number> {
  const { cluster: loaded } = loadConfigFile(opts.config, { clusterId: opts.cluster });
  const log = createLogger({ level: loaded.SystemLogs.LogLevel, secrets: [loaded.SystemRootToken, loaded.ManagementToken] });
  const controller = new TestController({ clusterId: loaded.ClusterID, rootToken: loaded.SystemRootToken, logger: log.child({ Component: 'controller' }) });
  await controller.start();
  const cluster: Cluster = {
    ...loaded,
    Services: { ...loaded.Services, Controller: { ExternalURL: controller.url } },
  };
  const key = cluster.Containers.DispatchPrivateKey ? undefined : generateSshKeyPair();
  const privateKey = cluster.Containers.DispatchPrivateKey || key!.private;
  const publicKey = key?.public ?? '';
  const instanceSet = await newInstanceSet({ cluster, logger: log, clock: systemClock });
  log.info('demo started', { Controller: controller.url, Driver: cluster.Containers.CloudVMs.Driver });

  const queued = DEMO_CONTAINERS.map((c) =>
    controller.addContainer({ command: c.command, runtime_constraints: { vcpus: c.vcpus, ram: c.ram } }),
  );
  try {
    const outcomes = await Promise.all(
      queued.map((c) => runOne(c, { cluster, controller, instanceSet, privateKey, publicKey, log: log.child({ ContainerUUID: c.uuid }) })),
    );
    const left = await instanceSet.instances({ [tag(cluster, 'InstanceSetID')]: instanceSetIdFor(cluster) });
    printTable(outcomes);
    process.stdout.write(`\nVMs left in the cloud: ${left.length}\n`);
    return outcomes.every((o) => o.state === 'Complete' || o.state === 'Cancelled') && left.length === 0 ? 0 : 1;
  } finally {
    instanceSet.stop();
    await controller.stop();
  }
}

interface RunDeps {
  cluster: Cluster;
  controller: TestController;
  instanceSet: InstanceSet;
  privateKey: string;
  publicKey: string;
  log: Logger;
}

function tag(cluster: Cluster, name: string): string {
  return cluster.Containers.CloudVMs.TagKeyPrefix + name;
}

/** Eligible types, cheapest first: enough VCPUs and RAM, not preemptible (the scheduler's full rules come later). */
function typesFor(cluster: Cluster, c: Container): InstanceType[] {
  return Object.values(cluster.InstanceTypes)
    .filter((t) => !t.Preemptible && t.VCPUs >= c.runtime_constraints.vcpus && t.RAM >= c.runtime_constraints.ram)
    .sort((a, b) => a.Price - b.Price);
}

async function runOne(container: Container, deps: RunDeps): Promise<Outcome> {
  const { cluster, controller, log } = deps;
  const started = systemClock.now();
  const outcome = (type: string, instance: string): Outcome => {
    const c = controller.get(container.uuid)!;
    return {
      uuid: c.uuid,
      command: JSON.stringify(container.command),
      instanceType: type,
      instance,
      state: c.state,
      exitCode: c.exit_code === null || c.exit_code === undefined ? '' : String(c.exit_code),
      seconds: Math.round((systemClock.now() - started) / 100) / 10,
    };
  };
  const created = await createVM(container, deps);
  if (!created) {
    controller.cancel(container.uuid, 'demo: no instance type could be created');
    return outcome('-', '-');
  }
  const { instance, type } = created;
  const vlog = log.child({ Instance: instance.id, InstanceType: type.Name });
  const exec = new SshExecutor({
    target: instance.address,
    defaultPort: Number(cluster.Containers.CloudVMs.SSHPort),
    username: instance.remoteUser,
    privateKey: deps.privateKey,
    verifyHostKey: hostKeyVerifier(instance, tag(cluster, 'InstanceSecret'), (cmd) => withSudo(cmd, instance.remoteUser)),
    connectTimeoutMs: 10_000,
    commandTimeoutMs: 10_000,
    logger: vlog,
  });
  try {
    await waitFor(vlog, 'boot probe', async () => (await exec.execute(cluster.Containers.CloudVMs.BootProbeCommand)).exitCode === 0);
    vlog.info('instance booted; host key verified through the instance secret');
    await lock(container.uuid, deps);
    const cfg = crunchRunConfig({ cluster, instanceType: type, instanceAddress: instance.address, uuid: container.uuid });
    const cmd = withSudo(
      crunchRunDetachCommand({
        crunchRunCommand: cluster.Containers.CrunchRunCommand,
        runtimeEngine: cluster.Containers.RuntimeEngine,
        argumentsList: cluster.Containers.CrunchRunArgumentsList,
        uuid: container.uuid,
      }),
      instance.remoteUser,
    );
    const res = await exec.execute(cmd, { stdin: JSON.stringify(cfg) });
    if (res.exitCode !== 0) throw new Error(`crunch-run --detach exited ${res.exitCode}: ${res.stderr.toString().trim()}`);
    vlog.info('crunch-run started');
    await waitFor(vlog, 'container to finish', async () => {
      const c = controller.get(container.uuid)!;
      if (c.state === 'Complete' || c.state === 'Cancelled') return true;
      const list = await exec.execute(withSudo(crunchRunListCommand(cluster.Containers.CrunchRunCommand), instance.remoteUser));
      const alive = list.stdout.toString().split('\n').some((l) => l.trim() === container.uuid);
      if (!alive && c.state === 'Running') {
        // crunch-run died without finishing the container: what the syncer will cancel.
        controller.cancel(container.uuid, 'crunch-run exited without finalising the container');
        vlog.warn('crunch-run is gone but the container is still Running; cancelled it');
        return true;
      }
      return false;
    });
    const c = controller.get(container.uuid)!;
    vlog.info('container finished', { State: c.state, ExitCode: c.exit_code });
  } catch (err) {
    vlog.error('demo step failed; cancelling the container', { error: err });
    const c = controller.get(container.uuid)!;
    if (c.state !== 'Complete' && c.state !== 'Cancelled') controller.cancel(container.uuid, `demo: ${(err as Error).message}`);
  } finally {
    exec.close();
    await destroy(instance, vlog);
  }
  return outcome(type.Name, instance.id);
}

/** Creates a VM for the container, falling back to the next type on capacity errors and retrying transient ones. */
async function createVM(container: Container, deps: RunDeps): Promise<{ instance: Instance; type: InstanceType } | undefined> {
  const { cluster, log } = deps;
  for (const type of typesFor(cluster, container)) {
    for (let attempt = 1; attempt <= 3; attempt++) {
      const secret = randomBytes(20).toString('hex');
      const tags = {
        [tag(cluster, 'InstanceSetID')]: instanceSetIdFor(cluster),
        [tag(cluster, 'InstanceType')]: type.Name,
        [tag(cluster, 'IdleBehavior')]: 'run',
        [tag(cluster, 'InstanceSecret')]: secret,
      };
      const init = [cluster.Containers.CloudVMs.InstanceInitCommand, initCommandForSecret(secret)].filter(Boolean).join('\n');
      try {
        const instance = await deps.instanceSet.create(type, cluster.Containers.CloudVMs.ImageID, tags, init, deps.publicKey);
        log.info('instance created', { Instance: instance.id, InstanceType: type.Name });
        return { instance, type };
      } catch (err) {
        if (asCapacityError(err)) {
          log.warn('no capacity for this type; trying the next eligible one', { InstanceType: type.Name, error: err });
          break;
        }
        log.warn('create failed; retrying', { InstanceType: type.Name, Attempt: attempt, error: err });
        await systemClock.sleep(POLL_MS * attempt);
      }
    }
  }
  return undefined;
}

async function lock(uuid: string, deps: RunDeps): Promise<void> {
  const res = await fetch(`${deps.controller.url}/arvados/v1/containers/${uuid}/lock`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${deps.cluster.SystemRootToken}` },
  });
  if (!res.ok) throw new Error(`lock ${uuid}: HTTP ${res.status} ${await res.text()}`);
  deps.log.info('container locked');
}

async function destroy(instance: Instance, log: Logger): Promise<void> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    try {
      await instance.destroy();
      log.info('instance destroyed');
      return;
    } catch (err) {
      log.warn('destroy failed; retrying', { Attempt: attempt, error: err });
      await systemClock.sleep(POLL_MS * attempt);
    }
  }
}

async function waitFor(log: Logger, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = systemClock.now() + CONTAINER_DEADLINE_MS;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      log.debug(`still waiting for ${what}`, { error: err });
    }
    if (systemClock.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await systemClock.sleep(POLL_MS);
  }
}

function printTable(rows: Outcome[]): void {
  const header: Outcome = { uuid: 'CONTAINER', command: 'COMMAND', instanceType: 'TYPE', instance: 'INSTANCE', state: 'STATE', exitCode: 'EXIT', seconds: 0 };
  const cols: Array<keyof Outcome> = ['uuid', 'command', 'instanceType', 'instance', 'state', 'exitCode', 'seconds'];
  const cells = [header, ...rows].map((r, i) => cols.map((c) => (i === 0 && c === 'seconds' ? 'SECONDS' : String(r[c]))));
  const widths = cols.map((_, j) => Math.max(...cells.map((row) => row[j].length)));
  process.stdout.write('\n' + cells.map((row) => row.map((v, j) => v.padEnd(widths[j])).join('  ').trimEnd()).join('\n') + '\n');
}
