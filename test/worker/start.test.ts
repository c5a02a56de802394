/**
 * Starting containers, with scripted `--detach` outcomes: what a failure
 * (certain or not) leaves behind, a kill that arrives while the start is in
 * flight, per-instance limits; and the pool's notifications and stop().
 */
import assert from 'node:assert/strict';
import type { CrunchRunConfig } from '../../src/arvados/crunch-run.js';
import { DispatchLockLostError } from '../../src/dblock/fence.js';
import { HostKeyCheckPendingError, HostKeyUnverifiedError, SshConnectError, SshConnectionLostError } from '../../src/ssh/errors.js';
import type { ExecuteResult } from '../../src/ssh/executor.js';
import type { PoolEvent } from '../../src/worker/pool.js';
import { fail, FakeCloud, lockedContainer, ok } from './fake-cloud.js';

const ctr = lockedContainer;

describe('worker pool: starting containers', () => {
  it('sends --detach with the crunch-run config on stdin; the container is running at once', async () => {
    const f = new FakeCloud();
    const id = await f.idleWorker();
    let stdin = '';
    f.script(id, {
      detach: async (_cmd, options) => {
        stdin = String(options?.stdin ?? '');
        return { exitCode: 0, stdout: Buffer.from('{}'), stderr: Buffer.alloc(0) };
      },
    });
    const orig = f.pool;
    assert.equal(orig.startContainer(id, ctr(1)), true);
    assert.equal(orig.detail(id)?.workerState, 'running');
    assert.ok(orig.running().has(ctr(1).uuid));
    assert.equal(orig.running().get(ctr(1).uuid), f.clock.now());
    await f.tick(0);
    const detach = f.commands.find((c) => c.command.includes('--detach'));
    assert.equal(detach?.command, `sudo crunch-run --detach --stdin-config '--runtime-engine=docker' '${ctr(1).uuid}'`);
    const config = JSON.parse(stdin) as CrunchRunConfig;
    assert.equal(config.Env.ARVADOS_API_TOKEN, f.cluster.SystemRootToken);
    assert.equal(JSON.parse(config.Env.InstanceType).ProviderType, 'lame.small');
    assert.equal(config.Cluster?.SystemRootToken, f.cluster.SystemRootToken);
    assert.equal(config.Env.GatewayAddress, `${id}.example:0`);
    assert.equal(config.KeepBuffers, 2);
    assert.equal(config.EC2SpotCheck, false);
    assert.equal(orig.detail(id)?.lastContainerUUID, ctr(1).uuid);
  });

  it('a certain failure records an exit (the scheduler unlocks, and may retry) and blocks the worker until a probe passes', async () => {
    const f = new FakeCloud();
    const id = await f.idleWorker();
    f.script(id, { detach: fail('docker: not running') });
    assert.equal(f.pool.startContainer(id, ctr(1)), true);
    await f.tick(0);
    assert.equal(f.pool.running().has(ctr(1).uuid), false);
    assert.equal(f.pool.exited().get(ctr(1).uuid), f.clock.now(), 'exited, as the reference counts a failed start');
    f.pool.forgetContainer(ctr(1).uuid);
    assert.equal(f.pool.detail(id)?.workerState, 'idle');
    assert.equal(f.pool.startContainer(id, ctr(1)), false, 'no more starts before a good probe');
    await f.probe();
    f.script(id, { detach: ok('{}') });
    assert.equal(f.pool.startContainer(id, ctr(1)), true);
  });

  it('a failed start counts the worker busy from then and names its container last, so TimeoutIdle starts again', async () => {
    const f = new FakeCloud({ TimeoutIdle: 60_000 });
    const id = await f.idleWorker();
    await f.tick(50_000);
    f.script(id, { detach: fail('docker: not running') });
    assert.equal(f.pool.startContainer(id, ctr(1)), true);
    await f.tick(0);
    assert.equal(f.pool.detail(id)?.lastBusy, f.clock.now(), 'busy from the failed start');
    assert.equal(f.pool.detail(id)?.lastContainerUUID, ctr(1).uuid, 'the failed container is the last one assigned');
    await f.tick(15_000);
    await f.probe();
    assert.equal(f.pool.detail(id)?.workerState, 'idle', 'idle 15 s since the failed start: not shut down');
  });

  it('a host key that cannot be verified yet is a certain failure too: the command never reached the VM', async () => {
    const f = new FakeCloud();
    const id = await f.idleWorker();
    f.script(id, {
      detach: async (): Promise<ExecuteResult> => {
        throw new HostKeyUnverifiedError(`${id}:22`, 'SHA256:k', new HostKeyCheckPendingError('the secret file is not there'));
      },
    });
    assert.equal(f.pool.startContainer(id, ctr(1)), true);
    await f.tick(0);
    assert.equal(f.pool.running().has(ctr(1).uuid), false);
    assert.equal(f.pool.exited().get(ctr(1).uuid), f.clock.now());
  });

  for (const [what, err] of [
    ['no SSH connection', () => new SshConnectError('i-1:22', 'refused', 'connection refused')],
    ['a connection lost before the command was sent', () => new SshConnectionLostError('i-1:22', 'dropped', false)],
    ['a lost dispatch lock (the fence refused the command)', () => new DispatchLockLostError('dispatch lock lost')],
  ] as const) {
    it(`${what} is a certain failure: the exit is recorded at once and the worker blocked until a probe passes`, async () => {
      const f = new FakeCloud();
      const id = await f.idleWorker();
      f.script(id, {
        detach: async (): Promise<ExecuteResult> => {
          throw err();
        },
      });
      assert.equal(f.pool.startContainer(id, ctr(1)), true);
      await f.tick(0);
      assert.equal(f.pool.running().has(ctr(1).uuid), false, 'not running');
      assert.equal(f.pool.exited().get(ctr(1).uuid), f.clock.now(), 'its exit recorded for the scheduler');
      assert.equal(f.pool.startContainer(id, ctr(2)), false, 'no more starts before a good probe');
    });
  }

  it('an uncertain failure (connection lost mid-command) keeps it running until a probe says otherwise', async () => {
    const f = new FakeCloud();
    const id = await f.idleWorker();
    f.script(id, {
      detach: async (): Promise<ExecuteResult> => {
        throw new SshConnectionLostError(id, 'dropped', true);
      },
    });
    assert.equal(f.pool.startContainer(id, ctr(1)), true);
    await f.tick(0);
    assert.ok(f.pool.running().has(ctr(1).uuid), 'may have started');
    await f.probe();
    assert.equal(f.pool.running().has(ctr(1).uuid), false, '--list did not show it');
    assert.ok(f.pool.exited().has(ctr(1).uuid), 'recorded as exited for the scheduler');
  });

  it('a kill during the start waits for the start to settle, then signals', async () => {
    const f = new FakeCloud();
    const id = await f.idleWorker();
    const detach = f.holdDetach(id, '');
    f.script(id, { kill: ok() });
    assert.equal(f.pool.startContainer(id, ctr(1)), true);
    await f.tick(0);
    assert.equal(f.pool.killContainer(ctr(1).uuid, 'cancelled'), true);
    await f.tick(10_000);
    assert.equal(f.commands.filter((c) => c.command.includes('--kill')).length, 0, 'nothing to signal yet');
    detach.release();
    await f.tick(0);
    assert.equal(f.commands.filter((c) => c.command.includes('--kill')).length, 1);
    assert.equal(f.pool.running().has(ctr(1).uuid), false, '--kill exit 0: gone');
    assert.ok(f.pool.exited().has(ctr(1).uuid));
  });

  it('a probe that lists a start still in flight counts it once, the start is still timed when --detach returns, and the worker goes idle when it ends', async () => {
    const events: PoolEvent[] = [];
    const f = new FakeCloud({}, { onEvent: (e) => events.push(e) });
    const id = await f.idleWorker();
    const detach = f.holdDetach(id);
    assert.equal(f.pool.startContainer(id, ctr(1)), true);
    await f.tick(0);
    f.script(id, { list: ok(`${ctr(1).uuid}\n`) });
    await f.probe();
    assert.deepEqual(f.pool.detail(id)?.runningContainerUUIDs, [ctr(1).uuid], 'listed once, not as both starting and running');
    detach.release();
    await f.tick(0);
    assert.deepEqual(f.pool.detail(id)?.runningContainerUUIDs, [ctr(1).uuid]);
    const started = events.flatMap((e) => (e.type === 'crunchRunStarted' ? [[e.containerUUID, e.sinceQueuedMs]] : []));
    assert.deepEqual(started, [[ctr(1).uuid, f.clock.now() - Date.parse(ctr(1).created_at)]], 'timed once, as the reference times every start, for the metric and the timeline');

    // The container ends.
    f.script(id, { list: ok() });
    await f.probe();
    assert.deepEqual(f.pool.detail(id)?.runningContainerUUIDs, []);
    assert.equal(f.pool.running().has(ctr(1).uuid), false);
    assert.equal(f.pool.detail(id)?.workerState, 'idle', 'idle, so TimeoutIdle can shut it down');
  });

  it('tells subscribers when a --kill reports the process gone, so the scheduler sees the exit at once', async () => {
    const f = new FakeCloud();
    const id = await f.idleWorker();
    await f.runListed(id, ctr(1));
    let calls = 0;
    f.pool.subscribe(() => calls++);
    assert.equal(f.pool.killContainer(ctr(1).uuid, 'cancelled'), true);
    await f.tick(0);
    assert.ok(f.pool.exited().has(ctr(1).uuid), '--kill exit 0: the exit is recorded');
    assert.ok(calls > 0, 'and subscribers hear of it');
  });

  it('times the queue-to-crunch-run delay to the moment --detach returned, and counts the worker busy from then', async () => {
    const events: PoolEvent[] = [];
    const f = new FakeCloud({ TimeoutIdle: 24 * 3_600_000 }, { onEvent: (e) => events.push(e) });
    const id = await f.idleWorker();
    await f.tick(30 * 60_000);
    const container = { ...ctr(1), created_at: new Date(f.clock.now() - 5 * 60_000).toISOString() };
    assert.equal(f.pool.startContainer(id, container), true);
    await f.tick(0);
    const started = events.filter((e) => e.type === 'crunchRunStarted');
    assert.equal(started.length, 1);
    assert.deepEqual(started[0], { type: 'crunchRunStarted', instanceId: id, containerUUID: container.uuid, sinceQueuedMs: 5 * 60_000, instanceType: 'small' });
    assert.equal(f.pool.detail(id)?.lastBusy, f.clock.now(), 'busy from the start, not from its last probe');
  });

  it("times every --detach for the reference's queue-to-crunch-run metric, a failed one too, and only a successful one as a start", async () => {
    const events: PoolEvent[] = [];
    const f = new FakeCloud({ TimeoutIdle: 24 * 3_600_000 }, { onEvent: (e) => events.push(e) });
    const id = await f.idleWorker();
    const container = { ...ctr(1), created_at: new Date(f.clock.now() - 2 * 60_000).toISOString() };
    f.script(id, { detach: fail('docker: not running') });
    assert.equal(f.pool.startContainer(id, container), true);
    await f.tick(0);
    const kinds = (): Array<[string, number]> =>
      events.flatMap((e) => (e.type === 'crunchRunStartReturned' || e.type === 'crunchRunStarted' ? [[e.type, e.sinceQueuedMs] as [string, number]] : []));
    assert.deepEqual(kinds(), [['crunchRunStartReturned', 2 * 60_000]], 'the failed attempt is timed, as the reference times it, and is no start');
    assert.deepEqual(events.find((e) => e.type === 'crunchRunStartReturned'), { type: 'crunchRunStartReturned', instanceId: id, containerUUID: container.uuid, sinceQueuedMs: 2 * 60_000, outcome: 'failed', exitCode: 1, stderr: 'docker: not running' });
  });

  for (const outcome of ['succeeds', 'fails'] as const) {
    it(`a --detach that ${outcome} after its VM left the cloud list changes nothing: no start is timed, nothing runs or exits`, async () => {
      const events: PoolEvent[] = [];
      const f = new FakeCloud({}, { onEvent: (e) => events.push(e) });
      const id = await f.idleWorker();
      let answer: ((r: ExecuteResult) => void) | undefined;
      f.script(id, { detach: () => new Promise<ExecuteResult>((resolve) => (answer = resolve)) });
      assert.equal(f.pool.startContainer(id, ctr(1)), true);
      await f.tick(0);
      assert.ok(answer, 'the --detach is in flight');
      f.vms.delete(id);
      await f.pool.syncNow();
      assert.equal(f.pool.detail(id), undefined, 'the worker is gone');
      answer({ exitCode: outcome === 'succeeds' ? 0 : 1, stdout: Buffer.from('{}'), stderr: Buffer.alloc(0) });
      await f.tick(0);
      assert.deepEqual(events.filter((e) => e.type === 'crunchRunStarted'), [], 'no start timed');
      assert.equal(events.filter((e) => e.type === 'crunchRunStartReturned').length, 1, "the attempt is, for the reference's metric, which times it whatever became of the worker");
      assert.equal(f.pool.running().has(ctr(1).uuid), false, 'not running anywhere');
      assert.equal(f.pool.exited().has(ctr(1).uuid), false, 'and no exit recorded: it is simply gone');
    });
  }

  it('a container started again after a recorded exit is no longer reported exited', async () => {
    const f = new FakeCloud();
    const id = await f.idleWorker();
    f.script(id, { detach: fail('docker: not running') });
    assert.equal(f.pool.startContainer(id, ctr(1)), true);
    await f.tick(0);
    assert.ok(f.pool.exited().has(ctr(1).uuid), 'the failed start is an exit');
    await f.probe();
    f.script(id, { detach: ok('{}') });
    assert.equal(f.pool.startContainer(id, ctr(1)), true, 'started again before the scheduler forgot the exit');
    await f.tick(0);
    assert.equal(f.pool.exited().has(ctr(1).uuid), false, 'the old exit is not taken for the new run\'s');
    assert.ok(f.pool.running().has(ctr(1).uuid));
  });

  it('starts nothing once the pool is stopped', async () => {
    const f = new FakeCloud();
    const id = await f.idleWorker();
    f.pool.stop();
    assert.equal(f.pool.startContainer(id, ctr(1)), false);
    await f.tick(0);
    assert.equal(f.commands.filter((c) => c.command.includes('--detach')).length, 0, 'no --detach sent');
    assert.equal(f.pool.exited().has(ctr(1).uuid), false, 'and no exit recorded for it');
  });

  it('refuses a worker that is booting, on hold, draining, or full (MaxRunningContainersPerInstance)', async () => {
    const f = new FakeCloud({ MaxRunningContainersPerInstance: 2 });
    const id = await f.idleWorker();
    assert.equal(f.pool.startContainer(id, ctr(1)), true);
    assert.equal(f.pool.startContainer(id, ctr(2)), true);
    assert.equal(f.pool.startContainer(id, ctr(3)), false, 'full');
    const held = f.seed({ ArvadosIdleBehavior: 'hold' });
    await f.pool.syncNow();
    await f.probe();
    assert.equal(f.pool.startContainer(held, ctr(4)), false);
    const pending = f.pool.create(f.cluster.InstanceTypes.small)!;
    assert.equal(f.pool.startContainer(pending.instance, ctr(5)), false, 'a pending create takes nothing yet');
    await f.tick(0);
    const booting = f.pool.instances().find((v) => v.workerState === 'booting')!;
    assert.equal(f.pool.startContainer(booting.instance, ctr(5)), false);
  });
});

describe('worker pool: last_container_uuid', () => {
  it('sets last_container_uuid only when empty: a probe listing other containers keeps the one we started last', async () => {
    const f = new FakeCloud();
    const id = await f.idleWorker();
    assert.equal(f.pool.startContainer(id, ctr(1)), true);
    await f.tick(0);
    assert.equal(f.pool.startContainer(id, ctr(2)), true);
    await f.tick(0);
    assert.equal(f.pool.detail(id)?.lastContainerUUID, ctr(2).uuid);
    f.script(id, { list: ok(`${ctr(1).uuid}\n${ctr(2).uuid}\n`) });
    await f.probe();
    assert.deepEqual(f.pool.detail(id)?.runningContainerUUIDs, [ctr(1).uuid, ctr(2).uuid]);
    assert.equal(f.pool.detail(id)?.lastContainerUUID, ctr(2).uuid, 'not the first line of --list');
  });

  it('on an adopted worker, takes the first listed container once, and keeps it', async () => {
    const f = new FakeCloud();
    const id = f.seed();
    f.script(id, { list: ok(`${ctr(2).uuid}\n${ctr(1).uuid}\n`) });
    await f.pool.syncNow();
    await f.probe();
    assert.equal(f.pool.detail(id)?.lastContainerUUID, ctr(2).uuid);
    f.script(id, { list: ok(`${ctr(1).uuid}\n`) });
    await f.probe();
    assert.equal(f.pool.detail(id)?.lastContainerUUID, ctr(2).uuid);
  });
});

describe('worker pool: notifications, addresses and stop', () => {
  it('points the executor at a new address only when the listing shows a change', async () => {
    const f = new FakeCloud();
    const id = f.seed();
    f.vms.get(id)!.address = '';
    await f.pool.syncNow();
    await f.pool.syncNow();
    assert.deepEqual(f.targets, [], 'no address yet');
    f.vms.get(id)!.address = '10.0.0.7';
    await f.pool.syncNow();
    await f.pool.syncNow();
    assert.deepEqual(f.targets, [{ instance: id, address: '10.0.0.7' }]);
    assert.equal(f.pool.detail(id)?.address, '10.0.0.7');
  });

  it('keeps the executor on the last address when a later listing shows none', async () => {
    const f = new FakeCloud();
    const id = f.seed();
    f.vms.get(id)!.address = '10.0.0.7';
    await f.pool.syncNow();
    f.vms.get(id)!.address = '';
    await f.pool.syncNow();
    f.vms.get(id)!.address = '10.0.0.7';
    await f.pool.syncNow();
    assert.deepEqual(f.targets, [], 'an empty address is never a target, and the old one is still the current one');
    f.vms.get(id)!.address = '';
    await f.pool.syncNow();
    f.vms.get(id)!.address = '10.0.0.8';
    await f.pool.syncNow();
    assert.deepEqual(f.targets, [{ instance: id, address: '10.0.0.8' }], 'only a real new address moves it');
  });

  it('writes tags only when they differ from the listed ones, not at every listing', async () => {
    const f = new FakeCloud();
    const id = f.seed();
    for (let i = 0; i < 3; i++) await f.pool.syncNow();
    await f.probe();
    assert.deepEqual(f.setTagCalls, [], 'the tags were right: no write');
    await f.pool.setIdleBehavior(id, 'hold');
    assert.equal(f.setTagCalls.length, 1, 'one write for a new idle behaviour');
    assert.equal(f.vms.get(id)!.tags.ArvadosIdleBehavior, 'hold');
    for (let i = 0; i < 3; i++) await f.pool.syncNow();
    assert.equal(f.setTagCalls.length, 1, 'and none for the listings that show it written');
  });

  it('writes a new idle behaviour once, though it is set again before the write is listed', async () => {
    const f = new FakeCloud();
    const id = f.seed();
    await f.pool.syncNow();
    await f.probe();
    await f.pool.setIdleBehavior(id, 'hold');
    await f.pool.setIdleBehavior(id, 'hold');
    assert.equal(f.setTagCalls.length, 1, 'one write: the tags written are the tags known');
  });

  it('coalesces notifications and delivers them asynchronously', async () => {
    const f = new FakeCloud();
    let calls = 0;
    const unsubscribe = f.pool.subscribe(() => calls++);
    f.pool.create(f.cluster.InstanceTypes.small);
    f.pool.create(f.cluster.InstanceTypes.small);
    assert.equal(calls, 0, 'not synchronously');
    await Promise.resolve();
    assert.equal(calls, 1, 'once for both');
    unsubscribe();
    f.pool.create(f.cluster.InstanceTypes.small);
    await f.tick(0);
    assert.equal(calls, 1);
  });

  it('tells subscribers when an idle worker is released from hold, so the scheduler can use it at once', async () => {
    const f = new FakeCloud();
    const id = f.seed({ ArvadosIdleBehavior: 'hold' });
    await f.pool.syncNow();
    await f.probe();
    assert.equal(f.pool.detail(id)?.workerState, 'idle');
    assert.equal(f.pool.detail(id)?.idleBehavior, 'hold');
    let calls = 0;
    f.pool.subscribe(() => calls++);
    await f.pool.setIdleBehavior(id, 'run');
    await f.tick(0);
    assert.equal(f.pool.detail(id)?.idleBehavior, 'run');
    assert.ok(calls > 0, 'subscribers hear of the change in idle behaviour');
  });

  it('stop() leaves every VM and container alone and stops the loops', async () => {
    const f = new FakeCloud({ TimeoutIdle: 1000 });
    const id = f.seed();
    f.script(id, { list: ok('zzzzz-dz642-000000000000001\n') });
    f.pool.start();
    await f.tick(0);
    assert.equal(f.pool.detail(id)?.workerState, 'running');
    assert.throws(() => f.pool.start(), /already started/);
    f.pool.stop();
    const before = f.commands.length;
    await f.tick(60 * 60_000);
    assert.equal(f.commands.length, before, 'no probes after stop');
    assert.equal(f.vms.get(id)!.destroyed, 0);
    assert.equal(f.clock.pendingTimers(), 0, 'no timers left behind');
    assert.equal(f.pool.create(f.cluster.InstanceTypes.small), undefined);
  });
});
