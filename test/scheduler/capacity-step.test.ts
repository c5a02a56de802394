/**
 * The run-queue pass and the warm pools / pre-warming step: the step sees
 * the instances with what the pass placed on them, is told when creates
 * must wait for quota, and a container placed on a VM made ready ahead of
 * work has that said in its timeline.
 */
import assert from 'node:assert/strict';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import type { CapacityStep } from '../../src/scheduler/deps.js';
import type { InstanceView } from '../../src/scheduler/interfaces.js';
import { harness, uuid } from './harness.js';

describe('scheduler run queue: the capacity step', () => {
  it('gets every instance after placement, and is told to create nothing when containers wait for quota', () => {
    const h = harness();
    const calls: Array<{ idle: string[]; busy: string[]; blocked: boolean }> = [];
    const capacity: CapacityStep = {
      afterPlacement(instances: Iterable<InstanceView>, _entries, blocked) {
        const all = [...instances];
        calls.push({
          idle: all.filter((v) => v.runningContainerUUIDs.length === 0).map((v) => v.instance),
          busy: all.filter((v) => v.runningContainerUUIDs.length > 0).map((v) => v.instance),
          blocked,
        });
      },
    };
    const timeline = { vmRequested: () => undefined, unlocking: () => undefined, cancelling: () => undefined, placedOnPrepared: (...a: string[]) => prepared.push(a) };
    const prepared: string[][] = [];
    const sch = new Scheduler({ queue: h.queue, pool: h.pool, client: h.client, cluster: h.cluster, clock: h.clock, logger: h.logger, capacity, timeline });
    const warm = h.pool.addWorker(h.type(1));
    h.pool.workers.get(warm)!.note = 'warm pool 0 (type1)';
    const spare = h.pool.addWorker(h.type(1));
    h.queue.add({ uuid: uuid(1), state: 'Locked' });
    sch.runQueue();
    assert.deepEqual(calls, [{ idle: [spare], busy: [warm], blocked: false }]);
    assert.deepEqual(prepared, [[uuid(1), warm, 'warm pool 0 (type1)']]);

    h.pool.quota = 2;
    h.queue.add({ uuid: uuid(2), state: 'Locked', vcpus: 8 });
    sch.runQueue();
    assert.equal(calls.at(-1)?.blocked, true);
  });
});
