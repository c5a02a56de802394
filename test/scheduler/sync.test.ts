/**
 * Sync: what happens when the queue and the pool disagree.
 */
import assert from 'node:assert/strict';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { waitFor } from '../arvados/helpers.js';
import { harness as queueHarness } from '../queue/helpers.js';
import { FakeClient, FakePool, harness, logged, testCluster, uuid } from './harness.js';

describe('scheduler sync', () => {
  it('kills a crunch-run whose container is not in the queue, and forgets its record', () => {
    const h = harness();
    const w = h.pool.addWorker(h.type(2));
    h.pool.runOn(w, uuid(2));
    h.queue.add({ uuid: uuid(1), state: 'Locked' });
    h.sch.sync();
    assert.deepEqual(h.pool.kills, [{ uuid: uuid(2), reason: 'not in queue' }]);
    assert.deepEqual(h.pool.forgotten, [uuid(2)]);
    assert.equal(h.pool.running().size, 0);
  });

  it('leaves alone a crunch-run whose container the queue is still reading (a failed details read must not kill its work)', () => {
    const h = harness();
    const w = h.pool.addWorker(h.type(2));
    h.pool.runOn(w, uuid(2));
    h.queue.reading.add(uuid(2));
    h.sch.sync();
    assert.deepEqual(h.pool.kills, []);
    h.queue.reading.delete(uuid(2));
    h.sch.sync();
    assert.deepEqual(h.pool.kills, [{ uuid: uuid(2), reason: 'not in queue' }], 'once the controller no longer lists it, it is killed');
  });

  it('logs a kill once however many passes re-send it', () => {
    const h = harness();
    h.pool.runOn(h.pool.addWorker(h.type(1)), uuid(1));
    h.pool.lingering.add(uuid(1));
    h.pool.killContainer = (u, reason) => {
      h.pool.kills.push({ uuid: u, reason });
      return true;
    };
    for (let i = 0; i < 3; i++) h.sch.sync();
    assert.equal(h.pool.kills.length, 3);
    assert.equal(logged(h, /killing crunch-run: not in queue/).length, 1);
  });

  it('forgets finished containers once nothing runs them, and priority-0 queued ones', () => {
    const h = harness();
    h.queue.add(
      { uuid: uuid(1), priority: 0, state: 'Queued' },
      { uuid: uuid(2), priority: 12345, state: 'Complete' },
      { uuid: uuid(3), priority: 1, state: 'Cancelled' },
    );
    h.pool.runOn(h.pool.addWorker(h.type(1)), uuid(3));
    h.sch.sync();
    assert.deepEqual(h.queue.forgotten, [uuid(1), uuid(2)]);
    // The reference's words, which operators grep for.
    assert.deepEqual(
      logged(h, /dropping from queue$/).map((r) => [r.msg, r.ContainerUUID, r.State]),
      [
        ['container on hold -- dropping from queue', uuid(1), 'Queued'],
        ['container finished -- dropping from queue', uuid(2), 'Complete'],
      ],
    );
    assert.deepEqual(h.pool.kills, [{ uuid: uuid(3), reason: 'state=Cancelled' }]);
    assert.deepEqual(
      logged(h, /^killing crunch-run: state=Cancelled$/).map((r) => r.level),
      ['debug'],
      'routine after every finished container (the pool logs the kill itself): not an info line',
    );
    assert.deepEqual(h.pool.forgotten, [uuid(3)]);
    h.sch.sync();
    assert.deepEqual(h.queue.forgotten, [uuid(1), uuid(2), uuid(3)]);
    assert.equal(h.queue.map.size, 0);
  });

  it('kills a priority-0 container whose crunch-run is live, and unlocks one that runs nowhere', async () => {
    const h = harness();
    h.queue.add(
      { uuid: uuid(1), priority: 0, state: 'Locked' },
      { uuid: uuid(2), priority: 0, state: 'Locked' },
      { uuid: uuid(3), priority: 0, state: 'Running' },
    );
    const w = h.pool.addWorker(h.type(4));
    h.pool.runOn(w, uuid(1));
    h.pool.runOn(w, uuid(3));
    h.sch.sync();
    await h.clock.advance(0);
    assert.deepEqual(h.pool.kills, [
      { uuid: uuid(1), reason: 'priority=0' },
      { uuid: uuid(3), reason: 'priority=0' },
    ]);
    assert.deepEqual(h.queue.changes, [{ uuid: uuid(2), from: 'Locked', to: 'Queued' }]);
  });

  it('kills a crunch-run still starting a container that was requeued', () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), state: 'Queued' });
    h.pool.runOn(h.pool.addWorker(h.type(1)), uuid(1));
    h.sch.sync();
    // The reference's reason, which the pool logs with its kill.
    assert.deepEqual(h.pool.kills, [{ uuid: uuid(1), reason: 'pool says running, but queue says state=Queued' }]);
    assert.equal(logged(h, /^killing crunch-run: pool says running, but queue says state=Queued$/).length, 1);
  });

  it('cancels an orphaned Running container only once no worker is unknown', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Running' });
    const w = h.pool.addWorker(h.type(1), 'unknown');
    for (let i = 0; i < 5; i++) {
      h.sch.sync();
      await h.clock.advance(1);
    }
    assert.equal(h.queue.state(uuid(1)), 'Running', 'it may be on the unknown worker');
    h.pool.workers.get(w)!.workerState = 'idle';
    h.sch.sync();
    await h.clock.advance(0);
    assert.equal(h.queue.state(uuid(1)), 'Cancelled');
    assert.equal(h.queue.cancelReasons.get(uuid(1)), 'not running on any worker');
    h.sch.sync();
    assert.deepEqual(h.queue.forgotten, [uuid(1)]);
  });

  it('does not wait on an unknown worker whose --list has answered (its boot probe failing)', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Running' });
    h.queue.add({ uuid: uuid(2), priority: 1, state: 'Running' });
    const w = h.pool.addWorker(h.type(1), 'unknown');
    h.pool.runOn(w, uuid(2));
    // A pool that can tell: this worker has been listed, and runs uuid(2) only.
    Object.assign(h.pool, { unlistedWorkers: () => 0 });
    h.sch.sync();
    await h.clock.advance(0);
    assert.equal(h.queue.state(uuid(1)), 'Cancelled', 'it runs nowhere');
    assert.equal(h.queue.state(uuid(2)), 'Running');
  });

  it("cancels an orphan only on a poll begun after the last found worker's processes were listed (one may have ended in between)", async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Running' });
    // A worker found in the cloud was listed 10 ms after the queue's last poll began, not running it.
    await h.clock.advance(10);
    const listed = h.clock.now();
    Object.assign(h.pool, { unlistedWorkers: () => 0, listedAt: () => listed });
    h.sch.sync();
    await h.clock.advance(0);
    assert.equal(h.queue.state(uuid(1)), 'Running', 'it may have completed between the poll and the listing');
    await h.clock.advance(1);
    await h.queue.update();
    h.sch.sync();
    await h.clock.advance(0);
    assert.equal(h.queue.state(uuid(1)), 'Cancelled', 'still Running on a later poll: it runs nowhere');
  });

  it('a poll begun in the same millisecond as the last listing does not count as after it: no orphan is cancelled on it', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Running' });
    const polled = h.queue.updated;
    Object.assign(h.pool, { unlistedWorkers: () => 0, listedAt: () => polled });
    h.sch.sync();
    await h.clock.advance(0);
    assert.deepEqual(h.queue.calls, [], 'the poll may have begun just before the listing, and the container ended in between');
    await h.clock.advance(1);
    await h.queue.update();
    h.sch.sync();
    await h.clock.advance(0);
    assert.equal(h.queue.state(uuid(1)), 'Cancelled', 'a later poll still shows it Running: it runs nowhere');
  });

  it('a crunch-run that exited in the same millisecond as the last poll began counts as exited after it (as the reference: qUpdated.After(exited))', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), state: 'Running' }, { uuid: uuid(2), state: 'Locked' });
    const w = h.pool.addWorker(h.type(4));
    h.pool.runOn(w, uuid(1));
    h.pool.runOn(w, uuid(2));
    await h.clock.advance(1000);
    h.pool.exit(uuid(1));
    h.pool.exit(uuid(2));
    await h.queue.update();
    h.sch.sync();
    await h.clock.advance(0);
    assert.deepEqual(h.queue.calls, ['update'], 'the poll may have begun before the exits: neither cancelled nor requeued on it');
    await h.clock.advance(1);
    await h.queue.update();
    h.sch.sync();
    await h.clock.advance(0);
    assert.equal(h.queue.state(uuid(1)), 'Cancelled');
    assert.equal(h.queue.state(uuid(2)), 'Queued');
  });

  it('leaves a Locked priority-0 container alone while its crunch-run exited after the last poll: no kill, no requeue until a poll shows it still Locked', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 0, state: 'Locked' });
    h.pool.runOn(h.pool.addWorker(h.type(1)), uuid(1));
    await h.clock.advance(1000);
    h.pool.exit(uuid(1));
    for (let i = 0; i < 3; i++) {
      h.sch.sync();
      await h.clock.advance(0);
    }
    assert.deepEqual(h.pool.kills, [], 'the process has exited: nothing to kill');
    assert.deepEqual(h.queue.calls, [], 'it may have moved the container on since the poll');
    await h.clock.advance(1);
    await h.queue.update();
    h.sch.sync();
    await h.clock.advance(0);
    assert.deepEqual(h.queue.changes, [{ uuid: uuid(1), from: 'Locked', to: 'Queued' }]);
    // The reference's words, though it was killed for priority 0 (the timeline says so: wasted-attempts.test.ts).
    assert.equal(logged(h, /^requeueing locked container because crunch-run exited$/).length, 1);
  });

  it('frees the record of a finished container whose crunch-run has exited in the same pass that sees it, quietly', () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), state: 'Complete' });
    h.pool.runOn(h.pool.addWorker(h.type(1)), uuid(1));
    h.pool.exit(uuid(1));
    h.sch.sync();
    assert.deepEqual(h.pool.forgotten, [uuid(1)], 'its worker is free for the next container at once');
    h.sch.sync();
    assert.deepEqual(h.queue.forgotten, [uuid(1)]);
    assert.deepEqual(
      h.logs.records().filter((r) => r.level === 'info' && /killing crunch-run/.test(String(r.msg))),
      [],
      'the end of every finished container is routine: no info line, and not a "not in queue" kill',
    );
  });

  it('cancels a Running container whose crunch-run exited before the last poll, not after', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), state: 'Running' });
    h.pool.runOn(h.pool.addWorker(h.type(1)), uuid(1));
    await h.clock.advance(1000);
    h.pool.exit(uuid(1));
    h.sch.sync();
    await h.clock.advance(0);
    assert.deepEqual(h.queue.calls, [], 'the queue has not been polled since the exit: it may be Complete by now');
    await h.clock.advance(1000);
    await h.queue.update();
    h.sch.sync();
    await h.clock.advance(0);
    assert.equal(h.queue.state(uuid(1)), 'Cancelled');
    assert.equal(h.queue.cancelReasons.get(uuid(1)), 'state=Running after crunch-run exited');
    assert.equal(logged(h, /^cancelling container because state=Running after crunch-run exited$/).length, 1);
  });

  it('cancels a priority-0 Running container whose crunch-run exited before the last poll at once, with that reason (there is nothing left to kill)', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 0, state: 'Running' });
    h.pool.runOn(h.pool.addWorker(h.type(1)), uuid(1));
    h.pool.exit(uuid(1));
    await h.clock.advance(1000);
    await h.queue.update();
    h.sch.sync();
    await h.clock.advance(0);
    assert.equal(h.queue.state(uuid(1)), 'Cancelled');
    assert.equal(h.queue.cancelReasons.get(uuid(1)), 'state=Running after crunch-run exited');
  });

  it('tells the timeline of a cancel, with its reason', async () => {
    const h = harness();
    const events: string[] = [];
    const timeline = { vmRequested() {}, unlocking() {}, cancelling: (u: string, reason: string) => events.push(`${u} ${reason}`) };
    const sch = new Scheduler({ queue: h.queue, pool: h.pool, client: h.client, cluster: h.cluster, clock: h.clock, logger: h.logger, timeline });
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Running' });
    sch.sync();
    await h.clock.advance(0);
    assert.deepEqual(h.queue.calls, [`cancel ${uuid(1)}`]);
    assert.deepEqual(events, [`${uuid(1)} not running on any worker`]);
  });

  it('requeues a Locked container whose crunch-run exited, then forgets the record', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), state: 'Locked' });
    h.pool.runOn(h.pool.addWorker(h.type(1)), uuid(1));
    h.pool.exit(uuid(1));
    await h.clock.advance(1000);
    await h.queue.update();
    h.sch.sync();
    await h.clock.advance(0);
    assert.deepEqual(h.queue.changes, [{ uuid: uuid(1), from: 'Locked', to: 'Queued' }]);
    assert.equal(logged(h, /^requeueing locked container because crunch-run exited$/).length, 1);
    assert.deepEqual(h.pool.forgotten, []);
    h.sch.sync();
    assert.deepEqual(h.pool.kills, [{ uuid: uuid(1), reason: 'pool says running, but queue says state=Queued' }]);
    assert.deepEqual(h.pool.forgotten, [uuid(1)]);
  });

  it('sends one controller call per container at a time', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), state: 'Running' });
    h.queue.hold = true;
    for (let i = 0; i < 3; i++) {
      h.sch.sync();
      await h.clock.advance(1);
    }
    assert.deepEqual(h.queue.calls, [`cancel ${uuid(1)}`]);
    assert.equal(h.sch.operationsInFlight, 1);
    h.queue.release();
    await h.clock.advance(0);
    assert.equal(h.sch.operationsInFlight, 0);
    assert.equal(h.queue.state(uuid(1)), 'Cancelled');
  });

  it('keeps a finished container in the queue while an unlock on it is still in flight, and drops it once that ends', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 0, state: 'Locked' });
    h.queue.hold = true;
    h.sch.sync();
    await h.clock.advance(0);
    assert.deepEqual(h.queue.calls, [`unlock ${uuid(1)}`]);
    assert.equal(h.sch.operationsInFlight, 1);

    // A poll shows it Cancelled (a user cancelled it) while the unlock is still waiting on the controller.
    h.queue.set(uuid(1), { state: 'Cancelled' });
    h.sch.sync();
    await h.clock.advance(0);
    assert.deepEqual(h.queue.forgotten, [], 'not dropped while an operation on it is in flight');
    assert.equal(h.queue.entries().entries.get(uuid(1))?.container.state, 'Cancelled', 'still in the queue for the answer to land on');

    h.queue.release();
    await h.clock.advance(0);
    assert.equal(h.sch.operationsInFlight, 0);
    h.sch.sync();
    assert.deepEqual(h.queue.forgotten, [uuid(1)], 'dropped on the first pass after the unlock ended');
  });

  it('logs controller errors and carries on', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 0, state: 'Locked' });
    h.queue.unlock = async () => {
      throw new Error('500 Internal Server Error');
    };
    h.sch.sync();
    await h.clock.advance(0);
    // The reference's words and level for a requeue by sync.
    assert.equal(logged(h, /^requeueing locked container because priority=0$/).length, 1);
    const errors = logged(h, /^error requeueing container$/);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].ContainerUUID, uuid(1));
    assert.equal(errors[0].level, 'error');
    assert.equal(h.sch.operationsInFlight, 0);
  });

  it('logs a cancel the controller refuses as a warning, and the next sync sends it again', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), state: 'Running' });
    h.pool.runOn(h.pool.addWorker(h.type(1)), uuid(1));
    h.pool.exit(uuid(1));
    await h.clock.advance(1000);
    await h.queue.update();
    const cancel = h.queue.cancel.bind(h.queue);
    h.queue.cancel = async () => {
      throw new Error('503 Service Unavailable');
    };
    h.sch.sync();
    await h.clock.advance(0);
    const errors = logged(h, /^error cancelling container$/);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].level, 'warning');
    assert.equal(errors[0].ContainerUUID, uuid(1));
    assert.match(String(errors[0].error), /503 Service Unavailable/);
    assert.equal(h.queue.state(uuid(1)), 'Running');
    assert.equal(h.sch.operationsInFlight, 0, 'a failed cancel does not keep the container busy');
    h.queue.cancel = cancel;
    h.sch.sync();
    await h.clock.advance(0);
    assert.equal(h.queue.state(uuid(1)), 'Cancelled');
  });

  it('decides the same with the run-queue pass\'s view of an unchanged queue as by reading the queue again', async () => {
    const states = ['Queued', 'Locked', 'Running', 'Complete', 'Cancelled'] as const;
    const outcome = async (reread: boolean): Promise<unknown> => {
      const h = harness(testCluster({ cloudVMs: { MaxInstances: 0 } }));
      const w = h.pool.addWorker(h.type(16));
      let n = 0;
      for (const state of states) {
        for (const priority of [0, 3]) {
          for (const rec of ['none', 'live', 'exited']) {
            const u = uuid(++n);
            h.queue.add({ uuid: u, state, priority });
            if (rec !== 'none') h.pool.runOn(w, u);
            if (rec === 'exited') h.pool.exit(u);
          }
        }
      }
      h.pool.runOn(w, uuid(999));
      h.queue.updated = h.clock.now() + 1;
      h.sch.runQueue();
      const before = { kills: h.pool.kills.length, calls: h.queue.calls.length };
      if (reread) {
        // A new snapshot with the same content (and the same poll time).
        const updated = h.queue.updated;
        h.queue.set(uuid(1), {});
        h.queue.updated = updated;
      }
      h.sch.sync();
      await h.clock.advance(0);
      return {
        kills: h.pool.kills.slice(before.kills),
        forgotten: h.pool.forgotten,
        calls: h.queue.calls.slice(before.calls),
        dropped: h.queue.forgotten,
      };
    };
    const viaView = await outcome(false);
    assert.deepEqual(viaView, await outcome(true));
    assert.ok((viaView as { kills: unknown[] }).kills.length > 3, 'the scenario makes sync act');
  });

  it("a sync cancel sets only state, keeping crunch-run's runtime_status", async () => {
    // The real queue against the test controller: what reaches the controller is what counts.
    const q = await queueHarness();
    try {
      const ctr = q.ctl.addContainer({ state: 'Running' });
      const written = { warning: 'out of memory in a child process', warningDetail: 'see the log' };
      q.ctl.setFields(ctr.uuid, { runtime_status: written });
      await q.queue.update();
      // No worker runs it, and none is unknown: the reference cancels it.
      const sch = new Scheduler({ queue: q.queue, pool: new FakePool(q.clock), client: new FakeClient(), cluster: q.cluster, clock: q.clock, logger: q.logger });
      sch.sync();
      await waitFor('the cancel', () => q.ctl.get(ctr.uuid)?.state === 'Cancelled');
      assert.deepEqual(q.ctl.get(ctr.uuid)?.runtime_status, written);
      const puts = q.ctl.requestLog().filter((r) => r.method === 'PUT');
      assert.equal(puts.length, 1);
      assert.ok(
        q.lines.records().some((r) => String(r.msg).includes('not running on any worker') && r.ContainerUUID === ctr.uuid),
        'the reason is logged',
      );
    } finally {
      await q.close();
    }
  });

  it('sends no unlock for a container that is no longer Locked when the unlock would go out (cancelled since the snapshot)', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 0, state: 'Locked' });
    const seen = h.queue.entries();
    h.queue.set(uuid(1), { state: 'Cancelled' });
    h.queue.entries = () => seen;
    h.sch.sync();
    await h.clock.advance(0);
    assert.deepEqual(h.queue.calls, [], 'the controller would refuse it: 422');
    assert.deepEqual(logged(h, /error (unlocking|requeueing) container/), []);
  });

  it('tells the timeline of an unlock, with its reason', async () => {
    const h = harness();
    const events: string[] = [];
    const timeline = { vmRequested() {}, cancelling() {}, unlocking: (u: string, reason: string) => events.push(`${u} ${reason}`) };
    const sch = new Scheduler({ queue: h.queue, pool: h.pool, client: h.client, cluster: h.cluster, clock: h.clock, logger: h.logger, timeline });
    h.queue.add({ uuid: uuid(1), priority: 0, state: 'Locked' });
    sch.sync();
    await h.clock.advance(0);
    assert.deepEqual(h.queue.calls, [`unlock ${uuid(1)}`]);
    assert.deepEqual(events, [`${uuid(1)} priority=0`]);
  });

  it('a kill that throws frees the container for the next pass: it is not left busy for ever', () => {
    const h = harness();
    const w = h.pool.addWorker(h.type(2));
    h.pool.runOn(w, uuid(2));
    const kill = h.pool.killContainer.bind(h.pool);
    h.pool.killContainer = () => {
      throw new Error('pool bug');
    };
    assert.throws(() => h.sch.sync(), /pool bug/);
    assert.equal(h.sch.operationsInFlight, 0);
    h.pool.killContainer = kill;
    h.sch.sync();
    assert.deepEqual(h.pool.kills, [{ uuid: uuid(2), reason: 'not in queue' }]);
  });
});
