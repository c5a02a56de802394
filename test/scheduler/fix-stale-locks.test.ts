/**
 * The start-up stale-lock fix.
 */
import assert from 'node:assert/strict';
import type { Cluster } from '../../src/config/types.js';
import { harness, testCluster, uuid, type Harness } from './harness.js';

/** Two containers Locked by a previous process; one unknown worker that turns out to run the first. */
function restart(cluster?: Cluster): { h: Harness; worker: string } {
  const h = harness(cluster);
  h.queue.add({ uuid: uuid(1), state: 'Locked' }, { uuid: uuid(2), state: 'Locked' }, { uuid: uuid(3), state: 'Queued' });
  const worker = h.pool.addWorker(h.type(1), 'unknown');
  return { h, worker };
}

describe('scheduler fixStaleLocks', () => {
  it('waits for unknown workers to be probed, then unlocks what runs nowhere', async () => {
    const { h, worker } = restart();
    let done = false;
    const fixing = h.sch.fixStaleLocks().then(() => (done = true));
    await h.clock.advance(5_000);
    assert.equal(done, false);
    assert.deepEqual(h.queue.calls, []);

    // The probe finds container 1's crunch-run.
    h.pool.runOn(worker, uuid(1));
    h.pool.notify();
    await h.clock.advance(0);
    await fixing;
    assert.deepEqual(h.queue.changes, [{ uuid: uuid(2), from: 'Locked', to: 'Queued' }]);
    assert.equal(h.clock.pendingTimers(), 0);
    assert.equal(h.pool.listenerCount(), 0);
  });

  it('keeps waiting while workers stay unknown, and gives up after StaleLockTimeout', async () => {
    const { h } = restart();
    let done = false;
    const fixing = h.sch.fixStaleLocks().then(() => (done = true));
    h.pool.notify();
    await h.clock.advance(59_000);
    assert.equal(done, false, 'a notification with workers still unknown is not the end');
    await h.clock.advance(1_000);
    await fixing;
    assert.deepEqual(
      h.queue.changes.map((c) => c.uuid),
      [uuid(1), uuid(2)],
    );
    assert.equal(h.clock.pendingTimers(), 0);
  });

  it('gives up at once with a negative StaleLockTimeout, as with 0 (the reference sets a timer that fires at once)', async () => {
    const { h } = restart(testCluster({ containers: { StaleLockTimeout: '-1m' } }));
    let done = false;
    void h.sch.fixStaleLocks().then(() => (done = true));
    await h.clock.advance(0);
    assert.equal(done, true);
    assert.deepEqual(
      h.queue.changes.map((c) => c.uuid),
      [uuid(1), uuid(2)],
    );
  });

  it('stale-lock fixer unlocks nothing when no worker is unknown at the first look', async () => {
    const { h, worker } = restart();
    h.pool.workers.get(worker)!.workerState = 'idle';
    await h.sch.fixStaleLocks();
    assert.deepEqual(h.queue.calls, [], 'every unlock would cost a container one of its MaxDispatchAttempts');
    assert.equal(h.queue.state(uuid(1)), 'Locked');
    assert.equal(h.clock.pendingTimers(), 0);
    assert.equal(h.pool.listenerCount(), 0);
  });

  it('stale-lock fixer unlocks nothing when the cloud has no instance at all', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), state: 'Locked' });
    await h.sch.fixStaleLocks();
    assert.deepEqual(h.queue.calls, []);
  });

  it('returns at once when there is no stale lock to wait for', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), state: 'Queued' });
    h.pool.addWorker(h.type(1), 'unknown');
    await h.sch.fixStaleLocks();
    assert.equal(h.clock.pendingTimers(), 0);
  });

  it('unlocks stale locks one at a time, each after the last one answered', async () => {
    const { h } = restart();
    h.queue.hold = true;
    let done = false;
    const fixing = h.sch.fixStaleLocks().then(() => (done = true));
    await h.clock.advance(60_000);
    assert.deepEqual(h.queue.calls, [`unlock ${uuid(1)}`], 'the second waits for the first answer');
    assert.equal(done, false, 'not finished while an unlock is in flight');
    h.queue.release();
    await h.clock.advance(0);
    await fixing;
    assert.deepEqual(h.queue.calls, [`unlock ${uuid(1)}`, `unlock ${uuid(2)}`]);
  });

  it('sends no unlock once stopping, though the wait for unknown workers has ended', async () => {
    const { h } = restart(testCluster({ containers: { StaleLockTimeout: '-1m' } }));
    const ac = new AbortController();
    ac.abort(new Error('stopping'));
    await h.sch.fixStaleLocks(ac.signal).catch(() => undefined);
    await h.clock.advance(0);
    assert.deepEqual(h.queue.calls, [], 'a stopping dispatcher leaves the locks to the next one');
  });

  it('rejects with the abort reason when stopped, leaving no timer', async () => {
    const { h } = restart();
    const ac = new AbortController();
    const fixing = h.sch.fixStaleLocks(ac.signal);
    await h.clock.advance(1_000);
    ac.abort(new Error('stopping'));
    await assert.rejects(fixing, /stopping/);
    assert.equal(h.clock.pendingTimers(), 0);
    assert.deepEqual(h.queue.calls, []);
  });
});
