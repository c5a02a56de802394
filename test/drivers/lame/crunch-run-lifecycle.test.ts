/**
 * The emulated crunch-run's run against an in-process controller (as in the
 * simulator), everything on a manual clock driven by `runTo`: the image pull
 * and cold input reads it spends, crashes and their stale locks, the runs it
 * refuses to start, and a --kill that arrives while the container is still
 * Locked.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/clock/index.js';
import type { Cluster } from '../../../src/config/types.js';
import { crunchRunDetachCommand, crunchRunKillCommand, crunchRunListCommand, withSudo } from '../../../src/arvados/crunch-run.js';
import type { ContainerSeed } from '../../../src/testcontroller/index.js';
import { simPDH } from '../../../src/sim/workload-locality.js';
import { crunchRunConfigJSON } from '../../../src/worker/runner.js';
import { dropLameCloud, type LameInstance, lameDriver, type LameInstanceSet } from '../../../drivers/lame/index.js';
import { TestController } from '../../fixtures/controller.js';
import { createArgs, DISPATCH_KEY, makeCluster, makeContext, ROOT_TOKEN, SMALL } from './helpers.js';

const CONTROLLER = 'http://controller.crunch-run-lifecycle.invalid';
const GiB = 1024 ** 3;

describe('lame crunch-run: what a run spends and when it does not run', () => {
  let clock: ManualClock;
  let ctl: TestController;
  let cluster: Cluster;
  let cloudName: string;
  let inst: LameInstance;

  const setup = async (params: Record<string, unknown> = {}): Promise<void> => {
    const ctx = makeContext({ cluster, clock });
    cloudName = ctx.instanceSetId;
    const set = (await lameDriver({ Transport: 'inprocess', MinBootTime: 0, MaxBootTime: 0, Seed: 3, ...params }, ctx)) as LameInstanceSet;
    set.cloud.controllerTransports.set(CONTROLLER, ctl.inProcessTransport());
    const { tags, init } = createArgs(ctx.instanceSetId);
    inst = (await set.create(SMALL, 'img', tags, init, DISPATCH_KEY.public)) as LameInstance;
  };

  const sudo = (cmd: string): string => withSudo(cmd, inst.remoteUser);

  /** `crunch-run --detach` for `uuid` as the dispatcher sends it; the clock has not moved when it returns. */
  const detach = async (uuid: string) => {
    const cfg = crunchRunConfigJSON({ cluster, instanceType: SMALL, instanceAddress: inst.address, uuid });
    const r = await inst.vm.executor().execute(sudo(crunchRunDetachCommand({ crunchRunCommand: 'crunch-run', runtimeEngine: 'docker', argumentsList: [], uuid })), {
      stdin: cfg,
    });
    await clock.runTo(clock.now());
    return r;
  };

  const start = async (seed: ContainerSeed): Promise<string> => {
    const c = ctl.addContainer({ state: 'Locked', ...seed });
    const r = await detach(c.uuid);
    assert.equal(r.exitCode, 0, r.stderr.toString());
    return c.uuid;
  };

  const list = async (): Promise<string> => {
    const r = await inst.vm.executor().execute(sudo(crunchRunListCommand('crunch-run')));
    assert.equal(r.exitCode, 0, r.stderr.toString());
    return r.stdout.toString();
  };

  const state = (uuid: string) => ctl.get(uuid)?.state;
  const runFor = (ms: number) => clock.runTo(clock.now() + ms);

  beforeEach(() => {
    clock = new ManualClock();
    // Never started: crunch-run reaches it through its in-process transport only.
    ctl = new TestController({ rootToken: ROOT_TOKEN, clock });
    cluster = makeCluster({ controllerURL: CONTROLLER });
  });

  afterEach(async () => {
    await dropLameCloud(cloudName);
  });

  it('pulls an image the VM lacks while the container is still Locked; the next container of that image starts at once', async () => {
    await setup({ ImagePullTimePerGiB: '10s' });
    const image = simPDH('image', 2 * GiB);
    const first = await start({ container_image: image, command: ['sleep', '5'] });
    assert.equal(state(first), 'Locked', 'pulling');
    await runFor(19_999);
    assert.equal(state(first), 'Locked', 'a 2 GiB pull at 10 s per GiB takes 20 s');
    await runFor(1);
    assert.equal(state(first), 'Running');
    await runFor(5000);
    assert.equal(state(first), 'Complete');
    const second = await start({ container_image: image, command: ['sleep', '5'] });
    assert.equal(state(second), 'Running', 'the image is on the VM now');
    assert.deepEqual(inst.vm.cloud.warmUpTotals, { imagePulls: 1, imagePullMs: 20_000, coldInputs: 0, coldInputMs: 0 });
  });

  it('adds the cold read of each input collection to the run time, once per VM', async () => {
    await setup({ ColdInputTimePerGiB: '10s' });
    const mounts = { '/keep/in': { kind: 'collection', portable_data_hash: simPDH('input', GiB) } };
    const first = await start({ mounts, command: ['sleep', '5'] });
    assert.equal(state(first), 'Running');
    await runFor(14_999);
    assert.equal(state(first), 'Running', '5 s of run plus 10 s to read 1 GiB cold');
    await runFor(1);
    assert.equal(state(first), 'Complete');
    const second = await start({ mounts, command: ['sleep', '5'] });
    await runFor(5000);
    assert.equal(state(second), 'Complete', 'the input was read already');
  });

  it('a --kill during the image pull cancels the container while it is still Locked', async () => {
    await setup({ ImagePullTimePerGiB: '10s' });
    const uuid = await start({ container_image: simPDH('image', 2 * GiB) });
    const killing = inst.vm.executor().execute(sudo(crunchRunKillCommand('crunch-run', uuid)));
    await clock.runTo(clock.now());
    const r = await killing;
    assert.equal(r.exitCode, 0, r.stderr.toString());
    assert.deepEqual(
      ctl.history(uuid).map((h) => h.state),
      ['Locked', 'Cancelled'],
    );
    assert.equal(inst.vm.processes.get(uuid)?.alive, false);
  });

  it('a --kill that arrives while crunch-run is still fetching the container cancels it without marking it Running', async () => {
    await setup();
    // Each controller request takes 1 s of clock time: the signal lands while the first is answered.
    ctl.setLatency(1000);
    const uuid = await start({ command: ['sleep', '1000'] });
    const killing = inst.vm.executor().execute(sudo(crunchRunKillCommand('crunch-run', uuid)));
    for (let i = 0; i < 5; i++) await runFor(1000);
    await killing;
    assert.equal(inst.vm.processes.get(uuid)?.alive, false);
    assert.deepEqual(
      ctl.history(uuid).map((h) => h.state),
      ['Locked', 'Cancelled'],
    );
  });

  it('CrunchRunCrashRate 1: the crash comes part-way through the run, and the lock stays held StaleLockTime', async () => {
    await setup({ CrunchRunCrashRate: 1, StaleLockTime: '30s' });
    const uuid = await start({ command: ['sleep', '1000'] });
    const startedAt = clock.now();
    // The run's one timer is its crash.
    const crashAt = clock.nextTimerAt()!;
    assert.ok(crashAt > startedAt && crashAt < startedAt + 1_000_000, `crash ${crashAt - startedAt} ms into a 1000 s run`);
    await clock.runTo(crashAt);
    assert.equal(inst.vm.processes.get(uuid)?.alive, false, 'crashed');
    assert.equal(state(uuid), 'Running', 'nobody finalised the container');
    await runFor(29_999);
    assert.equal(await list(), `${uuid} stale\n`);
    await runFor(1);
    assert.equal(await list(), '');
  });

  it('crashCrunchRun holds the lock StaleLockTime by default, and is false for a crunch-run already gone', async () => {
    await setup({ StaleLockTime: '30s' });
    const uuid = await start({ command: ['sleep', '1000'] });
    const other = await start({ command: ['sleep', '1000'] });
    assert.equal(inst.vm.crashCrunchRun(uuid), true);
    assert.deepEqual(inst.vm.runningContainers(), [other], 'only live crunch-runs');
    assert.equal(inst.vm.crashCrunchRun(uuid), false, 'already crashed');
    await runFor(29_999);
    assert.deepEqual((await list()).split('\n').filter(Boolean).sort(), [other, `${uuid} stale`].sort());
    await runFor(1);
    assert.equal(await list(), `${other}\n`);
  });

  it('finishNow completes a run that was going to crash', async () => {
    await setup({ CrunchRunCrashRate: 1 });
    const uuid = await start({ command: ['sh', '-c', 'sleep 1000; exit 4'] });
    inst.vm.processes.get(uuid)!.finishNow();
    await runFor(0);
    assert.equal(state(uuid), 'Complete');
    assert.equal(ctl.get(uuid)?.exit_code, 4);
  });

  it('a held stale lock refuses a new --detach until it is released', async () => {
    await setup();
    const uuid = await start({ command: ['sleep', '1000'] });
    inst.vm.crashCrunchRun(uuid, { staleLockMs: 5000 });
    const refused = await detach(uuid);
    assert.equal(refused.exitCode, 1);
    assert.match(refused.stderr.toString(), /resource temporarily unavailable/);
    await runFor(5000);
    const pid = inst.vm.processes.get(uuid)?.pid;
    const again = await detach(uuid);
    assert.equal(again.exitCode, 0, 'the lock is free');
    assert.notEqual(inst.vm.processes.get(uuid)?.pid, pid, 'a new crunch-run');
  });

  it('on a broken VM crunch-run exits without starting the container', async () => {
    await setup();
    inst.vm.break();
    const uuid = await start({ command: ['sleep', '5'] });
    await runFor(10_000);
    assert.equal(inst.vm.processes.get(uuid)?.alive, false);
    assert.deepEqual(
      ctl.history(uuid).map((h) => h.state),
      ['Locked'],
    );
  });

  it('leaves alone a container that is already Running (another crunch-run has it)', async () => {
    await setup();
    const uuid = await start({ state: 'Running', command: ['sleep', '5'] });
    await runFor(10_000);
    assert.equal(inst.vm.processes.get(uuid)?.alive, false);
    assert.equal(state(uuid), 'Running');
    assert.equal(ctl.stats['PUT /arvados/v1/containers/{uuid}'] ?? 0, 0, 'no update sent');
  });
});
