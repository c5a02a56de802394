/**
 * Limits: cloud quota and capacity, the dynamic concurrency limit after
 * controller 503s, the supervisor cap, and no lock/unlock churn.
 */
import assert from 'node:assert/strict';
import type { PassContext } from '../../src/scheduler/deps.js';
import { unlockOverQuota } from '../../src/scheduler/pass-edges.js';
import { harness, logged, testCluster, uuid } from './harness.js';

const atCloudLimits = (n: number): string =>
  `Waiting in queue at position ${n}.  Cluster is at cloud account limits and cannot start any new instances right now.`;
const atCapacity = (n: number): string =>
  `Waiting in queue at position ${n}.  Cluster is at capacity and cannot start any new instances right now.`;

describe('scheduler run queue: quota and limits', () => {
  describe('at quota', () => {
    for (const quota of [1, 2]) {
      it(`shuts down as many unneeded instances as make one place under MaxInstances, and keeps only the head locked (MaxInstances ${quota}, 2 instances)`, async () => {
        const h = harness();
        h.queue.add({ uuid: uuid(2), priority: 2, vcpus: 2, ram: 2, state: 'Locked' });
        h.queue.add({ uuid: uuid(3), priority: 3, vcpus: 3, ram: 3, state: 'Locked' });
        const a = h.pool.addWorker(h.type(2));
        const b = h.pool.addWorker(h.type(2));
        h.pool.quota = quota;
        h.sch.sync();
        h.sch.runQueue();
        h.sch.sync();
        await h.clock.advance(0);
        assert.deepEqual(h.pool.starts, [], 'the head needs a type3, so nothing starts on the type2s');
        assert.deepEqual(h.pool.creates, []);
        // The last in placement order first; with the limit at 1, both must go for one place.
        assert.deepEqual(h.pool.shutdowns, quota === 1 ? [b, a] : [b]);
        assert.deepEqual(h.queue.changes, [{ uuid: uuid(2), from: 'Locked', to: 'Queued' }]);
        assert.equal(h.status(uuid(3)), atCloudLimits(1));
        assert.equal(h.status(uuid(2)), atCloudLimits(2));
        assert.equal(h.sch.containersNotAllocatedOverQuota, 2);
        assert.equal(h.sch.maxContainers, 2, 'clamped to the instance count');
      });
    }

    it("at the cloud's quota, whose units it does not know, shuts down every unneeded instance", async () => {
      const h = harness();
      h.queue.add({ uuid: uuid(3), priority: 3, vcpus: 3, ram: 3, state: 'Locked' });
      const a = h.pool.addWorker(h.type(2));
      const b = h.pool.addWorker(h.type(2));
      h.pool.quota = 2;
      h.pool.limitsExtra.quotaError = { since: 0, until: 60_000, error: 'VcpuLimitExceeded (fake)' };
      h.sch.sync();
      h.sch.runQueue();
      await h.clock.advance(0);
      assert.deepEqual([...h.pool.shutdowns].sort(), [a, b]);
      assert.deepEqual(
        logged(h, /^shutting down instance with nothing to run/).map((r) => r.msg),
        ['shutting down instance with nothing to run: at cloud quota', 'shutting down instance with nothing to run: at cloud quota'],
      );
    });

    it('at MaxInstances, shuts nothing more down while an instance it shut down still counts', async () => {
      const h = harness();
      h.queue.add({ uuid: uuid(3), priority: 3, vcpus: 3, ram: 3, state: 'Locked' });
      h.pool.addWorker(h.type(2));
      h.pool.addWorker(h.type(2), 'shutdown');
      h.pool.quota = 2;
      h.sch.sync();
      h.sch.runQueue();
      await h.clock.advance(0);
      assert.deepEqual(h.pool.shutdowns, []);
      assert.equal(h.status(uuid(3)), atCloudLimits(1));
    });

    it('creates what it can below quota and starts the rest on idle instances', async () => {
      const h = harness();
      h.queue.add({ uuid: uuid(2), priority: 2, vcpus: 2, ram: 2, state: 'Locked' });
      h.queue.add({ uuid: uuid(3), priority: 3, vcpus: 3, ram: 3, state: 'Locked' });
      h.pool.addWorker(h.type(2));
      h.pool.addWorker(h.type(2));
      h.pool.quota = 3;
      h.sch.runQueue();
      h.sch.sync();
      await h.clock.advance(0);
      assert.deepEqual(h.pool.creates, ['type3']);
      assert.deepEqual(h.pool.starts, [uuid(2)]);
      assert.deepEqual(h.pool.shutdowns, []);
      assert.deepEqual(h.queue.changes, []);
    });

    it('unlocks the head too when no instance exists at all', async () => {
      const h = harness();
      h.queue.add({ uuid: uuid(1), priority: 2, state: 'Locked' }, { uuid: uuid(2), priority: 1, state: 'Locked' });
      h.pool.quota = 0;
      h.sch.runQueue();
      await h.clock.advance(0);
      assert.deepEqual(
        h.queue.changes.map((c) => c.uuid),
        [uuid(1), uuid(2)],
      );
    });

    it('above MaxInstances at start, lets the busy instances finish their containers and shuts down only idle ones', async () => {
      const h = harness(testCluster({ cloudVMs: { MaxInstances: 2 } }));
      const busy: string[] = [];
      for (const n of [1, 2, 3]) {
        h.queue.add({ uuid: uuid(n), priority: 5, vcpus: 2, ram: 2, state: 'Running' });
        const id = h.pool.addWorker(h.type(2));
        h.pool.runOn(id, uuid(n));
        busy.push(id);
      }
      const idle = h.pool.addWorker(h.type(2));
      h.queue.add({ uuid: uuid(9), priority: 9, vcpus: 3, ram: 3, state: 'Locked' });
      h.pool.quota = 2;
      h.sch.sync();
      h.sch.runQueue();
      h.sch.sync();
      await h.clock.advance(0);
      assert.deepEqual(h.pool.kills, [], 'no running container is killed to get under MaxInstances');
      assert.ok(
        busy.every((id) => !h.pool.shutdowns.includes(id)),
        `no busy instance is asked to shut down (asked: ${h.pool.shutdowns.join(', ')})`,
      );
      assert.deepEqual(h.pool.shutdowns, [idle], 'the idle instance goes');
      assert.equal(h.pool.running().size, 3, 'all three containers still run');
    });

    it('keeps a lone over-quota head locked while instances exist', async () => {
      const h = harness();
      h.queue.add({ uuid: uuid(1), vcpus: 3, ram: 3, state: 'Locked' });
      h.pool.addWorker(h.type(1));
      h.pool.quota = 1;
      h.sch.runQueue();
      await h.clock.advance(0);
      assert.deepEqual(h.queue.changes, []);
      assert.equal(h.pool.shutdowns.length, 1);
    });

    it('locks no more queued containers than the instances at quota can take', async () => {
      const h = harness();
      h.queue.add({ uuid: uuid(1), priority: 2 }, { uuid: uuid(2), priority: 1 });
      h.pool.addWorker(h.type(1));
      h.pool.quota = 1;
      h.sch.runQueue();
      await h.clock.advance(0);
      assert.deepEqual(h.queue.calls, [`lock ${uuid(1)}`], 'at quota the limit is the workload: one instance');
      assert.equal(h.status(uuid(2)), atCloudLimits(2));
    });

    // M64: a Locked container crunch-run is already starting must never be unlocked at the quota line: the controller
    // could hand it to another dispatcher while it runs here (twice), and each unlock uses up a dispatch attempt.
    // Through runQueue the scheduling order puts containers with a record first, before the quota line, so this
    // end-to-end test holds even without unlockOverQuota's own `!records.has` guard; the next test pins the guard.
    it('does not unlock an over-quota Locked container that already has a crunch-run record, but unlocks the others behind the head', async () => {
      const h = harness();
      h.queue.add(
        { uuid: uuid(3), priority: 3, vcpus: 3, ram: 3, state: 'Locked' },
        { uuid: uuid(2), priority: 2, state: 'Locked' },
        { uuid: uuid(1), priority: 1, state: 'Locked' },
      );
      // Two instances at MaxInstances 2: with one, the concurrency limit (clamped to the instance count) would stop the pass before the quota line.
      const a = h.pool.addWorker(h.type(1));
      h.pool.addWorker(h.type(1));
      h.pool.runOn(a, uuid(2));
      h.pool.quota = 2;
      h.sch.sync();
      h.sch.runQueue();
      await h.clock.advance(0);
      assert.deepEqual(h.pool.creates, []);
      assert.equal(h.status(uuid(3)), atCloudLimits(1), 'the head waits for quota: needs a type3, no room');
      assert.ok(!h.queue.calls.includes(`unlock ${uuid(2)}`), 'crunch-run has it: left to run');
      assert.equal(h.queue.state(uuid(2)), 'Locked');
      assert.deepEqual(h.queue.changes, [{ uuid: uuid(1), from: 'Locked', to: 'Queued' }], 'the one without a record behind the head is unlocked');
    });

    it('unlockOverQuota leaves a Locked container with a crunch-run record locked, and unlocks the rest of the line behind the head', async () => {
      const h = harness();
      h.queue.add(
        { uuid: uuid(3), priority: 3, vcpus: 3, ram: 3, state: 'Locked' },
        { uuid: uuid(2), priority: 2, state: 'Locked' },
        { uuid: uuid(1), priority: 1, state: 'Locked' },
      );
      const ctx = { queue: h.queue, logger: h.logger, ops: { run: (_u: string, _op: string, fn: () => Promise<void>) => fn() } } as unknown as PassContext;
      const line = [uuid(3), uuid(2), uuid(1)].map((u) => h.queue.map.get(u)!);
      unlockOverQuota(ctx, line, [], 1, new Map([[uuid(2), {}]]));
      await h.clock.advance(0);
      assert.deepEqual(h.queue.calls, [`unlock ${uuid(1)}`], 'the head stays locked (instances exist); the one crunch-run has is left to run');
      assert.equal(h.queue.state(uuid(2)), 'Locked');
      assert.deepEqual(
        logged(h, /^unlock because/).map((r) => [r.msg, r.ContainerUUID]),
        [['unlock because pool capacity is used by higher priority containers', uuid(1)]],
        "the reference's words",
      );
    });

    // M11: a create that reaches MaxInstances must end the pass's below-quota path at once. Otherwise the rest of the
    // pass acts as if below the limit (asks for more VMs, locks containers with no room, using up their attempts),
    // and the over-quota path waits for the next pass.
    it('treats the rest of the pass as over quota as soon as a create reaches MaxInstances', async () => {
      const h = harness();
      h.queue.add({ uuid: uuid(3), priority: 3, vcpus: 3, ram: 3, state: 'Locked' }, { uuid: uuid(2), priority: 2, vcpus: 2, ram: 2, state: 'Locked' });
      h.pool.quota = 1;
      h.sch.sync();
      h.sch.runQueue();
      await h.clock.advance(0);
      assert.deepEqual(h.pool.creates, ['type3'], 'one create, for the head; none for the second');
      assert.equal(h.status(uuid(2)), atCloudLimits(1), 'over quota in this same pass');
      assert.equal(h.sch.containersNotAllocatedOverQuota, 1);
      assert.deepEqual(h.queue.changes, [], 'an instance exists now (being created): the head of the quota line keeps its lock, and its dispatch attempt');
    });
  });

  describe('capacity', () => {
    it('skips a type the pool reports at capacity, for the next eligible type', () => {
      const h = harness(testCluster({ containers: { MaximumPriceFactor: 1.5 } }));
      h.queue.add({ uuid: uuid(1), vcpus: 2, ram: 2, state: 'Locked' });
      h.pool.capacity.set('type2', 0);
      h.sch.runQueue();
      assert.deepEqual(h.pool.creates, ['type3']);
      assert.equal(h.status(uuid(1)), 'Waiting for a type3 instance to boot and be ready to accept work.');
    });

    it('tries lower priorities on other types while every eligible type of a higher one is at capacity', async () => {
      const h = harness();
      h.queue.add(
        { uuid: uuid(1), priority: 1, state: 'Locked' },
        { uuid: uuid(2), priority: 2, vcpus: 4, ram: 4 },
        { uuid: uuid(3), priority: 3, vcpus: 4, ram: 4, state: 'Locked' },
        { uuid: uuid(4), priority: 4, vcpus: 4, ram: 4, state: 'Locked' },
      );
      h.pool.capacity.set('type4', 1);
      h.pool.addWorker(h.type(4));
      h.sch.sync();
      h.sch.runQueue();
      h.sch.sync();
      await h.clock.advance(0);
      assert.deepEqual(h.pool.starts, [uuid(4)]);
      assert.deepEqual(h.pool.creates, ['type1']);
      assert.deepEqual(h.queue.calls, [], 'container 2 is not locked: its type is at capacity');
      assert.deepEqual(h.pool.shutdowns, []);
      assert.equal(
        h.status(uuid(3)),
        'Waiting in queue at position 1.  Cluster is at capacity for all eligible instance types (type4) and cannot start a new instance right now.',
      );
      assert.equal(h.status(uuid(2)), atCapacity(2));
    });
  });

  describe('at quota with the head out of capacity', () => {
    it('does not shut down instances for a head whose every type is at capacity: the containers behind it use them', async () => {
      const h = harness();
      h.queue.add(
        { uuid: uuid(1), priority: 1, state: 'Locked' },
        { uuid: uuid(2), priority: 2, state: 'Locked' },
        { uuid: uuid(4), priority: 4, vcpus: 4, ram: 4, state: 'Locked' },
      );
      h.pool.capacity.set('type4', 0);
      h.pool.addWorker(h.type(1));
      h.pool.addWorker(h.type(1));
      h.pool.quota = 2;
      h.sch.sync();
      h.sch.runQueue();
      h.sch.sync();
      await h.clock.advance(0);
      assert.deepEqual(h.pool.shutdowns, [], 'freeing quota for the head would not get it a VM');
      assert.deepEqual(h.pool.creates, []);
      assert.deepEqual([...h.pool.starts].sort(), [uuid(1), uuid(2)]);
      assert.deepEqual(h.queue.changes, [], 'nothing unlocked');
      assert.equal(
        h.status(uuid(4)),
        'Waiting in queue at position 1.  Cluster is at capacity for all eligible instance types (type4) and cannot start a new instance right now.',
      );
    });

    it('does not hold the line for a queued head out of capacity either', async () => {
      const h = harness();
      h.queue.add({ uuid: uuid(1), priority: 1 }, { uuid: uuid(4), priority: 4, vcpus: 4, ram: 4 });
      h.pool.capacity.set('type4', 0);
      h.pool.addWorker(h.type(1));
      h.pool.quota = 1;
      h.sch.sync();
      h.sch.runQueue();
      await h.clock.advance(0);
      assert.deepEqual(h.pool.shutdowns, []);
      assert.deepEqual(h.queue.calls, [`lock ${uuid(1)}`], 'the one that fits the idle instance is locked; the head is not');
    });

    it('once a type of the head has capacity again, holds the line and says which limit it is in the log', async () => {
      const h = harness();
      h.queue.add({ uuid: uuid(1), priority: 1, state: 'Locked' }, { uuid: uuid(4), priority: 4, vcpus: 4, ram: 4, state: 'Locked' });
      h.pool.capacity.set('type4', 1);
      const a = h.pool.addWorker(h.type(1));
      h.pool.quota = 1;
      h.sch.sync();
      h.sch.runQueue();
      await h.clock.advance(0);
      assert.deepEqual(h.pool.shutdowns, [a]);
      assert.deepEqual(h.pool.starts, []);
      const lines = logged(h, /^shutting down instance with nothing to run/);
      assert.equal(lines.length, 1);
      assert.equal(lines[0].msg, 'shutting down instance with nothing to run: at MaxInstances');
      assert.equal(lines[0].MaxInstances, 1);
      assert.equal(lines[0].Instances, 1);
    });
  });

  describe('dynamic concurrency limit', () => {
    /** Two containers started, two Locked waiting, one Queued; four idle-able instances. */
    function busyCluster() {
      const h = harness();
      h.queue.add(
        { uuid: uuid(1), priority: 1000, vcpus: 2, ram: 2, state: 'Locked' },
        { uuid: uuid(2), priority: 1000, vcpus: 2, ram: 2, state: 'Locked' },
        { uuid: uuid(3), priority: 1000, vcpus: 3, ram: 3, state: 'Locked' },
        { uuid: uuid(4), priority: 1000, vcpus: 3, ram: 3, state: 'Locked' },
        { uuid: uuid(5), priority: 1000, vcpus: 3, ram: 3 },
      );
      const w2 = [h.pool.addWorker(h.type(2)), h.pool.addWorker(h.type(2))];
      const w3 = [h.pool.addWorker(h.type(3)), h.pool.addWorker(h.type(3))];
      h.pool.runOn(w2[0], uuid(1));
      h.pool.runOn(w3[0], uuid(3));
      return h;
    }

    it('neither unlocks nor shuts down during the quiet period after a 503', async () => {
      const h = busyCluster();
      h.client.at = h.clock.now();
      h.sch.sync();
      h.sch.runQueue();
      h.sch.sync();
      await h.clock.advance(0);
      assert.equal(h.sch.maxContainers, 1, 'max(1, running - 1)');
      assert.deepEqual(h.pool.starts, []);
      assert.deepEqual(h.pool.shutdowns, []);
      assert.deepEqual(h.pool.creates, []);
      assert.deepEqual(h.queue.calls, []);
      assert.equal(h.status(uuid(1)), 'Container is allocated to an instance and preparing to run.');
      assert.equal(h.status(uuid(2)), atCapacity(1));
      assert.equal(h.status(uuid(4)), atCapacity(2));
      assert.equal(h.status(uuid(5)), atCapacity(3));
    });

    it('cuts by a quarter on a 503 and regrows by ~10% once Q (2 x PollInterval) passes without one', async () => {
      const h = harness(testCluster({ cloudVMs: { MaxInstances: 100 } }));
      for (let i = 1; i <= 30; i++) h.queue.add({ uuid: uuid(i), priority: 1, state: i <= 10 ? 'Running' : 'Queued' });
      for (let i = 1; i <= 10; i++) h.pool.runOn(h.pool.addWorker(h.type(1)), uuid(i));
      h.pool.canCreate = 0;
      h.client.at = h.clock.now();
      h.sch.runQueue();
      assert.equal(h.sch.maxContainers, 7, 'floor(10 x 0.75)');
      assert.equal(h.sch.controllerState, 'overload');
      await h.clock.advance(19_999);
      h.sch.runQueue();
      assert.equal(h.sch.maxContainers, 7, 'still the quiet period (PollInterval 10 s)');
      await h.clock.advance(1);
      h.sch.runQueue();
      assert.equal(h.sch.maxContainers, 12, 'floor(10 x 1.1) + 1');
      assert.equal(h.sch.controllerState, 'normal');
      for (let i = 11; i <= 12; i++) h.pool.runOn(h.pool.addWorker(h.type(1)), uuid(i));
      h.sch.runQueue();
      assert.equal(h.sch.maxContainers, 14, 'floor(12 x 1.1) + 1');
      h.client.at = h.clock.now();
      h.sch.runQueue();
      assert.equal(h.sch.maxContainers, 9, 'a new 503: floor(12 x 0.75)');
    });

    it('starts at InitialQuotaEstimate and locks no more than that', async () => {
      const h = harness(testCluster({ cloudVMs: { InitialQuotaEstimate: 3 } }));
      for (let i = 1; i <= 6; i++) h.queue.add({ uuid: uuid(i), priority: 10 - i });
      for (let i = 0; i < 6; i++) h.pool.addWorker(h.type(1));
      assert.equal(h.sch.maxContainers, 3);
      h.sch.runQueue();
      await h.clock.advance(0);
      assert.deepEqual(h.queue.calls, [1, 2, 3].map((i) => `lock ${uuid(i)}`));
    });
  });

  describe('supervisors', () => {
    it('unlocks supervisors over floor(limit x SupervisorFraction) but lets their instances boot', async () => {
      const h = harness();
      for (let i = 1; i <= 6; i++) h.queue.add({ uuid: uuid(i), priority: 1000 - i, vcpus: 2, ram: 2, supervisor: true, state: 'Locked' });
      const ws = Array.from({ length: 6 }, () => h.pool.addWorker(h.type(2)));
      for (let i = 0; i < 4; i++) h.pool.runOn(ws[i], uuid(i + 1));
      h.sch.sync();
      h.sch.runQueue();
      h.sch.sync();
      await h.clock.advance(0);
      assert.deepEqual(h.queue.changes, [
        { uuid: uuid(5), from: 'Locked', to: 'Queued' },
        { uuid: uuid(6), from: 'Locked', to: 'Queued' },
      ]);
      assert.deepEqual(h.pool.shutdowns, []);
      assert.deepEqual(h.pool.starts, []);
      assert.equal(h.status(uuid(5)), 'Waiting in workflow queue at position 1.  Cluster is at capacity and cannot start any new workflows right now.');
      assert.equal(h.status(uuid(6)), 'Waiting in workflow queue at position 2.  Cluster is at capacity and cannot start any new workflows right now.');
      assert.deepEqual(
        logged(h, /^unlock because/).map((r) => [r.msg, r.ContainerUUID]),
        [uuid(5), uuid(6)].map((u) => ['unlock because pool capacity is used by higher priority containers', u]),
        "the reference's line, as for the quota",
      );
    });

    it('counts a supervisor ahead in the order against the cap even when it will not run (Locked at priority 0), as the reference does', async () => {
      // MaxInstances 10 x SupervisorFraction 0.2: a cap of 2.
      const h = harness();
      h.queue.add(
        { uuid: uuid(1), priority: 0, supervisor: true, state: 'Locked' },
        { uuid: uuid(2), priority: 5, supervisor: true },
        { uuid: uuid(3), priority: 4, supervisor: true },
      );
      h.sch.runQueue();
      await h.clock.advance(0);
      assert.equal(h.status(uuid(1)), 'This container will not be scheduled to run because its priority is 0 and state is Locked.');
      assert.deepEqual(h.queue.changes, [{ uuid: uuid(2), from: 'Queued', to: 'Locked' }], 'the second supervisor fits under the cap');
      assert.equal(h.status(uuid(3)), 'Waiting in workflow queue at position 1.  Cluster is at capacity and cannot start any new workflows right now.');
      assert.equal(h.sch.containersNotAllocatedOverQuota, 1, 'a supervisor over the cap counts as not allocated over quota');
    });

    it('caps no supervisors when SupervisorFraction is negative, as when it is 0', async () => {
      const h = harness(testCluster({ cloudVMs: { SupervisorFraction: -0.5 } }));
      for (let i = 1; i <= 6; i++) h.queue.add({ uuid: uuid(i), priority: 1000 - i, vcpus: 2, ram: 2, supervisor: true, state: 'Locked' });
      const ws = Array.from({ length: 6 }, () => h.pool.addWorker(h.type(2)));
      for (let i = 0; i < 4; i++) h.pool.runOn(ws[i], uuid(i + 1));
      h.sch.sync();
      h.sch.runQueue();
      await h.clock.advance(0);
      assert.deepEqual(h.queue.changes, [], 'none unlocked');
      assert.deepEqual(h.pool.starts, [uuid(5), uuid(6)]);
    });

    it('does not shut down idle instances just because supervisors are over the cap', async () => {
      const h = harness();
      for (let i = 1; i <= 8; i++) h.queue.add({ uuid: uuid(i), priority: 1000 + i, vcpus: 2, ram: 2, supervisor: true, state: i === 3 || i === 4 ? 'Locked' : 'Queued' });
      for (let i = 0; i < 3; i++) h.pool.addWorker(h.type(2));
      h.sch.runQueue();
      h.sch.sync();
      await h.clock.advance(0);
      assert.deepEqual(h.pool.starts, [uuid(4), uuid(3)]);
      assert.deepEqual(h.pool.shutdowns, []);
      assert.deepEqual(h.queue.calls, []);
    });
  });

  it('a negative MaxInstances limits nothing, as 0: 70 containers get 70 instances', async () => {
    const h = harness(testCluster({ cloudVMs: { MaxInstances: -1 } }));
    for (let i = 1; i <= 70; i++) h.queue.add({ uuid: uuid(i), priority: 1, vcpus: 1, ram: 1, state: 'Locked' });
    h.sch.runQueue();
    await h.clock.advance(0);
    assert.equal(h.pool.creates.length, 70);
    assert.equal(h.sch.maxContainers, 0, 'no concurrency limit');
  });

  it('does not flap locks among equal priorities competing for few instances', async () => {
    const h = harness();
    for (let i = 0; i < 8; i++) h.queue.add({ uuid: uuid(i), priority: 333, vcpus: 3, ram: 3 });
    h.pool.addWorker(h.type(3));
    h.pool.addWorker(h.type(3));
    h.pool.quota = 2;
    for (let pass = 0; pass < 10; pass++) {
      h.sch.runQueue();
      h.sch.sync();
      await h.clock.advance(1);
    }
    assert.deepEqual(h.pool.starts, [uuid(0), uuid(1)]);
    assert.deepEqual(h.pool.shutdowns, []);
    assert.deepEqual(h.queue.changes.filter((c) => c.to === 'Queued'), [], 'nothing just locked is unlocked');
    assert.deepEqual(h.queue.calls, [`lock ${uuid(0)}`, `lock ${uuid(1)}`]);
  });
});
