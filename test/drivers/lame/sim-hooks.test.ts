/**
 * What the simulator needs of the lame cloud: crunch-run reaching an
 * in-process controller (no HTTP, no server started), a run time with an exit
 * code, and a run the engine ends early (a workflow runner whose children are
 * done). Everything moves only with the manual clock, driven by `runTo`.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../../src/clock/index.js';
import { crunchRunDetachCommand, withSudo } from '../../../src/arvados/crunch-run.js';
import { crunchRunConfigJSON } from '../../../src/worker/runner.js';
import { dropLameCloud, getLameCloud, type LameInstance, lameDriver, type LameInstanceSet, runPlan } from '../../../drivers/lame/index.js';
import { TestController } from '../../fixtures/controller.js';
import { createArgs, DISPATCH_KEY, makeCluster, makeContext, ROOT_TOKEN, SMALL } from './helpers.js';

const URL_ = 'http://controller.sim-hooks.invalid';

describe('lame cloud: simulator hooks', () => {
  let clock: ManualClock;
  let ctl: TestController;
  let inst: LameInstance;
  let cloudName: string;

  beforeEach(async () => {
    clock = new ManualClock();
    // Never started: it answers only through its in-process transport.
    ctl = new TestController({ rootToken: ROOT_TOKEN, clock });
    const cluster = makeCluster({ controllerURL: URL_ });
    const ctx = makeContext({ cluster, clock });
    cloudName = ctx.instanceSetId;
    const set = (await lameDriver({ Transport: 'inprocess', MinBootTime: 0, MaxBootTime: 0, Seed: 1 }, ctx)) as LameInstanceSet;
    set.cloud.controllerTransports.set(URL_, ctl.inProcessTransport());
    const { tags, init } = createArgs(ctx.instanceSetId);
    inst = (await set.create(SMALL, 'img', tags, init, DISPATCH_KEY.public)) as LameInstance;
  });

  afterEach(async () => {
    await dropLameCloud(cloudName);
    assert.equal(getLameCloud(cloudName), undefined);
  });

  const start = async (command: string[]): Promise<string> => {
    const c = ctl.addContainer({ command, state: 'Locked' });
    const cfg = crunchRunConfigJSON({ cluster: makeCluster({ controllerURL: URL_ }), instanceType: SMALL, instanceAddress: inst.address, uuid: c.uuid });
    const cmd = withSudo(crunchRunDetachCommand({ crunchRunCommand: 'crunch-run', runtimeEngine: 'docker', argumentsList: [], uuid: c.uuid }), inst.remoteUser);
    const r = await inst.vm.executor().execute(cmd, { stdin: cfg });
    assert.equal(r.exitCode, 0, r.stderr.toString());
    await clock.runTo(clock.now());
    return c.uuid;
  };

  it('reads a run time and exit code from sh -c "sleep N; exit C", and only that form', () => {
    assert.deepEqual(runPlan(['sh', '-c', 'sleep 90; exit 3'], 5), { runMs: 90_000, exitCode: 3 });
    assert.deepEqual(runPlan(['sh', '-c', 'sleep 1.5; exit 0'], 5), { runMs: 1500, exitCode: 0 });
    assert.deepEqual(runPlan(['sh', '-c', 'sleep 90; exit 3; rm -rf /'], 5), { runMs: 5, exitCode: 0 });
    assert.deepEqual(runPlan(['bash', '-c', 'sleep 90; exit 3'], 5), { runMs: 5, exitCode: 0 });
    assert.deepEqual(runPlan(['sh', '-e', 'sleep 90; exit 3'], 5), { runMs: 5, exitCode: 0 });
    assert.deepEqual(runPlan(['sleep', '90', 'extra'], 5), { runMs: 5, exitCode: 0 });
    assert.deepEqual(runPlan(['sleep', '90'], 5), { runMs: 90_000, exitCode: 0 });
  });

  it('runs a container against an in-process controller: Running, then Complete with the exit code', async () => {
    const uuid = await start(['sh', '-c', 'sleep 60; exit 7']);
    assert.equal(ctl.get(uuid)?.state, 'Running');
    await clock.runTo(clock.now() + 59_000);
    assert.equal(ctl.get(uuid)?.state, 'Running');
    await clock.runTo(clock.now() + 1_000);
    assert.equal(ctl.get(uuid)?.state, 'Complete');
    assert.equal(ctl.get(uuid)?.exit_code, 7);
    // The requests went through the controller's handler, recorded as over HTTP.
    assert.equal(ctl.stats['PUT /arvados/v1/containers/{uuid}'], 2);
  });

  it('finishNow ends a long run at once, completing the container normally', async () => {
    const uuid = await start(['sleep', '315360000']);
    await clock.runTo(clock.now() + 3_600_000);
    assert.equal(ctl.get(uuid)?.state, 'Running');
    const t = clock.now();
    inst.vm.processes.get(uuid)!.finishNow();
    await clock.runTo(clock.now());
    const c = ctl.get(uuid)!;
    assert.equal(c.state, 'Complete');
    assert.equal(c.exit_code, 0);
    assert.equal(ctl.history(uuid).at(-1)?.at, t);
    assert.equal(inst.vm.processes.get(uuid)?.alive, false);
  });
});
