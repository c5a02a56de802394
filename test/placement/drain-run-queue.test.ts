/**
 * Drain to save in a scheduling pass, on the scheduler's fakes: new
 * containers go to the VMs kept, a draining VM takes what nothing else
 * ready can (rather than a new VM), a new VM drain made necessary is
 * blamed on it in the timeline, and with drain off nothing changes.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/index.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { DrainPlanner } from '../../src/placement/drain.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { FakeClient, FakePool, FakeQueue, testCluster, uuid } from '../scheduler/fakes.js';

/**
 * Two ready type8 VMs: A runs two 1-VCPU containers (the busier, so first
 * without drain; used 2/8), B one of 5 VCPUs (used 5/8). A's containers
 * would fit in B's room, so A drains. Then `n` Locked 1-VCPU containers.
 */
function setup(drain: boolean, n: number) {
  const clock = new ManualClock();
  const cluster = testCluster({ types: [8] });
  const queue = new FakeQueue(clock, cluster);
  const pool = new FakePool(clock);
  const type8 = cluster.InstanceTypes.type8;
  const a = pool.addWorker(type8, 'running');
  const b = pool.addWorker(type8, 'running');
  queue.add({ uuid: uuid(101), state: 'Running' }, { uuid: uuid(102), state: 'Running' }, { uuid: uuid(103), state: 'Running', vcpus: 5 });
  pool.runOn(a, uuid(101));
  pool.runOn(a, uuid(102));
  pool.runOn(b, uuid(103));
  for (let i = 1; i <= n; i++) queue.add({ uuid: uuid(i), priority: 100 - i, state: 'Locked' });
  const planner = drain ? new DrainPlanner({ MaxUsedShare: 0.5, QuietPeriod: 0 }) : undefined;
  const waits: string[] = [];
  const timeline = { vmRequested: () => undefined, unlocking: () => undefined, cancelling: () => undefined, drainWait: (u: string) => waits.push(u) };
  const logger = createLogger({ stream: new LineCollector(), level: 'debug', clock });
  const sch = new Scheduler({ queue, pool, client: new FakeClient(), cluster, clock, logger, timeline, drain: planner });
  return { queue, pool, a, b, sch, planner, waits, clock };
}

const on = (pool: FakePool, id: string): string[] => pool.workers.get(id)!.runningContainerUUIDs.slice();

describe('drain to save in a scheduling pass', () => {
  it('off: the busier VM (A) takes the new container', () => {
    const { pool, a, sch } = setup(false, 1);
    sch.runQueue();
    assert.deepEqual(on(pool, a), [uuid(101), uuid(102), uuid(1)]);
  });

  it('on: A drains, so the new containers go to B while it has room, then to A rather than to a new VM', () => {
    const { pool, a, b, sch, planner } = setup(true, 4);
    sch.runQueue();
    assert.deepEqual(on(pool, b), [uuid(103), uuid(1), uuid(2), uuid(3)]);
    assert.deepEqual(on(pool, a), [uuid(101), uuid(102), uuid(4)]);
    assert.deepEqual(pool.creates, []);
    assert.equal(planner!.stats().tookDraining, 1);
    assert.match(planner!.mark(a)!.reason, /^running 2 of 8 VCPUs .* its 2 containers would fit on other instances$/);
    assert.equal(planner!.mark(b), undefined);
  });

  it('on: a new VM needed after a drained VM shut down is a wait drain caused, in the timeline', async () => {
    const { queue, pool, a, b, sch, planner, waits, clock } = setup(true, 0);
    sch.runQueue();
    assert.ok(planner!.mark(a));
    // A's containers finish: A is idle, then shut down by TimeoutIdle.
    pool.exit(uuid(101));
    pool.exit(uuid(102));
    pool.workers.get(a)!.workerState = 'idle';
    sch.runQueue();
    assert.equal(planner!.stats().emptied, 1);
    pool.workers.delete(a);
    await clock.advance(60_000);
    sch.runQueue();
    // B fills up; the next container needs a new VM, which A could have been.
    pool.runOn(b, uuid(104));
    pool.runOn(b, uuid(105));
    pool.runOn(b, uuid(106));
    queue.add({ uuid: uuid(104), state: 'Running' }, { uuid: uuid(105), state: 'Running' }, { uuid: uuid(106), state: 'Running' }, { uuid: uuid(7), state: 'Locked' });
    sch.runQueue();
    assert.deepEqual(pool.creates, ['type8']);
    assert.deepEqual(waits, [uuid(7)]);
    assert.equal(planner!.stats().waited, 1);
  });
});
