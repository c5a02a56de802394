/**
 * The pool's counters and events the metrics and the timeline read: the
 * instances that left the cloud list by the state they were in, the boot
 * outcome of a VM that vanished while booting, the probe age median (the
 * reference's pick), and the one `instanceCreated` event per create.
 */
import assert from 'node:assert/strict';
import type { PoolEvent } from '../../src/worker/pool.js';
import { FakeCloud } from './fake-cloud.js';
import { Harness, SMALL } from './helpers.js';

const MIN = 60_000;

describe('worker pool: counters and events', () => {
  it('counts instances that left the cloud list by the state they were in, and a VM gone while booting as a boot outcome', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN });
    const idle = await f.idleWorker();
    const booting = await f.createBooting();
    f.script(booting, { boot: { exit: 1, stderr: 'not yet' } });
    await f.probe();
    assert.equal(f.pool.detail(booting)?.workerState, 'booting');

    f.vms.delete(idle);
    f.vms.delete(booting);
    await f.pool.syncNow();
    const stats = f.pool.stats();
    assert.deepEqual(stats.disappeared, { unknown: 0, booting: 1, idle: 1, running: 0, shutdown: 0 });
    assert.deepEqual(stats.bootOutcomes, { success: 1, failure: 0, aborted: 0, disappeared: 1 }, 'the adopted one booted; the booting one never did: disappeared');
  });

  it('counts a booting VM the operator killed as an aborted boot, also once it has left the cloud list', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN });
    const id = await f.createBooting();
    assert.equal(f.pool.detail(id)?.workerState, 'booting');
    f.pool.killInstance(id, 'operator');
    await f.tick(0);
    assert.equal(f.vms.get(id)!.destroyed, 1);
    f.vms.delete(id);
    await f.pool.syncNow();
    assert.equal(f.pool.detail(id), undefined);
    assert.deepEqual(f.pool.stats().bootOutcomes, { success: 0, failure: 0, aborted: 1, disappeared: 0 });
  });

  it('reports the median probe age as the reference does: oldest first, the element at n/2', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN });
    const a = f.seed();
    await f.pool.syncNow();
    await f.probe();
    await f.tick(30 * MIN);
    const b = f.seed();
    await f.pool.syncNow();
    await f.probe();
    // A's probes fail from now on; B's keep succeeding.
    assert.ok(a !== b);
    f.script(a, { list: 'error' });
    await f.tick(2 * MIN);
    await f.probe();
    const ageA = f.clock.now() - f.pool.detail(a)!.lastProbeAt;
    const ageB = f.clock.now() - f.pool.detail(b)!.lastProbeAt;
    assert.ok(ageA >= 2 * MIN, 'A has not answered for two minutes');
    assert.ok(ageB < MIN, 'B was probed just now');
    const stats = f.pool.stats();
    assert.equal(stats.maxProbeAgeMs, ageA);
    assert.equal(stats.medianProbeAgeMs, ageB, 'of two, the younger');
  });

  it('tells of a created instance once, though a listing showed it before its create answered', async () => {
    const events: PoolEvent[] = [];
    const h = await Harness.start({ controller: false, onEvent: (e) => events.push(e) });
    try {
      const answers = h.holdCreateAnswers();
      const view = h.pool.create(SMALL);
      assert.ok(view);
      await h.tick(0);
      assert.equal(answers.inFlight(), 1, 'the create is in flight');
      await h.pool.syncNow();
      const id = h.pool.instances().find((v) => !v.instance.startsWith('pending-'))?.instance;
      assert.ok(id, 'the listing showed the instance');
      answers.release();
      await h.tick(0);
      assert.deepEqual(
        events.filter((e) => e.type === 'instanceCreated'),
        [{ type: 'instanceCreated', instanceId: id, pendingId: view.instance, instanceType: SMALL.Name }],
      );
    } finally {
      await h.stop();
    }
  });

  it('an event observer that throws is logged with the event type, and the pool goes on: the VM still comes into service', async () => {
    const seen: string[] = [];
    const h = await Harness.start({
      controller: false,
      onEvent: (e) => {
        seen.push(e.type);
        throw new Error('observer bug');
      },
    });
    try {
      h.pool.start();
      await h.tick(0);
      const id = await h.createIdle();
      assert.equal(h.pool.detail(id)?.workerState, 'idle');
      assert.ok(seen.includes('instanceCreated'), 'the observer was told');
      const failed = h.logs.records().filter((r) => r.msg === 'pool event observer failed');
      assert.deepEqual(
        failed.map((r) => [r.level, r.Event, r.error]),
        seen.map((type) => ['error', type, 'observer bug']),
      );
    } finally {
      await h.stop();
    }
  });
});
