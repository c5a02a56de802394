/**
 * The spending cap in a scheduling pass, on the scheduler's fakes: no VM
 * over the hard level, an idle VM still used however high the burn, a
 * held container's blocker and timeline event, and nothing changed when off.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/index.js';
import type { Settings } from '../../src/config/settings.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { LocalityPlanner } from '../../src/placement/locality-planner.js';
import { SpendingCap } from '../../src/placement/spending-cap.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { describeBlocker } from '../../src/scheduler/why-text.js';
import { FakeClient, FakePool, FakeQueue, testCluster, uuid } from '../scheduler/fakes.js';

const CAP: Settings['SpendingCap'] = { Enable: true, Soft: 0, Hard: 1, DeferBelowPriority: 0, PerOwnerBy: 'owner', PerOwnerSoft: 0, PerOwnerHard: 0, HighPriorityFirst: true };

/** type2 costs $0.246/h, type4 $0.492/h; one type4 runs a container. The burn is the pool's VMs' prices, as the ledger would say. */
function setup(capOn: boolean, hard = 1, highPriorityFirst = true, locality?: LocalityPlanner, perOwner?: { PerOwnerHard: number; owners: Record<string, string> }) {
  const clock = new ManualClock();
  const cluster = testCluster({ types: [2, 4] });
  const queue = new FakeQueue(clock, cluster);
  const pool = new FakePool(clock);
  const type4 = cluster.InstanceTypes.type4;
  const busy = pool.addWorker(type4, 'running');
  queue.add({ uuid: uuid(100), state: 'Running', vcpus: 4 });
  pool.runOn(busy, uuid(100));
  const burn = (): number => [...pool.workers.values()].reduce((s, w) => s + w.price, 0);
  const source = { fresh: () => ({ costPerHour: burn, totalDollars: () => 0, eachLive: () => undefined }) };
  const owners = perOwner && { ownerOf: (u: string) => perOwner.owners[u], update: () => undefined };
  const spendingCap = capOn ? new SpendingCap({ ...CAP, Hard: hard, HighPriorityFirst: highPriorityFirst, PerOwnerHard: perOwner?.PerOwnerHard ?? 0 }, source, clock, owners) : undefined;
  const events: Array<[string, Record<string, string | number>]> = [];
  const timeline = { vmRequested: () => undefined, unlocking: () => undefined, cancelling: () => undefined, spendingCap: (u: string, d: Record<string, string | number>) => events.push([u, d]) };
  const logger = createLogger({ stream: new LineCollector(), level: 'debug', clock });
  const sch = new Scheduler({ queue, pool, client: new FakeClient(), cluster, clock, logger, timeline, ...(spendingCap ? { spendingCap } : {}), ...(locality ? { locality } : {}) });
  return { queue, pool, sch, events, type4 };
}

describe('spending cap in a scheduling pass', () => {
  it('off: a VM for every container that needs one', () => {
    const { queue, pool, sch } = setup(false);
    queue.add({ uuid: uuid(1), state: 'Locked', vcpus: 4, priority: 3 }, { uuid: uuid(2), state: 'Locked', vcpus: 4, priority: 2 });
    sch.runQueue();
    assert.deepEqual(pool.creates, ['type4', 'type4']);
  });

  it('on: no VM that would take the burn over the hard level; the held container says so, in its blocker and once in its timeline', () => {
    const { queue, pool, sch, events } = setup(true);
    queue.add({ uuid: uuid(1), state: 'Locked', vcpus: 4, priority: 3 }, { uuid: uuid(2), state: 'Locked', vcpus: 4, priority: 2 });
    sch.runQueue();
    // 0.492 + 0.492 = 0.984 fits under $1/h; a third would not.
    assert.deepEqual(pool.creates, ['type4']);
    const b = sch.why()!.blockerOf(uuid(2))!;
    assert.equal(b.reason, 'spending_cap');
    assert.equal(describeBlocker(b), 'spending cap: $0.98/h of $1.00/h in use');
    sch.runQueue();
    assert.deepEqual(pool.creates, ['type4']);
    assert.deepEqual(events, [[uuid(2), { level: 'hard', scope: 'cluster', burn_per_hour: 0.98, cap_per_hour: 1 }]]);
  });

  it("a held container's scheduling_status says whose spending limit holds it, not that the cluster is at capacity", () => {
    const status = (sch: Scheduler, u: string) => sch.queueView().find((e) => e.entry.container.uuid === u)?.schedulingStatus;
    const both = [
      { uuid: uuid(1), state: 'Locked', vcpus: 4, priority: 3 },
      { uuid: uuid(2), state: 'Locked', vcpus: 4, priority: 2 },
    ] as const;
    const cluster = setup(true);
    cluster.queue.add(...both);
    cluster.sch.runQueue();
    assert.equal(status(cluster.sch, uuid(1)), 'Waiting for a type4 instance to boot and be ready to accept work.');
    assert.equal(status(cluster.sch, uuid(2)), 'Waiting in queue at position 1.  Cluster is at its spending limit and cannot start any new instances right now.');

    // alice may burn $0.60/h: her first type4 ($0.492/h) fits, her second would not; the cluster has no level of its own.
    const owner = setup(true, 0, true, undefined, { PerOwnerHard: 0.6, owners: { [uuid(1)]: 'alice', [uuid(2)]: 'alice' } });
    owner.queue.add(...both);
    owner.sch.runQueue();
    assert.deepEqual(owner.pool.creates, ['type4']);
    const b = owner.sch.why()!.blockerOf(uuid(2));
    assert.ok(b?.reason === 'spending_cap' && b.scope === 'owner' && b.owner === 'alice', JSON.stringify(b));
    assert.equal(status(owner.sch, uuid(2)), "Waiting in queue at position 1.  This container's owner is at their spending limit, so no new instance can start for it right now.");
  });

  it('on: an idle VM is used however high the burn: it costs nothing more', () => {
    const { queue, pool, sch, type4 } = setup(true);
    pool.runOn(pool.addWorker(type4, 'running'), uuid(101));
    const idle = pool.addWorker(type4, 'idle');
    queue.add({ uuid: uuid(101), state: 'Running', vcpus: 4 }, { uuid: uuid(1), state: 'Locked', vcpus: 4 });
    sch.runQueue();
    assert.deepEqual(pool.creates, []);
    assert.deepEqual(pool.starts, [uuid(1)]);
    assert.ok(pool.workers.get(idle)!.runningContainerUUIDs.includes(uuid(1)) || pool.runningMap.has(uuid(1)));
  });

  it('on: a Queued container the cap holds is not locked', () => {
    const { queue, pool, sch, type4 } = setup(true);
    pool.runOn(pool.addWorker(type4, 'running'), uuid(101));
    queue.add({ uuid: uuid(101), state: 'Running', vcpus: 4 }, { uuid: uuid(1), state: 'Queued', vcpus: 4 });
    sch.runQueue();
    assert.equal(queue.map.get(uuid(1))!.container.state, 'Queued');
    assert.deepEqual(queue.calls, []);
    assert.equal(sch.why()!.blockerOf(uuid(1))?.reason, 'spending_cap');
  });

  it('on: the higher priority gets the money that frees first: a cheaper, lower-priority container does not take it meanwhile', () => {
    const { queue, pool, sch } = setup(true, 0.8);
    // $0.492 + a type4's $0.492 is over $0.80; a type2's $0.246 would fit.
    queue.add({ uuid: uuid(1), state: 'Locked', vcpus: 4, priority: 9 }, { uuid: uuid(2), state: 'Locked', vcpus: 1, priority: 1 });
    sch.runQueue();
    assert.deepEqual(pool.creates, []);
    const b = sch.why()!.blockerOf(uuid(2))!;
    assert.equal(describeBlocker(b), 'spending cap: $0.49/h of $0.80/h in use; a higher-priority container waits for the money first');
    // Once nobody wants the higher one, the lower one gets its VM.
    queue.add({ uuid: uuid(1), state: 'Locked', vcpus: 4, priority: 0 });
    sch.runQueue();
    assert.deepEqual(pool.creates, ['type2']);
  });

  it('on, HighPriorityFirst: while a higher-priority container waits for money, a lower one starts on no ready VM, and empty VMs are shut down to free it', () => {
    const { queue, pool, sch, type4 } = setup(true, 0.8);
    const type2 = { ...type4, Name: 'type2', ProviderType: 'type2', VCPUs: 2, Price: 0.246 };
    const idle = pool.addWorker(type2, 'idle');
    // And a type4 with room for the low one.
    pool.runOn(pool.addWorker(type4, 'running'), uuid(102));
    // Burn $1.23; the high one's type4 needs $0.92 freed.
    queue.add({ uuid: uuid(102), state: 'Running', vcpus: 1 }, { uuid: uuid(1), state: 'Queued', vcpus: 4, priority: 9 }, { uuid: uuid(2), state: 'Queued', vcpus: 1, priority: 1 });
    sch.runQueue();
    assert.deepEqual(queue.calls, []);
    assert.equal(sch.why()!.blockerOf(uuid(2))?.reason, 'spending_cap');
    assert.deepEqual(pool.shutdowns, [idle]);
    assert.deepEqual(pool.creates, []);
  });

  it('on, HighPriorityFirst false: ready VMs stay usable to the lower-priority container', () => {
    const { queue, pool, sch, type4 } = setup(true, 0.8, false);
    const type2 = { ...type4, Name: 'type2', ProviderType: 'type2', VCPUs: 2, Price: 0.246 };
    pool.addWorker(type2, 'idle');
    queue.add({ uuid: uuid(1), state: 'Queued', vcpus: 4, priority: 9 }, { uuid: uuid(2), state: 'Queued', vcpus: 1, priority: 1 });
    sch.runQueue();
    assert.deepEqual(queue.calls, [`lock ${uuid(2)}`]);
    assert.deepEqual(pool.shutdowns, []);
  });

  it('on, HighPriorityFirst, with locality: the warm VM locality would pick is held back too', () => {
    const locality = new LocalityPlanner({ timeouts: { cacheTimeoutMs: 120_000, depsTimeoutMs: 60_000 }, endOdds: () => () => 0 });
    const { queue, pool, sch, type4 } = setup(true, 0.8, true, locality);
    // A type2 with room for one more VCPU that has run img-a, the low-priority container's image.
    const type2 = { ...type4, Name: 'type2', ProviderType: 'type2', VCPUs: 2, Price: 0.246 };
    pool.runOn(pool.addWorker(type2, 'running'), uuid(102));
    queue.add({ uuid: uuid(102), state: 'Running', vcpus: 1 }, { uuid: uuid(1), state: 'Locked', vcpus: 4, priority: 9 }, { uuid: uuid(2), state: 'Locked', vcpus: 1, priority: 1 });
    for (const id of [uuid(102), uuid(2)]) queue.map.get(id)!.container.container_image = 'img-a';
    sch.runQueue();
    assert.deepEqual(pool.starts, [], 'the higher-priority container waits for money: nothing after it starts on a ready VM');
    assert.equal(sch.why()!.blockerOf(uuid(2))?.reason, 'spending_cap');
  });
});
