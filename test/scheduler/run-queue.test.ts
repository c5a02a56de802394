/**
 * Placement: which instance each container goes to, packing several per
 * instance, and what the scheduler creates when nothing fits.
 */
import assert from 'node:assert/strict';
import type { InstanceType } from '../../src/config/types.js';
import * as text from '../../src/scheduler/status.js';
import { harness, testCluster, uuid, type Harness } from './harness.js';

const WAIT_TYPE2 = 'Waiting for a type2 instance to boot and be ready to accept work.';
const PREPARING = 'Container is allocated to an instance and preparing to run.';

/** Four Locked 1-VCPU/1-GiB containers, priorities 1..4, on a menu without type1 (so type2 holds two). */
function packing(cloudVMs: Record<string, unknown> = {}): Harness {
  const types = Array.from({ length: 15 }, (_, i) => i + 2);
  const h = harness(testCluster({ types, containers: { MaximumPriceFactor: 1.5 }, cloudVMs }));
  for (let i = 1; i <= 4; i++) h.queue.add({ uuid: uuid(i), priority: i, state: 'Locked' });
  return h;
}

describe('scheduler run queue: placement', () => {
  it('uses idle workers first, then creates instances of the cheapest eligible type', () => {
    const h = harness();
    for (let i = 1; i <= 4; i++) h.queue.add({ uuid: uuid(i), priority: i, state: 'Locked' });
    h.pool.addWorker(h.type(1));
    h.pool.addWorker(h.type(2));
    h.pool.addWorker(h.type(2));
    h.sch.runQueue();
    assert.deepEqual(h.pool.starts, [uuid(4)]);
    assert.deepEqual(h.pool.creates, ['type1', 'type1', 'type1']);
    assert.equal(h.status(uuid(4)), PREPARING);
    for (const i of [1, 2, 3]) assert.equal(h.status(uuid(i)), 'Waiting for a type1 instance to boot and be ready to accept work.');
    assert.equal(h.sch.containersAllocatedNotStarted, 3);
  });

  it('packs several containers onto each new instance', () => {
    const h = packing();
    h.sch.runQueue();
    assert.deepEqual(h.pool.creates, ['type2', 'type2']);
    assert.deepEqual(h.pool.starts, []);
    for (let i = 1; i <= 4; i++) assert.equal(h.status(uuid(i)), WAIT_TYPE2);
  });

  it('packs containers onto an idle instance within MaximumPriceFactor, and creates for the rest', () => {
    const h = packing();
    const big = h.pool.addWorker(h.type(3));
    h.sch.runQueue();
    assert.deepEqual(h.pool.starts, [uuid(4), uuid(3), uuid(2)]);
    assert.deepEqual(h.pool.workers.get(big)!.runningContainerUUIDs, [uuid(4), uuid(3), uuid(2)]);
    assert.deepEqual(h.pool.creates, ['type2']);
    assert.equal(h.status(uuid(2)), PREPARING);
    assert.equal(h.status(uuid(1)), WAIT_TYPE2);
  });

  it('does not use an idle instance priced over MaximumPriceFactor', () => {
    const h = packing();
    h.pool.addWorker(h.type(4));
    h.sch.runQueue();
    assert.deepEqual(h.pool.starts, []);
    assert.deepEqual(h.pool.creates, ['type2', 'type2']);
  });

  it('packs onto the spare room of an instance already running a container', () => {
    const h = packing();
    const big = h.pool.addWorker(h.type(3));
    h.pool.runOn(big, uuid(4));
    h.queue.set(uuid(4), { state: 'Running' });
    h.sch.runQueue();
    assert.deepEqual(h.pool.starts, [uuid(3), uuid(2)]);
    assert.deepEqual(h.pool.creates, ['type2']);
  });

  it('never places a container on a held or draining instance', () => {
    for (const behavior of ['hold', 'drain'] as const) {
      const h = packing();
      const held = h.pool.addWorker(h.type(3), 'idle', behavior);
      h.pool.runOn(held, uuid(4));
      h.queue.set(uuid(4), { state: 'Running' });
      h.sch.runQueue();
      assert.deepEqual(h.pool.starts, [], behavior);
      assert.deepEqual(h.pool.creates, ['type2', 'type2'], behavior);
      assert.deepEqual(h.pool.workers.get(held)!.runningContainerUUIDs, [uuid(4)], behavior);
    }
  });

  it('starts one container per instance with MaxRunningContainersPerInstance 1', () => {
    const h = packing({ MaxRunningContainersPerInstance: 1 });
    h.pool.addWorker(h.type(2));
    h.sch.runQueue();
    assert.deepEqual(h.pool.starts, [uuid(4)]);
    assert.deepEqual(h.pool.creates, ['type2', 'type2', 'type2']);
  });

  it('stops packing at MaxRunningContainersPerInstance 2 though there is room for 3', () => {
    const h = packing({ MaxRunningContainersPerInstance: 2 });
    h.pool.addWorker(h.type(3));
    h.sch.runQueue();
    assert.deepEqual(h.pool.starts, [uuid(4), uuid(3)]);
    assert.deepEqual(h.pool.creates, ['type2']);
  });

  it('counts an unknown-state instance as room but never starts on it', () => {
    const h = packing();
    h.pool.addWorker(h.type(2), 'unknown');
    h.sch.runQueue();
    assert.equal(h.pool.creates.length, 1, 'one new instance: the unknown one holds two');
    assert.deepEqual(h.pool.starts, []);
    assert.equal(h.status(uuid(4)), WAIT_TYPE2);

    h.sch.runQueue();
    assert.equal(h.pool.creates.length, 1, 'the booting one is not created again');
    assert.deepEqual(h.pool.starts, []);

    h.pool.bootAll();
    h.sch.runQueue();
    assert.equal(h.pool.creates.length, 1);
    assert.deepEqual(h.pool.starts, [uuid(4), uuid(3)], 'the ready instance takes the highest priorities');
    assert.equal(h.sch.containersAllocatedNotStarted, 2);
  });

  it('starts lower-priority containers on ready instances while a VM for a higher one boots', () => {
    const h = harness();
    const spec = [
      [1, 1],
      [2, 1],
      [3, 1],
      [4, 2],
      [5, 2],
      [6, 2],
    ];
    for (const [p, vcpus] of spec) h.queue.add({ uuid: uuid(p), priority: p, vcpus, ram: vcpus, state: 'Locked' });
    h.pool.addWorker(h.type(1), 'booting');
    h.pool.addWorker(h.type(1), 'idle');
    h.pool.addWorker(h.type(2), 'booting');
    h.pool.addWorker(h.type(2), 'idle');
    h.sch.runQueue();
    assert.deepEqual(h.pool.starts, [uuid(6), uuid(3)]);
    assert.deepEqual(h.pool.creates, ['type2', 'type1']);
    assert.equal(h.status(uuid(5)), WAIT_TYPE2);
    assert.equal(h.status(uuid(2)), 'Waiting for a type1 instance to boot and be ready to accept work.');
  });

  it('charges a 0-VCPU container a sliver, so an N-VCPU container gets an N-VCPU instance to itself', () => {
    const h = harness(testCluster({ types: Array.from({ length: 15 }, (_, i) => i + 2) }));
    h.queue.add({ uuid: uuid(1), priority: 1, vcpus: 1, ram: 0.125, scratch: 0.125, state: 'Locked' });
    for (let i = 2; i <= 5; i++) h.queue.add({ uuid: uuid(i), priority: i, vcpus: 0, ram: 0.125, scratch: 0.125, state: 'Locked' });
    h.queue.add({ uuid: uuid(6), priority: 6, vcpus: 2, ram: 0.125, scratch: 0.125, state: 'Locked' });
    h.sch.runQueue();
    assert.deepEqual(h.pool.creates, ['type2', 'type2']);
    h.pool.bootAll();
    h.sch.runQueue();
    const [a, b] = [...h.pool.workers.values()];
    assert.deepEqual(a.runningContainerUUIDs, [uuid(6)]);
    assert.deepEqual(b.runningContainerUUIDs, [uuid(5), uuid(4), uuid(3), uuid(2), uuid(1)]);
  });

  it('assumes no room on an instance running a container the queue does not know', () => {
    const h = packing();
    const w = h.pool.addWorker(h.type(3));
    h.pool.runOn(w, 'zzzzz-dz642-unknownunknown1');
    h.sch.runQueue();
    assert.deepEqual(h.pool.starts, []);
    assert.deepEqual(h.pool.creates, ['type2', 'type2']);
  });

  it('waits for a previous attempt to exit before starting a locked container again', () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), state: 'Locked' });
    h.pool.addWorker(h.type(1));
    h.pool.lingering.add(uuid(1));
    h.sch.runQueue();
    assert.deepEqual(h.pool.starts, []);
    assert.deepEqual(h.pool.kills, [{ uuid: uuid(1), reason: 'about to start' }]);
    assert.equal(h.status(uuid(1)), 'Waiting for previous container attempt to exit.');
  });

  it('does not lock a queued container while a previous attempt lingers', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1) });
    h.pool.addWorker(h.type(1));
    h.pool.lingering.add(uuid(1));
    h.sch.runQueue();
    await h.clock.advance(0);
    assert.deepEqual(h.queue.calls, []);
    assert.equal(h.status(uuid(1)), 'Waiting in queue at position 1.  Cluster is at capacity and cannot start any new instances right now.');
  });

  it('locks queued containers it can place, then starts them once locked', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 2 }, { uuid: uuid(2), priority: 1 });
    h.pool.addWorker(h.type(1));
    h.sch.runQueue();
    assert.deepEqual(h.pool.creates, [], 'a queued container gets an instance only once locked');
    await h.clock.advance(0);
    assert.deepEqual(h.queue.calls, [`lock ${uuid(1)}`, `lock ${uuid(2)}`]);
    h.sch.runQueue();
    assert.deepEqual(h.pool.starts, [uuid(1)]);
    assert.deepEqual(h.pool.creates, ['type1']);
  });

  it('gives a backlog of equal containers the same answer as the first of them, in queue order', () => {
    const h = harness(testCluster({ cloudVMs: { MaxInstances: 100 } }));
    h.pool.canCreate = 1;
    h.pool.capacity.set(h.type(4).ProviderType, 0);
    const specs = [
      { n: 1, vcpus: 1 },
      { n: 2, vcpus: 1 },
      { n: 3, vcpus: 4 },
      { n: 4, vcpus: 1 },
      { n: 5, vcpus: 2 },
      { n: 6, vcpus: 4 },
      { n: 7, vcpus: 1 },
    ];
    for (const { n, vcpus } of specs) h.queue.add({ uuid: uuid(n), priority: 100 - n, state: 'Locked', vcpus, ram: 1 });
    h.sch.runQueue();
    assert.deepEqual(h.pool.creates, ['type1', 'type1', 'type2'], 'the first create succeeds; a declined type is not asked again in the pass');
    const types4 = (pos: number): string =>
      `Waiting in queue at position ${pos}.  Cluster is at capacity for all eligible instance types (type4) and cannot start a new instance right now.`;
    const capacity = (pos: number): string => `Waiting in queue at position ${pos}.  Cluster is at capacity and cannot start any new instances right now.`;
    assert.deepEqual(
      specs.map(({ n }) => h.status(uuid(n))),
      ['Waiting for a type1 instance to boot and be ready to accept work.', capacity(3), types4(1), capacity(4), capacity(5), types4(2), capacity(6)],
    );
  });

  it('asks the pool for a type it declined once per pass, not once per shape that wants it', () => {
    // Three sizes, one eligible type (type4): three shapes, so the per-shape
    // shortcut does not apply and only the per-type memory of the decline does.
    const h = harness(testCluster({ cloudVMs: { MaxInstances: 100 } }));
    h.pool.canCreate = 0;
    for (const n of [1, 2, 3]) h.queue.add({ uuid: uuid(n), priority: 100 - n, state: 'Locked', vcpus: 4, ram: n });
    for (const n of [1, 2, 3]) assert.deepEqual(h.queue.map.get(uuid(n))!.instanceTypes.map((t) => t.Name), ['type4']);
    h.sch.runQueue();
    assert.deepEqual(h.pool.creates, ['type4'], 'declined once: the other shapes are not asked for it again in this pass');
    const capacity = (pos: number): string => `Waiting in queue at position ${pos}.  Cluster is at capacity and cannot start any new instances right now.`;
    assert.deepEqual([1, 2, 3].map((n) => h.status(uuid(n))), [capacity(1), capacity(2), capacity(3)]);
    // The next pass asks again, once.
    h.sch.runQueue();
    assert.deepEqual(h.pool.creates, ['type4', 'type4']);
  });

  it('still locks a Queued container when a create for a Locked one of its size was just declined, as the reference (not at quota, a type available)', async () => {
    const h = harness();
    h.pool.canCreate = 0;
    h.queue.add({ uuid: uuid(1), priority: 2, state: 'Locked' }, { uuid: uuid(2), priority: 1, state: 'Queued' });
    h.sch.runQueue();
    await h.clock.advance(0);
    assert.deepEqual(h.pool.creates, ['type1'], 'declined for the Locked one');
    assert.deepEqual(h.queue.calls, [`lock ${uuid(2)}`], 'the decline may pass by the next pass: the Queued one is locked meanwhile');
  });

  it('never starts or gives an instance to a container that is Running, Complete or Cancelled with no crunch-run record', async () => {
    const h = harness();
    h.pool.addWorker(h.type(1), 'unknown');
    h.queue.add(
      { uuid: uuid(1), priority: 3, state: 'Running' },
      { uuid: uuid(2), priority: 2, state: 'Complete' },
      { uuid: uuid(3), priority: 1, state: 'Cancelled' },
    );
    h.pool.addWorker(h.type(4));
    h.sch.runQueue();
    await h.clock.advance(0);
    assert.deepEqual(h.pool.starts, [], 'a Running one may be running on the unknown worker: starting it again would run it twice');
    assert.deepEqual(h.pool.creates, []);
    assert.deepEqual(h.queue.calls, []);
  });

  it('says why a priority-0 container will not run', () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 0, state: 'Locked' });
    h.sch.runQueue();
    assert.equal(h.status(uuid(1)), 'This container will not be scheduled to run because its priority is 0 and state is Locked.');
    assert.deepEqual(h.pool.creates, []);
  });

  it('orders the view: running first, Locked before Queued, priority, first seen', () => {
    const h = harness();
    h.queue.add(
      { uuid: uuid(1), priority: 9 },
      { uuid: uuid(2), priority: 1, state: 'Locked' },
      { uuid: uuid(3), priority: 5 },
      { uuid: uuid(4), priority: 5 },
      { uuid: uuid(5), priority: 1, state: 'Running' },
    );
    h.pool.runOn(h.pool.addWorker(h.type(1)), uuid(5));
    h.pool.quota = 0;
    h.sch.runQueue();
    assert.deepEqual(
      h.sch.queueView().map((e) => e.entry.container.uuid),
      [uuid(5), uuid(2), uuid(1), uuid(3), uuid(4)],
    );
  });

  it('lists Locked containers with a crunch-run before Running ones, whatever their priorities, as the reference sorts them', () => {
    const h = harness();
    h.queue.add(
      { uuid: uuid(1), priority: 9, state: 'Running' },
      { uuid: uuid(2), priority: 1, state: 'Locked' },
      { uuid: uuid(3), priority: 5, state: 'Running' },
      { uuid: uuid(4), priority: 3, state: 'Locked' },
    );
    const w = h.pool.addWorker(h.type(4));
    for (let i = 1; i <= 4; i++) h.pool.runOn(w, uuid(i));
    h.sch.runQueue();
    assert.deepEqual(
      h.sch.queueView().map((e) => e.entry.container.uuid),
      [uuid(4), uuid(2), uuid(1), uuid(3)],
    );
  });

  it('takes equal priorities in first-seen order where the queue holds them in another (a wall clock stepped back between their arrivals)', () => {
    const h = harness();
    h.pool.quota = 0;
    h.queue.add({ uuid: uuid(1), priority: 5 }, { uuid: uuid(2), priority: 5 }, { uuid: uuid(3), priority: 5 });
    // Seen in the order 3, 1, 2, though the queue holds them 1, 2, 3 (an entry replaced keeps its place).
    const seenAt = new Map([
      [uuid(3), 100],
      [uuid(1), 200],
      [uuid(2), 300],
    ]);
    for (const [u, t] of seenAt) h.queue.map.set(u, { ...h.queue.map.get(u)!, firstSeenAt: t });
    assert.deepEqual([...h.queue.entries().entries.keys()], [uuid(1), uuid(2), uuid(3)]);
    h.sch.runQueue();
    assert.deepEqual(
      h.sch.queueView().map((e) => e.entry.container.uuid),
      [uuid(3), uuid(1), uuid(2)],
    );
  });

  it('does not hold a container back for one of the same size but other eligible types that found none available', () => {
    // Same size, different markets: a spot container whose every spot type is
    // out of capacity says nothing of an on-demand one behind it.
    const h = harness(testCluster({ containers: { PreemptiblePriceFactor: 0.5 }, types: [2, 3] }));
    Object.assign(h.pool, { atCapacity: (t: InstanceType) => t.Preemptible });
    h.queue.add(
      { uuid: uuid(1), priority: 2, state: 'Locked', vcpus: 2, ram: 2, preemptible: true },
      { uuid: uuid(2), priority: 1, state: 'Locked', vcpus: 2, ram: 2, preemptible: false },
    );
    h.sch.runQueue();
    assert.deepEqual(h.pool.creates, ['type2'], 'the on-demand container gets its instance');
    assert.equal(h.status(uuid(2)), text.statusWaitingNewInstance('type2'));
  });

  it('places a smaller container of the same eligible types on the room a larger one before it could not use', () => {
    // Both eligible for type4 only, of different sizes: two shapes. The
    // larger finds no room and nothing can be created; that says nothing of
    // the smaller, which fits beside the container already running.
    const h = harness();
    h.pool.canCreate = 0;
    const w = h.pool.addWorker(h.type(4));
    h.queue.add({ uuid: uuid(9), priority: 1, state: 'Running', vcpus: 2, ram: 0 });
    h.pool.runOn(w, uuid(9));
    h.queue.add({ uuid: uuid(1), priority: 3, state: 'Locked', vcpus: 3, ram: 4 }, { uuid: uuid(2), priority: 2, state: 'Locked', vcpus: 1, ram: 4 });
    assert.equal(h.queue.map.get(uuid(1))!.instanceTypes, h.queue.map.get(uuid(2))!.instanceTypes, 'one shared list of types');
    h.sch.runQueue();
    assert.deepEqual(h.pool.creates, ['type4']);
    assert.deepEqual(h.pool.starts, [uuid(2)]);
    assert.equal(h.status(uuid(2)), PREPARING);
  });

  it('sends no lock for a container that is no longer Queued when the lock would go out (cancelled since the snapshot)', async () => {
    const h = harness();
    h.pool.addWorker(h.type(1));
    h.queue.add({ uuid: uuid(1), priority: 1 });
    const seen = h.queue.entries();
    h.queue.set(uuid(1), { state: 'Cancelled', priority: 0 });
    h.queue.entries = () => seen;
    h.sch.runQueue();
    await h.clock.advance(0);
    assert.deepEqual(h.queue.calls, [], 'the controller would refuse it: 422');
  });
});
