/**
 * The structured blocker of each waiting container, one situation per
 * reason, from a real scheduling pass over the fakes: the reason and its
 * detail, and the reference's `scheduling_status` text beside it unchanged.
 */
import assert from 'node:assert/strict';
import * as text from '../../src/scheduler/status.js';
import type { Blocker } from '../../src/scheduler/blocker.js';
import { GiB, harness, type Harness, testCluster, uuid } from './harness.js';

function why(h: Harness, u: string): Blocker | undefined {
  return h.sch.why()!.blockerOf(u);
}

const iso = (ms: number): string => new Date(ms).toISOString();

describe('why a container waits (structured blockers)', () => {
  it('priority 0', () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 0 });
    h.sch.runQueue();
    assert.deepEqual(why(h, uuid(1)), { reason: 'priority_zero', state: 'Queued' });
    assert.equal(h.status(uuid(1)), text.statusPriorityZero('Queued'));
  });

  it('the supervisor cap, with the cap and the number running', () => {
    // MaxInstances 10 x SupervisorFraction 0.2 = 2 workflow runners at once.
    const h = harness();
    const w = h.pool.addWorker(h.type(4));
    h.queue.add({ uuid: uuid(1), priority: 9, supervisor: true, state: 'Locked' }, { uuid: uuid(2), priority: 8, supervisor: true, state: 'Locked' });
    h.pool.runOn(w, uuid(1));
    h.pool.runOn(w, uuid(2));
    h.queue.add({ uuid: uuid(3), priority: 7, supervisor: true });
    h.sch.runQueue();
    assert.deepEqual(why(h, uuid(3)), { reason: 'supervisor_cap', position: 1, cap: 2, running: 2 });
    assert.equal(h.status(uuid(3)), text.statusSupervisorLimit(1));
  });

  it('the concurrency limit, with the limit, the running count and the controller state', () => {
    const h = harness(testCluster({ cloudVMs: { InitialQuotaEstimate: 1 } }));
    h.pool.addWorker(h.type(1));
    h.pool.addWorker(h.type(1));
    h.queue.add({ uuid: uuid(1), priority: 2 }, { uuid: uuid(2), priority: 1 });
    h.sch.runQueue();
    const b = why(h, uuid(2))!;
    assert.equal(b.reason, 'concurrency_limit');
    // Position 2: the one being locked holds position 1 in the reference's text.
    assert.deepEqual(b, { reason: 'concurrency_limit', position: 2, limit: 1, running: 0, controller: 'normal', ahead: { containers: 1, vcpus: 1, ram_bytes: b.ahead!.ram_bytes } });
    assert.ok(b.ahead!.ram_bytes >= GiB);
    assert.equal(h.status(uuid(2)), 'Waiting in queue at position 2.  Cluster is at capacity and cannot start any new instances right now.');
  });

  it('locking, and where it will go', () => {
    const h = harness();
    const w = h.pool.addWorker(h.type(1));
    h.queue.add({ uuid: uuid(1), priority: 1 });
    h.sch.runQueue();
    assert.deepEqual(why(h, uuid(1)), { reason: 'locking', instance: w });
  });

  it('placed on an idle instance and started: preparing, on that instance', async () => {
    const h = harness();
    const w = h.pool.addWorker(h.type(1));
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Locked' });
    h.sch.runQueue();
    assert.deepEqual(why(h, uuid(1)), { reason: 'preparing', instance: w });
    assert.equal(h.status(uuid(1)), text.STATUS_PREPARING);
  });

  it('a previous attempt that has not exited', () => {
    const h = harness();
    const w = h.pool.addWorker(h.type(1));
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Locked' });
    h.pool.lingering.add(uuid(1));
    h.sch.runQueue();
    assert.deepEqual(why(h, uuid(1)), { reason: 'previous_attempt', instance: w });
    assert.equal(h.status(uuid(1)), text.STATUS_WAITING_FOR_PREVIOUS_ATTEMPT);
  });

  it('a queued container is not locked while a previous attempt has not exited: that attempt, on the instance it lingers on, and nothing ahead', () => {
    const h = harness();
    const w = h.pool.addWorker(h.type(1));
    h.queue.add({ uuid: uuid(1), priority: 1 });
    // The pool's view shows the old crunch-run on w; the pass's records did not have it yet.
    h.pool.workers.get(w)!.runningContainerUUIDs.push(uuid(1));
    h.pool.lingering.add(uuid(1));
    h.sch.runQueue();
    assert.deepEqual(h.pool.kills, [{ uuid: uuid(1), reason: 'about to lock' }]);
    assert.deepEqual(why(h, uuid(1)), { reason: 'previous_attempt', instance: w });
    // The reference's text has no words for it: the queue position.
    assert.equal(h.status(uuid(1)), text.statusWaitingClusterCapacity(1));
  });

  it('waiting for a new instance to boot: its type, then its id and since when', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Locked', vcpus: 2, ram: 2 });
    h.sch.runQueue();
    assert.deepEqual(h.pool.creates, ['type2']);
    // The pool names a create in flight by a placeholder id, which the blocker gives.
    const pending = h.pool.createdViews[0].instance;
    assert.match(pending, /^pending-/);
    assert.deepEqual(why(h, uuid(1)), { reason: 'booting', instance_type: 'type2', instance: pending });
    assert.equal(h.status(uuid(1)), text.statusWaitingNewInstance('type2'));
    const created = h.clock.now();
    await h.clock.advance(30_000);
    h.sch.runQueue();
    const [id] = h.pool.byType('type2').map((w) => w.instance);
    assert.deepEqual(why(h, uuid(1)), { reason: 'booting', instance_type: 'type2', instance: id, booting_since: iso(created) });
  });

  it('every eligible type at capacity: which, since when, until when, and the cloud error; and what is ahead', () => {
    const h = harness(testCluster({ containers: { MaximumPriceFactor: 1.5 } }));
    h.pool.capacity.set('type2', 0);
    h.pool.capacity.set('type3', 0);
    h.queue.add(
      { uuid: uuid(1), priority: 3, state: 'Locked', vcpus: 2, ram: 2 },
      { uuid: uuid(2), priority: 2, state: 'Locked', vcpus: 2, ram: 2 },
    );
    h.sch.runQueue();
    const b = why(h, uuid(2))!;
    assert.equal(b.reason, 'types_at_capacity');
    if (b.reason !== 'types_at_capacity') return;
    assert.equal(b.position, 2);
    assert.deepEqual(b.types, [
      { name: 'type2', scope: 'type', since: iso(1000), until: iso(61_000), error: 'no type2 capacity (fake)' },
      { name: 'type3', scope: 'type', since: iso(1000), until: iso(61_000), error: 'no type3 capacity (fake)' },
    ]);
    assert.deepEqual(b.ahead, { containers: 1, vcpus: 2, ram_bytes: h.queue.map.get(uuid(1))!.instanceResources.ram });
    // MaximumPriceFactor 1.5 left out type4 (0.492 > 1.5 x 0.246), which could be created now.
    assert.deepEqual(b.price_cap, {
      maximum_price_factor: 1.5,
      types: [
        { name: 'type4', price: 0.492, now: 'can be created' },
        { name: 'type5', price: 0.615, now: 'can be created' },
        { name: 'type6', price: 0.738, now: 'can be created' },
      ],
    });
    assert.equal(h.status(uuid(2)), text.statusWaitingInstanceTypes(2, ['type2', 'type3']));
  });

  it('MaxInstances reached: the bucket, how many in use, the limit', () => {
    const h = harness();
    h.pool.runOn(h.pool.addWorker(h.type(1)), uuid(9));
    h.pool.quota = 1;
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Locked', vcpus: 2, ram: 2 });
    h.sch.runQueue();
    const b = why(h, uuid(1))!;
    assert.deepEqual({ ...b, ahead: undefined }, { reason: 'quota', position: 1, bucket: 'MaxInstances', in_use: 1, limit: 1, ahead: undefined });
    assert.equal(h.status(uuid(1)), text.statusWaitingCloudResources(1));
  });

  it('MaxInstances reached: the containers behind the first wait for it too, each at its own position', () => {
    const h = harness();
    h.pool.runOn(h.pool.addWorker(h.type(1)), uuid(9));
    h.pool.quota = 1;
    h.queue.add(
      { uuid: uuid(1), priority: 3, state: 'Locked', vcpus: 2, ram: 2 },
      { uuid: uuid(2), priority: 2, state: 'Locked', vcpus: 2, ram: 2 },
      { uuid: uuid(3), priority: 1, state: 'Locked', vcpus: 2, ram: 2 },
    );
    h.sch.runQueue();
    for (const [n, position] of [[2, 2], [3, 3]] as const) {
      const b = why(h, uuid(n))!;
      assert.deepEqual({ ...b, ahead: undefined }, { reason: 'quota', position, bucket: 'MaxInstances', in_use: 1, limit: 1, ahead: undefined }, `container ${n}`);
      assert.equal(b.ahead?.containers, position - 1, `container ${n}: the containers ahead of it`);
      assert.equal(h.status(uuid(n)), text.statusWaitingCloudResources(position));
    }
  });

  it('at quota with a held idle instance too small for the queue: the containers the limit let through wait for the quota, each at its position', () => {
    // Nothing runs, so the concurrency limit (clamped to the instance count) lets them through; they fit nowhere.
    const h = harness();
    h.pool.addWorker(h.type(1), 'idle', 'hold');
    h.pool.quota = 1;
    h.queue.add({ uuid: uuid(1), priority: 2, state: 'Locked', vcpus: 2, ram: 2 }, { uuid: uuid(2), priority: 1, state: 'Locked', vcpus: 2, ram: 2 });
    h.sch.runQueue();
    for (const position of [1, 2]) {
      const b = why(h, uuid(position))!;
      assert.deepEqual({ ...b, ahead: undefined }, { reason: 'quota', position, bucket: 'MaxInstances', in_use: 1, limit: 1, ahead: undefined }, `container ${position}`);
      assert.equal(b.ahead?.containers, position - 1, `container ${position}: the containers ahead of it`);
    }
  });

  it('at quota, an idle instance too small shut down for the queue: room on the cluster again, so no quota is named', () => {
    const h = harness();
    const idle = h.pool.addWorker(h.type(1));
    h.pool.quota = 1;
    h.queue.add({ uuid: uuid(1), priority: 2, state: 'Locked', vcpus: 2, ram: 2 }, { uuid: uuid(2), priority: 1, state: 'Locked', vcpus: 2, ram: 2 });
    h.sch.runQueue();
    assert.deepEqual(h.pool.shutdowns, [idle], 'the idle instance went for the queue');
    for (const position of [1, 2]) {
      const b = why(h, uuid(position))!;
      assert.deepEqual({ ...b, ahead: undefined }, { reason: 'cluster_capacity', position, ahead: undefined }, `container ${position}`);
    }
  });

  it("the cloud's quota: since and until when, and its error", () => {
    const h = harness();
    h.pool.runOn(h.pool.addWorker(h.type(1)), uuid(9));
    h.pool.quota = 1;
    h.pool.limitsExtra.quotaError = { since: 5000, until: 65_000, error: 'VcpuLimitExceeded' };
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Locked', vcpus: 2, ram: 2 });
    h.sch.runQueue();
    const b = why(h, uuid(1))!;
    assert.equal(b.reason, 'quota');
    if (b.reason !== 'quota') return;
    assert.equal(b.bucket, 'cloud quota');
    assert.equal(b.since, iso(5000));
    assert.equal(b.until, iso(65_000));
    assert.equal(b.error, 'VcpuLimitExceeded');
  });

  it('creates held by the cloud rate limit: why, and until when', () => {
    const h = harness();
    h.pool.canCreate = 0;
    h.pool.limitsExtra.hold = { until: 90_000, reason: 'cloud provider rate limit: RequestLimitExceeded' };
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Locked' });
    h.sch.runQueue();
    const b = why(h, uuid(1))!;
    assert.deepEqual(
      { ...b, ahead: undefined },
      { reason: 'create_declined', position: 1, why: 'cloud provider rate limit: RequestLimitExceeded', until: iso(90_000), ahead: undefined },
    );
    assert.equal(h.status(uuid(1)), 'Waiting in queue at position 1.  Cluster is at capacity and cannot start any new instances right now.');
  });

  it('an idle instance of a type MaximumPriceFactor left out is named', () => {
    const h = harness();
    h.pool.capacity.set('type1', 0);
    h.pool.addWorker(h.type(2));
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Locked' });
    h.sch.runQueue();
    const b = why(h, uuid(1))!;
    assert.equal(b.reason, 'types_at_capacity');
    assert.deepEqual(b.price_cap?.types[0], { name: 'type2', price: 0.246, now: 'idle instance' });
  });

  it('containers that are not waiting have no blocker', () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Running' });
    h.sch.runQueue();
    assert.equal(why(h, uuid(1)), undefined);
  });

  it('the concurrency limit after a 503: when the controller last answered 503', () => {
    const h = harness(testCluster({ cloudVMs: { InitialQuotaEstimate: 1 } }));
    h.pool.addWorker(h.type(1));
    h.pool.addWorker(h.type(1));
    h.client.at = h.clock.now() - 5_000;
    h.queue.add({ uuid: uuid(1), priority: 2 }, { uuid: uuid(2), priority: 1 });
    h.sch.runQueue();
    const b = why(h, uuid(2))!;
    assert.equal(b.reason, 'concurrency_limit');
    if (b.reason !== 'concurrency_limit') return;
    assert.equal(b.last_503, iso(h.client.at));
  });

  it('a declined create with no hold, while the pool reports a quota: the quota, not a vague decline', () => {
    const h = harness();
    h.pool.canCreate = 0;
    h.pool.limitsExtra.quotaError = { since: 5000, until: 65_000, error: 'InstanceLimitExceeded' };
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Locked' });
    h.sch.runQueue();
    assert.deepEqual(h.pool.creates, ['type1'], 'asked, and declined');
    const b = why(h, uuid(1))!;
    assert.equal(b.reason, 'quota');
    if (b.reason !== 'quota') return;
    assert.equal(b.bucket, 'cloud quota');
    assert.equal(b.error, 'InstanceLimitExceeded');
    assert.equal(b.until, iso(65_000));
  });

  it("the cloud's quota: the instance count it lifts below, as the limit", () => {
    const h = harness();
    h.pool.runOn(h.pool.addWorker(h.type(1)), uuid(9));
    h.pool.runOn(h.pool.addWorker(h.type(1)), uuid(8));
    h.pool.quota = 2;
    h.pool.limitsExtra.quotaError = { since: 5000, until: 65_000, error: 'VcpuLimitExceeded' };
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Locked', vcpus: 2, ram: 2 });
    h.sch.runQueue();
    const b = why(h, uuid(1))!;
    assert.deepEqual(
      { ...b, ahead: undefined },
      { reason: 'quota', position: 1, bucket: 'cloud quota', in_use: 2, limit: 2, since: iso(5000), until: iso(65_000), error: 'VcpuLimitExceeded', ahead: undefined },
    );
  });

  it('every eligible type at capacity: a shortage the cloud gave for a whole group of types keeps its scope', () => {
    const h = harness();
    h.pool.capacity.set('type1', 0);
    const limits = h.pool.createLimits.bind(h.pool);
    h.pool.createLimits = (types) => {
      const r = limits(types);
      for (const d of Object.values(r.capacity)) d.scope = 'group';
      return r;
    };
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Locked' });
    h.sch.runQueue();
    const b = why(h, uuid(1))!;
    assert.equal(b.reason, 'types_at_capacity');
    if (b.reason !== 'types_at_capacity') return;
    assert.deepEqual(b.types, [{ name: 'type1', scope: 'group', since: iso(1000), until: iso(61_000), error: 'no type1 capacity (fake)' }]);
  });

  it('what is ahead counts waiting containers of other sizes that share one of its types, and not those that share none', () => {
    const h = harness();
    for (const t of ['type2', 'type8']) h.pool.capacity.set(t, 0);
    h.queue.add(
      { uuid: uuid(1), priority: 4, state: 'Locked', vcpus: 8, ram: 8 },
      { uuid: uuid(2), priority: 3, state: 'Locked', vcpus: 1, ram: 2 },
      { uuid: uuid(3), priority: 2, state: 'Locked', vcpus: 2, ram: 2 },
    );
    assert.equal(h.queue.map.get(uuid(2))!.instanceTypes, h.queue.map.get(uuid(3))!.instanceTypes, 'both type2 only');
    h.sch.runQueue();
    const b = why(h, uuid(3))!;
    assert.equal(b.reason, 'types_at_capacity');
    assert.deepEqual(b.ahead, { containers: 1, vcpus: 1, ram_bytes: h.queue.map.get(uuid(2))!.instanceResources.ram });
  });

  it('what is ahead leaves out a Locked container at priority 0, though the order puts it first', () => {
    const h = harness();
    h.pool.capacity.set('type1', 0);
    h.queue.add({ uuid: uuid(1), priority: 0, state: 'Locked' }, { uuid: uuid(2), priority: 1 });
    h.sch.runQueue();
    const b = why(h, uuid(2))!;
    assert.equal(b.reason, 'types_at_capacity');
    assert.deepEqual(b.ahead, { containers: 0, vcpus: 0, ram_bytes: 0 });
  });

  it('a held idle instance of a type MaximumPriceFactor left out is not named: it will not run the container', () => {
    const h = harness();
    h.pool.capacity.set('type1', 0);
    h.pool.addWorker(h.type(2), 'idle', 'hold');
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Locked' });
    h.sch.runQueue();
    const b = why(h, uuid(1))!;
    assert.equal(b.reason, 'types_at_capacity');
    assert.deepEqual(b.price_cap?.types[0], { name: 'type2', price: 0.246, now: 'can be created' });
  });

  it('at quota, types MaximumPriceFactor left out are named only for an idle instance, none as creatable', () => {
    const h = harness();
    h.pool.runOn(h.pool.addWorker(h.type(4)), uuid(9));
    h.pool.addWorker(h.type(8));
    h.pool.quota = 2;
    h.pool.capacity.set('type1', 0);
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Locked' });
    h.sch.runQueue();
    const b = why(h, uuid(1))!;
    assert.equal(b.reason, 'types_at_capacity');
    assert.deepEqual(b.price_cap?.types, [{ name: 'type8', price: 0.984, now: 'idle instance' }]);
  });

  it('handed to crunch-run in an earlier pass, still Locked: preparing, on the instance that runs it', () => {
    const h = harness();
    h.pool.addWorker(h.type(1));
    const w = h.pool.addWorker(h.type(1));
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Locked' });
    h.pool.runOn(w, uuid(1));
    h.sch.runQueue();
    assert.deepEqual(why(h, uuid(1)), { reason: 'preparing', instance: w });
    assert.equal(h.status(uuid(1)), text.STATUS_PREPARING);
  });

  it('each entry of the queue view leads to its own container\'s blocker, where the scheduling order is not the queue\'s', () => {
    // The API and the suggester look a view entry's blocker up by its listIndex.
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 0 }, { uuid: uuid(2), priority: 1 }, { uuid: uuid(3), priority: 5, state: 'Locked' });
    h.sch.runQueue();
    const view = h.sch.queueView();
    assert.deepEqual(
      view.map((v) => v.entry.container.uuid),
      [uuid(3), uuid(2), uuid(1)],
      'Locked first, then by priority: the reverse of the queue',
    );
    const b = h.sch.why()!;
    for (const v of view) assert.deepEqual(b.blockerAt(v.listIndex), b.blockerOf(v.entry.container.uuid), v.entry.container.uuid);
    assert.equal(b.blockerAt(view[2].listIndex)?.reason, 'priority_zero');
  });
});
