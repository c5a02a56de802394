/**
 * The worker timeouts at their edges, as the reference draws them: a worker
 * is idle too long once `now - busy` has reached TimeoutIdle (it is spared
 * only while the time is shorter), a destroyed instance is destroyed again
 * only once it is still listed more than TimeoutShutdown later, and
 * TimeoutProbe counts from when the last good probe answered.
 */
import assert from 'node:assert/strict';
import type { PoolEvent } from '../../src/worker/pool.js';
import type { ExecuteResult } from '../../src/ssh/executor.js';
import { FakeCloud } from './fake-cloud.js';

const IDLE = 60_000;
const SHUTDOWN = 10_000;

describe('worker pool: timeouts at their edges', () => {
  it('shuts down an idle worker at exactly TimeoutIdle since it was last busy, not a moment before', async () => {
    const f = new FakeCloud({ TimeoutIdle: IDLE });
    const id = f.seed();
    await f.pool.syncNow();
    await f.probe();
    const busy = f.pool.detail(id)!.lastBusy;
    assert.equal(f.pool.detail(id)?.workerState, 'idle');

    await f.tick(busy + IDLE - 1 - f.clock.now());
    await f.probe();
    assert.equal(f.pool.detail(id)?.workerState, 'idle', '1 ms short of TimeoutIdle: kept');
    assert.equal(f.vms.get(id)!.destroyed, 0);

    await f.tick(1);
    await f.probe();
    assert.equal(f.clock.now() - busy, IDLE);
    assert.equal(f.pool.detail(id)?.workerState, 'shutdown', 'at TimeoutIdle: shut down');
    assert.equal(f.vms.get(id)!.destroyed, 1);
  });

  it('destroys again an instance still listed only once more than TimeoutShutdown has passed since the destroy', async () => {
    const f = new FakeCloud({ TimeoutShutdown: SHUTDOWN });
    const id = f.seed();
    await f.pool.syncNow();
    await f.probe();
    f.pool.killInstance(id, 'test');
    await f.tick(0);
    assert.equal(f.vms.get(id)!.destroyed, 1);
    const destroyedAt = f.pool.detail(id)!.destroyedAt;

    await f.tick(destroyedAt + SHUTDOWN - f.clock.now());
    await f.pool.syncNow();
    await f.tick(0);
    assert.equal(f.vms.get(id)!.destroyed, 1, 'listed exactly TimeoutShutdown later: not yet');
    await f.tick(1);
    await f.pool.syncNow();
    await f.tick(0);
    assert.equal(f.vms.get(id)!.destroyed, 2, 'listed later than that: destroyed again');
  });

  it('reports an instance destroyed once, though its destroy is retried while it stays listed', async () => {
    const events: PoolEvent[] = [];
    const f = new FakeCloud({ TimeoutShutdown: SHUTDOWN }, { onEvent: (e) => events.push(e) });
    const id = f.seed();
    await f.pool.syncNow();
    await f.probe();
    f.pool.killInstance(id, 'test');
    await f.tick(0);
    const destroyedAt = f.clock.now();
    assert.equal(f.vms.get(id)!.destroyed, 1);

    // The fake cloud keeps listing it: the destroy is sent again.
    await f.tick(SHUTDOWN + 1);
    await f.pool.syncNow();
    await f.tick(0);
    assert.equal(f.vms.get(id)!.destroyed, 2, 'destroyed again');
    const destroyed = events.filter((e) => e.type === 'instanceDestroyed');
    assert.equal(destroyed.length, 1, 'but the instance was destroyed once as far as billing is concerned');
    assert.equal(f.pool.costSnapshot().length, 0, 'and it costs nothing from the first destroy on');
    assert.ok(f.clock.now() > destroyedAt, 'time has passed since the first destroy');
  });

  it('counts TimeoutProbe from when a slow successful probe answered, not from when it began', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 3_600_000, TimeoutProbe: 10 * 60_000 });
    const id = f.seed();
    await f.pool.syncNow();
    await f.probe();
    let answer!: () => void;
    f.script(id, {
      list: () =>
        new Promise<ExecuteResult>((resolve) => (answer = () => resolve({ exitCode: 0, stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) }))),
    });
    void f.pool.probeNow();
    await f.tick(0);
    await f.tick(30_000);
    answer();
    await f.tick(0);
    const answeredAt = f.clock.now();
    assert.equal(f.pool.detail(id)?.lastProbeAt, answeredAt, 'the last good probe is when it answered');

    f.script(id, { list: 'error' });
    await f.tick(10 * 60_000 - 10_000);
    await f.probe();
    assert.equal(f.pool.detail(id)?.workerState, 'idle', 'TimeoutProbe after the answer has not passed');
    await f.tick(10_000);
    await f.probe();
    assert.equal(f.pool.detail(id)?.workerState, 'shutdown', 'now it has');
  });
});
