/**
 * Stopping a container: SIGTERM through `crunch-run --kill 15`, re-sent
 * every TimeoutSignal until the process is gone; after TimeoutTERM the pool
 * gives up and drains the worker. SIGKILL is never sent.
 */
import assert from 'node:assert/strict';
import { Harness, waitFor } from './helpers.js';

describe('worker pool: killing containers', function () {
  this.timeout(20_000);
  let h: Harness;

  afterEach(async () => {
    await h?.stop();
  });

  async function runningContainer(): Promise<{ id: string; uuid: string }> {
    h.pool.start();
    await h.tick(0);
    const id = await h.createIdle();
    const c = h.ctl!.addContainer({ state: 'Locked', command: ['sleep', '100000'] });
    assert.equal(h.pool.startContainer(id, h.ctl!.get(c.uuid)!), true);
    await waitFor('process running', () => h.cloud.vm(id)!.processes.get(c.uuid)?.phase === 'running');
    return { id, uuid: c.uuid };
  }

  it('SIGTERM once is enough when crunch-run obeys: the container is cancelled and the exit recorded', async () => {
    h = await Harness.start({ cloudVMs: { TimeoutIdle: 3_600_000 } });
    const { id, uuid } = await runningContainer();
    assert.equal(h.pool.killContainer(uuid, 'test'), true);
    await waitFor('Cancelled', () => h.ctl!.get(uuid)?.state === 'Cancelled');
    await waitFor('runner closed', () => !h.pool.running().has(uuid));
    assert.equal(h.pool.detail(id)?.workerState, 'idle');
    assert.ok(h.pool.exited().has(uuid));
    assert.equal(h.pool.killContainer(uuid, 'again'), false, 'nothing left to kill');
    assert.deepEqual(
      h.sent('--kill').map((c) => c.command),
      [`sudo crunch-run --kill 15 ${uuid}`],
    );
  });

  it('re-sends SIGTERM every TimeoutSignal, then after TimeoutTERM gives up and drains (and so shuts down) the worker', async () => {
    h = await Harness.start({ params: { KillDelay: '1h', DestroyDelay: '1h' }, cloudVMs: { TimeoutIdle: 3_600_000 } });
    const { id, uuid } = await runningContainer();
    const killAt = h.clock.now();
    assert.equal(h.pool.killContainer(uuid, 'test'), true);
    assert.equal(h.pool.killContainer(uuid, 'test again'), true, 'still there; the escalation already runs');
    await h.tick(60_000);
    const kills = h.sent('--kill');
    assert.equal(kills.length, 13, 'at once, then every 5 s');
    assert.deepEqual(
      kills.map((k) => k.at - killAt),
      Array.from({ length: 13 }, (_, i) => i * 5000),
    );
    assert.ok(kills.every((k) => k.command === `sudo crunch-run --kill 15 ${uuid}`), 'never anything but SIGTERM');
    assert.equal(h.pool.detail(id)?.idleBehavior, 'run');
    assert.deepEqual(h.pool.detail(id)?.killing, [{ uuid, givenUp: false }]);

    await h.tick(60_000);
    const d = h.pool.detail(id);
    assert.equal(d?.idleBehavior, 'drain');
    assert.deepEqual(d?.killing, [{ uuid, givenUp: true }]);
    assert.equal(d?.workerState, 'shutdown', 'drained, with only an unkillable process left');
    const sentAfter = h.sent('--kill').length;
    await h.tick(30_000);
    assert.equal(h.sent('--kill').length, sentAfter, 'no more signals after giving up');
  });

  it('on hold, giving up only warns: the worker keeps its behaviour and stays up', async () => {
    h = await Harness.start({ params: { KillDelay: '1h' }, cloudVMs: { TimeoutIdle: 3_600_000, TimeoutTERM: 20_000 } });
    const { id, uuid } = await runningContainer();
    await h.pool.setIdleBehavior(id, 'hold');
    h.pool.killContainer(uuid, 'test');
    await h.tick(30_000);
    assert.equal(h.pool.detail(id)?.idleBehavior, 'hold');
    assert.equal(h.pool.detail(id)?.workerState, 'running');
    assert.ok(h.logs.lines.some((l) => l.includes('unkillable container, but worker has IdleBehavior=Hold')));
  });
});
