/**
 * The scheduler loop: start-up order, coalesced notifications, timers, stop.
 */
import assert from 'node:assert/strict';
import { harness, logged, uuid, type Harness } from './harness.js';

/** Counts passes by wrapping runQueue; `during` runs inside each pass. */
function countPasses(h: Harness, during: (pass: number) => void = () => {}): { passes: () => number } {
  let n = 0;
  const original = h.sch.runQueue.bind(h.sch);
  h.sch.runQueue = () => {
    n++;
    during(n);
    original();
  };
  return { passes: () => n };
}

/**
 * One container and a VM for it, with the queue holding its container
 * operations in flight (busy) and its own notifications silenced: only the
 * loop's retry after the operation clears wakes the loop.
 */
function busyHarness(): { h: Harness; passes: () => number } {
  const h = harness();
  h.queue.add({ uuid: uuid(1) });
  h.pool.addWorker(h.type(1));
  h.queue.hold = true;
  h.queue.subscribe = () => () => {};
  return { h, ...countPasses(h) };
}

describe('scheduler loop', () => {
  it('polls the queue once, fixes stale locks, then runs a pass', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), state: 'Locked' }, { uuid: uuid(2), state: 'Locked' });
    h.queue.updated = 0;
    h.pool.runOn(h.pool.addWorker(h.type(1)), uuid(1));
    h.pool.addWorker(h.type(1));
    const { passes } = countPasses(h);
    h.sch.start();
    await h.clock.advance(0);
    // No worker unknown at the first look: the Locked container is ours, and started where it is.
    assert.deepEqual(h.queue.calls, ['update']);
    assert.equal(passes(), 1);
    assert.deepEqual(h.pool.starts, [uuid(2)]);
    assert.equal(logged(h, /^FixStaleLocks finished \(\d.*s\), starting scheduling\.$/).length, 1);
    await h.sch.stop();
  });

  it('makes no decision until the pool has listed the cloud', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), state: 'Running' }, { uuid: uuid(2), state: 'Locked' });
    h.pool.isLoaded = false;
    const { passes } = countPasses(h);
    h.sch.start();
    await h.clock.advance(120_000);
    assert.equal(passes(), 0);
    assert.deepEqual(h.queue.calls, [], 'neither the Running one cancelled nor the Locked one unlocked');
    const w = h.pool.addWorker(h.type(1), 'running');
    h.pool.runOn(w, uuid(1));
    h.pool.runOn(w, uuid(2));
    h.pool.isLoaded = true;
    h.pool.notify();
    await h.clock.advance(0);
    assert.equal(passes(), 1);
    assert.deepEqual(h.queue.calls, []);
    await h.sch.stop();
    assert.equal(h.clock.pendingTimers(), 0);
  });

  it('gives unknown workers the whole StaleLockTimeout after a listing slower than it (the reference counts it from before the listing)', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), state: 'Locked' });
    h.pool.isLoaded = false;
    h.sch.start();
    await h.clock.advance(120_000);
    const w = h.pool.addWorker(h.type(1), 'unknown');
    h.pool.isLoaded = true;
    h.pool.notify();
    await h.clock.advance(59_000);
    assert.deepEqual(h.queue.changes, [], 'still waiting for the unknown worker, 59 s after the 2-minute listing');
    h.pool.runOn(w, uuid(1));
    h.pool.notify();
    await h.clock.advance(0);
    assert.deepEqual(h.queue.changes, [], 'its probe found the crunch-run: nothing unlocked');
    assert.equal(logged(h, /^FixStaleLocks finished/).length, 1);
    await h.sch.stop();
  });

  it('keeps waiting for the listing through pool notifications that come before it', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), state: 'Running' }, { uuid: uuid(2), state: 'Locked' });
    h.pool.isLoaded = false;
    const { passes } = countPasses(h);
    h.sch.start();
    await h.clock.advance(1000);
    for (let i = 0; i < 3; i++) {
      h.pool.notify();
      await h.clock.advance(1000);
    }
    assert.equal(passes(), 0, 'a notification is not the listing');
    assert.deepEqual(h.queue.calls, [], 'neither the Running one cancelled nor the Locked one unlocked');
    h.pool.isLoaded = true;
    h.pool.notify();
    await h.clock.advance(0);
    assert.ok(passes() >= 1, 'the listing starts the passes');
    await h.sch.stop();
  });

  it('retries the first queue poll on the clock until it succeeds', async () => {
    const h = harness();
    h.queue.updated = 0;
    h.queue.failUpdates = 2;
    const { passes } = countPasses(h);
    h.sch.start();
    await h.clock.advance(999);
    assert.deepEqual(h.queue.calls, ['update']);
    await h.clock.advance(1);
    assert.deepEqual(h.queue.calls, ['update', 'update']);
    assert.equal(passes(), 0);
    await h.clock.advance(1000);
    assert.equal(passes(), 1);
    await h.sch.stop();
    assert.equal(h.clock.pendingTimers(), 0);
  });

  it('stop() while the first queue poll is in flight logs no error: the poll was stopped, not failed', async () => {
    const h = harness();
    h.queue.updated = 0;
    let answer: () => void = () => {};
    h.queue.update = () => {
      h.queue.calls.push('update');
      return new Promise<void>((resolve) => (answer = resolve));
    };
    h.sch.start();
    await h.clock.advance(0);
    assert.deepEqual(h.queue.calls, ['update']);
    await h.sch.stop();
    answer();
    assert.deepEqual(
      h.logs.records().filter((r) => r.level === 'error'),
      [],
      'a normal stop says nothing at level error',
    );
    assert.equal(h.clock.pendingTimers(), 0);
  });

  it('coalesces notifications: ten while idle cause one pass, ten during a pass cause one more', async () => {
    const h = harness();
    const { passes } = countPasses(h, (n) => {
      if (n === 2) for (let i = 0; i < 10; i++) h.pool.notifyNow();
    });
    h.sch.start();
    await h.clock.advance(0);
    assert.equal(passes(), 1);
    for (let i = 0; i < 5; i++) h.pool.notify();
    for (let i = 0; i < 5; i++) h.queue.notify();
    await h.clock.advance(0);
    assert.equal(passes(), 3, 'one pass for the ten, one more for the ten during it');
    await h.clock.advance(0);
    assert.equal(passes(), 3);
    await h.sch.stop();
  });

  it('runs a pass every PollInterval when nothing changes', async () => {
    const h = harness();
    const { passes } = countPasses(h);
    h.sch.start();
    await h.clock.advance(0);
    assert.equal(passes(), 1);
    await h.clock.advance(9_999);
    assert.equal(passes(), 1);
    await h.clock.advance(1);
    assert.equal(passes(), 2);
    await h.sch.stop();
  });

  it('a zero PollInterval does not spin the loop: with nothing changing, a pass every 10 s', async () => {
    const h = harness();
    h.cluster.Containers.CloudVMs.PollInterval = 0;
    const { passes } = countPasses(h);
    h.sch.start();
    await h.clock.advance(0);
    await h.clock.advance(9_999);
    assert.equal(passes(), 1);
    await h.clock.advance(1);
    assert.equal(passes(), 2);
    await h.sch.stop();
  });

  it('looks again ~250 ms after a busy container operation clears', async () => {
    const { h, passes } = busyHarness();
    h.sch.start();
    await h.clock.advance(0);
    assert.equal(passes(), 1);
    h.pool.notify();
    await h.clock.advance(0);
    assert.equal(passes(), 2, 'the second pass finds the lock in flight');
    assert.deepEqual(h.queue.calls, [`lock ${uuid(1)}`]);
    h.queue.release();
    await h.clock.advance(249);
    assert.equal(passes(), 2);
    await h.clock.advance(1);
    assert.equal(passes(), 3);
    assert.deepEqual(h.pool.starts, [uuid(1)]);
    await h.sch.stop();
  });

  it('stop() resolves once the loop has exited, with no timer or subscription left', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1) });
    h.sch.start();
    await h.clock.advance(0);
    assert.ok(h.clock.pendingTimers() > 0);
    await h.sch.stop();
    assert.equal(h.clock.pendingTimers(), 0);
    assert.equal(h.pool.listenerCount(), 0);
    assert.equal(h.queue.listenerCount(), 0);
    const before = h.queue.calls.length;
    h.pool.notify();
    await h.clock.advance(20_000);
    assert.equal(h.queue.calls.length, before, 'no pass after stop');
  });

  it('stop() during the stale-lock wait returns at once', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), state: 'Locked' });
    h.pool.addWorker(h.type(1), 'unknown');
    h.sch.start();
    await h.clock.advance(1_000);
    await h.sch.stop();
    assert.equal(h.clock.pendingTimers(), 0);
    assert.deepEqual(h.queue.calls, []);
  });

  it('refuses a second start', () => {
    const h = harness();
    h.sch.start();
    assert.throws(() => h.sch.start(), /start\(\) when running/);
    return h.sch.stop();
  });

  it('reports the longest wait of a container not started yet', async () => {
    const h = harness();
    const t = h.clock.now();
    h.queue.add({ uuid: uuid(1), createdAt: new Date(t - 10_000).toISOString(), state: 'Locked' });
    h.sch.runQueue();
    assert.equal(h.sch.longestWaitTimeSeconds, 10);
    assert.deepEqual(h.pool.creates, ['type1']);
    h.pool.bootAll();
    h.sch.runQueue();
    assert.equal(h.sch.longestWaitTimeSeconds, 0, 'started');
  });

  it('leaves containers at priority 0 out of the longest wait: nobody wants them run', () => {
    const h = harness();
    const t = h.clock.now();
    h.queue.add({ uuid: uuid(1), createdAt: new Date(t - 100_000).toISOString(), priority: 0 });
    h.queue.add({ uuid: uuid(2), createdAt: new Date(t - 10_000).toISOString(), state: 'Locked' });
    h.sch.runQueue();
    assert.equal(h.sch.longestWaitTimeSeconds, 10);
  });

  it('reports the wait of the oldest container waiting, whatever the scheduling order', () => {
    const h = harness();
    const t = h.clock.now();
    h.queue.add({ uuid: uuid(1), createdAt: new Date(t - 10_000).toISOString(), priority: 5 });
    h.queue.add({ uuid: uuid(2), createdAt: new Date(t - 300_000).toISOString(), priority: 1 });
    h.queue.add({ uuid: uuid(3), createdAt: new Date(t - 60_000).toISOString(), priority: 3 });
    h.sch.runQueue();
    assert.equal(h.sch.longestWaitTimeSeconds, 300);
  });

  it('arms no retry timer for an operation that clears after stop()', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1) });
    h.pool.addWorker(h.type(1));
    h.queue.hold = true;
    h.sch.start();
    await h.clock.advance(0);
    h.pool.notify();
    await h.clock.advance(0);
    assert.deepEqual(h.queue.calls, [`lock ${uuid(1)}`], 'the second pass found the lock in flight');
    await h.sch.stop();
    assert.equal(h.clock.pendingTimers(), 0);
    h.queue.release();
    await h.clock.advance(0);
    assert.equal(h.clock.pendingTimers(), 0, 'the lock cleared after the stop: nothing is to be retried');
  });

  it('retries a failed first queue poll after a tenth of PollInterval when that is over a second', async () => {
    const h = harness();
    h.cluster.Containers.CloudVMs.PollInterval = 60_000;
    h.queue.updated = 0;
    h.queue.failUpdates = 1;
    h.sch.start();
    await h.clock.advance(5_999);
    assert.deepEqual(h.queue.calls, ['update']);
    assert.equal(logged(h, /error updating queue, will retry/)[0]?.RetryMs, 6_000);
    await h.clock.advance(1);
    assert.deepEqual(h.queue.calls, ['update', 'update']);
    await h.sch.stop();
  });

  it('stop() cancels a retry that is due after a busy operation cleared', async () => {
    const { h, passes } = busyHarness();
    h.sch.start();
    await h.clock.advance(0);
    h.pool.notify();
    await h.clock.advance(0);
    assert.equal(passes(), 2, 'the second pass finds the lock in flight');
    h.queue.release();
    await h.clock.advance(100);
    await h.sch.stop();
    assert.equal(h.clock.pendingTimers(), 0, 'the retry due 250 ms after the lock cleared is cancelled');
    await h.clock.advance(1_000);
    assert.equal(passes(), 2);
  });

  it('reports a longest wait of 0, not below, for a container created ahead of the dispatcher clock', () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), createdAt: new Date(h.clock.now() + 5_000).toISOString(), state: 'Locked' });
    h.sch.runQueue();
    assert.equal(h.sch.longestWaitTimeSeconds, 0);
  });
});
