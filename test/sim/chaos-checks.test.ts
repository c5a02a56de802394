/**
 * The chaos run's checks catch what they are for: two live crunch-runs of
 * one container, too many VMs, a container Running twice, a container
 * Cancelled without a reason or given up on though its crunch-run was fine,
 * a run that leaves VMs. Each is staged by hand on a lame cloud and the test
 * controller, so a check that could never fire would fail here.
 */
import assert from 'node:assert/strict';
import type { DriverContext } from '../../src/cloud/types.js';
import { ManualClock } from '../../src/clock/index.js';
import { crunchRunDetachCommand, withSudo } from '../../src/arvados/crunch-run.js';
import { crunchRunConfigJSON } from '../../src/worker/runner.js';
import { type LameInstance, lameDriver, type LameInstanceSet, resetLameClouds } from '../../drivers/lame/index.js';
import { ChaosWatcher, LogFacts, runDigest } from '../../src/sim/chaos-checks.js';
import { CloudLedger } from '../../src/sim/cloud.js';
import type { SimResult } from '../../src/sim/result.js';
import type { WorkloadPlayer } from '../../src/sim/player.js';
import { TestController } from '../fixtures/controller.js';
import { createArgs, DISPATCH_KEY, makeCluster, makeContext, ROOT_TOKEN, SMALL } from '../drivers/lame/helpers.js';
import { createLogger } from '../../src/log.js';

const CONTROLLER_URL = 'http://controller.checks-test.invalid';

describe('chaos run checks', function () {
  this.timeout(20_000);
  let clock: ManualClock;
  let ctl: TestController;
  let ctx: DriverContext;
  let set: LameInstanceSet;
  let ledger: CloudLedger;

  const create = async (): Promise<LameInstance> => {
    const { tags, init } = createArgs(ctx.instanceSetId, SMALL.Name);
    return (await ledger.wrap(set).create(SMALL, 'lame-image', tags, init, DISPATCH_KEY.public)) as unknown as LameInstance;
  };

  const detach = async (vmId: string, uuid: string): Promise<void> => {
    const vm = set.cloud.vm(vmId)!;
    const cfg = crunchRunConfigJSON({ cluster: ctx.cluster, instanceType: SMALL, instanceAddress: vm.address, uuid });
    const cmd = withSudo(crunchRunDetachCommand({ crunchRunCommand: 'crunch-run', runtimeEngine: 'docker', argumentsList: [], uuid }), vm.remoteUser);
    const r = await vm.executor().execute(cmd, { stdin: cfg });
    assert.equal(r.exitCode, 0, r.stderr.toString());
  };

  beforeEach(async () => {
    clock = new ManualClock();
    ctl = new TestController({ rootToken: ROOT_TOKEN, clock });
    ctx = makeContext({ cluster: makeCluster({ controllerURL: CONTROLLER_URL }), clock });
    set = (await lameDriver({ Transport: 'inprocess', MinBootTime: 0, MaxBootTime: 0, MinRunTime: '1h', MaxRunTime: '1h' }, ctx)) as LameInstanceSet;
    set.cloud.controllerTransports.set(CONTROLLER_URL, ctl.inProcessTransport());
    ledger = new CloudLedger(clock);
  });

  afterEach(async () => {
    await resetLameClouds();
  });

  it('reports a crunch-run started while another is alive for the same container', async () => {
    const watcher = new ChaosWatcher({ maxInstances: 10, quota: 0 }, clock);
    watcher.attach(set.cloud, ledger, ctl);
    const [a, b] = [await create(), await create()];
    const c = ctl.addContainer({ state: 'Locked' });
    await detach(a.id, c.uuid);
    assert.deepEqual(watcher.problems, []);
    await detach(b.id, c.uuid);
    assert.equal(watcher.problems.length, 1);
    assert.match(watcher.problems[0], new RegExp(`^double run: ${c.uuid}: crunch-run started on ${b.id} while alive on ${a.id}`));
  });

  it('does not count a crunch-run that died on another VM: starting the container again elsewhere is no double run', async () => {
    const watcher = new ChaosWatcher({ maxInstances: 10, quota: 0 }, clock);
    watcher.attach(set.cloud, ledger, ctl);
    const [a, b] = [await create(), await create()];
    const c = ctl.addContainer({ state: 'Locked' });
    await detach(a.id, c.uuid);
    assert.equal(set.cloud.vm(a.id)!.crashCrunchRun(c.uuid), true);
    await detach(b.id, c.uuid);
    assert.deepEqual(watcher.problems, []);
    assert.equal(watcher.startsByContainer.get(c.uuid), 2);
  });

  it('reports a create that takes the cloud past MaxInstances or the quota', async () => {
    const watcher = new ChaosWatcher({ maxInstances: 5, quota: 2 }, clock);
    watcher.attach(set.cloud, ledger, ctl);
    await create();
    await create();
    assert.deepEqual(watcher.problems, []);
    await create();
    assert.match(watcher.problems.join('\n'), /^limit: 3 live VMs after creating lame-3 .*\(MaxInstances 5, quota 2\)/);
    assert.equal(watcher.maxLive, 3);
  });

  it('holds MaxInstances too when the quota is larger', async () => {
    const watcher = new ChaosWatcher({ maxInstances: 2, quota: 5 }, clock);
    watcher.attach(set.cloud, ledger, ctl);
    await create();
    await create();
    assert.deepEqual(watcher.problems, []);
    await create();
    assert.match(watcher.problems.join('\n'), /^limit: 3 live VMs after creating lame-3 .*\(MaxInstances 2, quota 5\)/);
  });

  it('reports a Complete container that is then Cancelled (its result destroyed); a Running one cancelled is no problem', () => {
    const watcher = new ChaosWatcher({ maxInstances: 5, quota: 0 }, clock);
    watcher.attach(set.cloud, ledger, ctl);
    const running = ctl.addContainer({ state: 'Running' });
    ctl.setFields(running.uuid, { state: 'Cancelled' });
    assert.deepEqual(watcher.problems, []);
    const done = ctl.addContainer({ state: 'Running' });
    ctl.setFields(done.uuid, { state: 'Complete' });
    assert.deepEqual(watcher.problems, []);
    ctl.setFields(done.uuid, { state: 'Cancelled' });
    assert.equal(watcher.problems.length, 1);
    assert.match(watcher.problems[0], new RegExp(`^result destroyed: ${done.uuid} was cancelled after it completed`));
  });

  it('reports a container that goes Running a second time', () => {
    const watcher = new ChaosWatcher({ maxInstances: 5, quota: 0 }, clock);
    watcher.attach(set.cloud, ledger, ctl);
    const c = ctl.addContainer({ state: 'Locked' });
    ctl.setFields(c.uuid, { state: 'Running' });
    assert.deepEqual(watcher.problems, []);
    ctl.setFields(c.uuid, { state: 'Locked' });
    ctl.setFields(c.uuid, { state: 'Running' });
    assert.match(watcher.problems.join('\n'), new RegExp(`^running twice: ${c.uuid} went Running again`));
  });

  it('counts a programming error logged through the real logger as a defect, and an ordinary error as none', () => {
    const logs = new LogFacts();
    const log = createLogger({ stream: logs });
    log.error('probe failed', { error: new TypeError("Cannot read properties of undefined (reading 'id')") });
    log.error('create failed', { error: new Error('InsufficientInstanceCapacity') });
    log.error('scheduling pass failed', { error: new Error('controller unreachable') });
    log.error('(BUG?) container disappeared from queue after Lock succeeded', { ContainerUUID: 'zzzzz-dz642-000000000000001' });
    assert.deepEqual([...logs.defects.keys()], [
      "probe failed: TypeError: Cannot read properties of undefined (reading 'id')",
      'scheduling pass failed: controller unreachable',
      '(BUG?) container disappeared from queue after Lock succeeded: ',
    ]);
  });

  it('counts an error as a programming error only when its text starts with the class, not when it quotes one', () => {
    const logs = new LogFacts();
    const log = createLogger({ stream: logs });
    log.error('create failed', { error: new Error('provider answered: TypeError: x is undefined') });
    log.error('create failed', { error: new RangeError('Invalid array length') });
    assert.deepEqual([...logs.defects], [['create failed: RangeError: Invalid array length', 1]]);
    assert.equal(logs.errors.get('create failed'), 2);
  });

  it("takes a crunch-run's crash or its exit after an error (the lame cloud's log lines) as a death of its own", () => {
    const logs = new LogFacts();
    const line = (level: string, msg: string, uuid: string): string => `${JSON.stringify({ level, msg, ContainerUUID: uuid })}\n`;
    logs.write(line('info', 'lame: crunch-run crashed', 'zzzzz-dz642-000000000000001'));
    logs.write(line('warn', 'lame: crunch-run exiting after an error', 'zzzzz-dz642-000000000000002'));
    logs.write(line('info', 'lame: crunch-run started', 'zzzzz-dz642-000000000000003'));
    assert.deepEqual([...logs.crunchRunDied].sort(), ['zzzzz-dz642-000000000000001', 'zzzzz-dz642-000000000000002']);
  });

  it('at the end: a container lost, cancelled without a reason, or given up on though healthy; VMs left', () => {
    const watcher = new ChaosWatcher({ maxInstances: 5, quota: 0 }, clock);
    watcher.attach(set.cloud, ledger, ctl);
    const logs = new LogFacts();
    const done = ctl.addContainer({ state: 'Complete' });
    const why = ctl.addContainer({ state: 'Cancelled', runtime_status: { error: 'out of memory' } });
    const silent = ctl.addContainer({ state: 'Cancelled' });
    const gaveUp = ctl.addContainer({ state: 'Cancelled' });
    const crashed = ctl.addContainer({ state: 'Cancelled' });
    const stuck = ctl.addContainer({ state: 'Locked' });
    const line = (uuid: string, extra = {}): string => `${JSON.stringify({ level: 'info', msg: 'cancelled container', ContainerUUID: uuid, ...extra })}\n`;
    logs.write(line(gaveUp.uuid, { Reason: 'state=Running after crunch-run exited' }));
    logs.write(line(crashed.uuid, { Reason: 'state=Running after crunch-run exited' }));
    logs.write(`${JSON.stringify({ level: 'info', msg: 'lame: crunch-run crashed', ContainerUUID: crashed.uuid })}\n`);
    const outcome = (id: string, uuid: string | undefined, state: string | undefined) => ({ outcome: { id, uuid, state, idealMs: 0 } });
    const player = {
      tracked: [
        outcome('done', done.uuid, 'Complete'),
        outcome('why', why.uuid, 'Cancelled'),
        outcome('silent', silent.uuid, 'Cancelled'),
        outcome('gaveUp', gaveUp.uuid, 'Cancelled'),
        outcome('crashed', crashed.uuid, 'Cancelled'),
        outcome('stuck', stuck.uuid, 'Locked'),
        outcome('orphan', undefined, undefined),
      ],
      submitted: 6,
      settled: 5,
    } as unknown as WorkloadPlayer;
    const result = { finished: true, ledger: { liveCount: 2 }, timersLeft: 1 } as unknown as SimResult;
    const reasons = new Map<string, number>();
    const problems = watcher.verdict(result, player, ctl, logs, reasons);
    const expected = [
      /^lost: silent .*Cancelled without a reason/,
      /^gave up: gaveUp .*its crunch-run never died on its own/,
      /^lost: stuck .*ended Locked/,
      /^lost: orphan was never submitted/,
      /^leak: 2 VMs left/,
      /^leak: 1 clock timers still armed/,
    ];
    assert.equal(problems.length, expected.length, problems.join('\n'));
    expected.forEach((re, i) => assert.match(problems[i], re));
    assert.deepEqual([...reasons], [
      ['out of memory', 1],
      ['state=Running after crunch-run exited', 2],
    ]);
  });
  it('at the end: a container given up on after its healthy VM was destroyed is a problem; one that went with a broken VM is not', async () => {
    const watcher = new ChaosWatcher({ maxInstances: 5, quota: 0 }, clock);
    watcher.attach(set.cloud, ledger, ctl);
    const logs = new LogFacts();
    const [healthy, broken] = [await create(), await create()];
    const onHealthy = ctl.addContainer({ state: 'Locked' });
    const onBroken = ctl.addContainer({ state: 'Locked' });
    await detach(healthy.id, onHealthy.uuid);
    await detach(broken.id, onBroken.uuid);
    set.cloud.vm(broken.id)!.break();
    await healthy.destroy();
    await broken.destroy();
    assert.deepEqual([...watcher.killedWithVM], [onHealthy.uuid]);
    assert.deepEqual([...watcher.lostWithVM], [onBroken.uuid]);
    for (const [c, reason] of [
      [onHealthy, 'not running on any worker'],
      [onBroken, 'not running on any worker'],
    ] as const) {
      ctl.setFields(c.uuid, { state: 'Cancelled' });
      logs.write(`${JSON.stringify({ level: 'info', msg: 'cancelled container', ContainerUUID: c.uuid, Reason: reason })}\n`);
    }
    const player = {
      tracked: [
        { outcome: { id: 'healthy', uuid: onHealthy.uuid, state: 'Cancelled', idealMs: 0 } },
        { outcome: { id: 'broken', uuid: onBroken.uuid, state: 'Cancelled', idealMs: 0 } },
      ],
      submitted: 2,
      settled: 2,
    } as unknown as WorkloadPlayer;
    const result = { finished: true, ledger: { liveCount: 0 }, timersLeft: 0 } as unknown as SimResult;
    const problems = watcher.verdict(result, player, ctl, logs, new Map());
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0], /^gave up: healthy .*\("not running on any worker"\) though the dispatcher destroyed its healthy VM/);
  });

  it('at the end: a child never submitted is lost unless its runner never ran or was cancelled', () => {
    const watcher = new ChaosWatcher({ maxInstances: 5, quota: 0 }, clock);
    const parent = (state: string, runningAt?: number) => ({ outcome: { id: `runner-${state}`, state, runningAt, idealMs: 0 } });
    const child = (id: string, p: ReturnType<typeof parent>) => ({ outcome: { id, idealMs: 0 }, parent: p });
    const ran = parent('Complete', 1000);
    const cancelled = parent('Cancelled', 1000);
    const neverRan = parent('Complete');
    const stillRunning = parent('Running', 1000);
    const player = {
      tracked: [child('of-complete', ran), child('of-cancelled', cancelled), child('of-never-ran', neverRan), child('of-running', stillRunning)],
      submitted: 0,
      settled: 0,
    } as unknown as WorkloadPlayer;
    const result = { finished: true, ledger: { liveCount: 0 }, timersLeft: 0 } as unknown as SimResult;
    assert.deepEqual(watcher.verdict(result, player, ctl, new LogFacts(), new Map()), ['lost: of-complete was never submitted', 'lost: of-running was never submitted']);
  });

  it('at the end: an empty reason is no reason', () => {
    const watcher = new ChaosWatcher({ maxInstances: 5, quota: 0 }, clock);
    const logs = new LogFacts();
    const c = ctl.addContainer({ state: 'Cancelled', runtime_status: { error: '' } });
    logs.write(`${JSON.stringify({ level: 'info', msg: 'cancelled container', ContainerUUID: c.uuid, Reason: '' })}\n`);
    const player = { tracked: [{ outcome: { id: 'c', uuid: c.uuid, state: 'Cancelled', idealMs: 0 } }], submitted: 1, settled: 1 } as unknown as WorkloadPlayer;
    const result = { finished: true, ledger: { liveCount: 0 }, timersLeft: 0 } as unknown as SimResult;
    const problems = watcher.verdict(result, player, ctl, logs, new Map());
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0], /^lost: c .*Cancelled without a reason/);
  });

  it('at the end: a run that did not finish, one VM left, each defect logged, and a count of the problems past 20 of a kind', () => {
    const watcher = new ChaosWatcher({ maxInstances: 5, quota: 0 }, clock);
    const logs = new LogFacts();
    const log = createLogger({ stream: logs });
    for (const msg of ['scheduling pass failed', 'scheduler loop failed', 'queue subscriber threw', 'error while stopping']) log.error(msg, { error: new Error('boom') });
    log.error('scheduling pass failed', { error: new Error('boom') });
    const player = {
      tracked: Array.from({ length: 23 }, (_, i) => ({ outcome: { id: `o${i}`, idealMs: 0 } })),
      submitted: 0,
      settled: 0,
    } as unknown as WorkloadPlayer;
    const unfinished = { finished: false, ledger: { liveCount: 1 }, timersLeft: 0 } as unknown as SimResult;
    const problems = watcher.verdict(unfinished, player, ctl, logs, new Map());
    assert.equal(problems.filter((p) => p.startsWith('lost: ')).length, 20);
    assert.deepEqual(problems.slice(20), [
      'leak: the run did not finish: 0 submitted, 0 settled, 1 VMs live at the limit',
      'defect logged: 2 x scheduling pass failed: boom',
      'defect logged: 1 x scheduler loop failed: boom',
      'defect logged: 1 x queue subscriber threw: boom',
      'defect logged: 1 x error while stopping: boom',
      '(3 more "lost" problems not shown)',
    ]);
    const finished = { finished: true, ledger: { liveCount: 1 }, timersLeft: 0 } as unknown as SimResult;
    const again = new ChaosWatcher({ maxInstances: 5, quota: 0 }, clock);
    assert.deepEqual(again.verdict(finished, { tracked: [], submitted: 0, settled: 0 } as unknown as WorkloadPlayer, ctl, new LogFacts(), new Map()), ['leak: 1 VMs left']);
  });
  it('at the end: a container still Running is lost like any other not final', () => {
    const watcher = new ChaosWatcher({ maxInstances: 5, quota: 0 }, clock);
    const c = ctl.addContainer({ state: 'Running' });
    const player = { tracked: [{ outcome: { id: 'r', uuid: c.uuid, state: 'Running', idealMs: 0 } }], submitted: 1, settled: 0 } as unknown as WorkloadPlayer;
    const result = { finished: true, ledger: { liveCount: 0 }, timersLeft: 0 } as unknown as SimResult;
    const problems = watcher.verdict(result, player, ctl, new LogFacts(), new Map());
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0], new RegExp(`^lost: r \\(${c.uuid}\\) ended Running`));
  });

  it("digests every simulated fact of a run: a container's fate, a VM's life, the cloud calls, the controller's requests", () => {
    const base = () =>
      ({
        containers: [{ id: 'a', uuid: 'u', state: 'Complete', submittedAt: 1, runningAt: 2, finalAt: 3, exitCode: 0, vm: 'v', idealMs: 0 }],
        ledger: { vms: new Map([['v', { id: 'v', type: 'small', price: 1, createdAt: 0, destroyedAt: 4 }]]), calls: { create: { calls: 1, errors: {} } } },
        controllerRequests: { 'GET /arvados/v1/containers': 5 },
        endedAt: 10,
        restarts: 0,
        timersFired: 100,
      }) as unknown as SimResult;
    const digest = runDigest(base(), 'x');
    assert.match(digest, /^[0-9a-f]{16}$/);
    assert.equal(runDigest(base(), 'x'), digest);
    const changed: Array<(r: SimResult) => void> = [
      (r) => (r.containers[0].state = 'Cancelled'),
      (r) => (r.containers[0].runningAt = 5),
      (r) => (r.ledger.vms.get('v')!.destroyedAt = 6),
      (r) => (r.ledger.calls.create.calls = 2),
      (r) => (r.controllerRequests['GET /arvados/v1/containers'] = 6),
      (r) => (r.restarts = 1),
    ];
    for (const [i, change] of changed.entries()) {
      const r = base();
      change(r);
      assert.notEqual(runDigest(r, 'x'), digest, `change ${i}`);
    }
    assert.notEqual(runDigest(base(), 'y'), digest);
  });
});
