/**
 * The worker timeouts at their edges, as the reference draws them: a worker
 * is idle too long once `now - busy` has reached TimeoutIdle (it is spared
 * only while the time is shorter).
 */
import assert from 'node:assert/strict';
import { FakeCloud } from './fake-cloud.js';

const IDLE = 60_000;

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

});
