/**
 * Locality in a whole scheduling pass (the scheduler on the fakes): a
 * container held for the busy VM that has its image is not started on the
 * idle one, says why (blocker and words), tells its timeline, and starts on
 * the idle VM once both timeouts are over, not before.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/index.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { LocalityPlanner } from '../../src/placement/locality-planner.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { describeBlocker } from '../../src/scheduler/why-text.js';
import type { SchedulerTimeline } from '../../src/timeline/sink.js';
import { FakeClient, FakePool, FakeQueue, testCluster } from '../scheduler/fakes.js';

/**
 * The scheduler on the fakes with a locality planner (2 min / 1 min, runs
 * ending in 30 s), container 1 running on a warm VM with image img-a, and
 * container 2 (also img-a) in `state`, with an idle VM of the same type.
 */
function setup(state: 'Queued' | 'Locked', timeline: SchedulerTimeline) {
  const clock = new ManualClock();
  const cluster = testCluster();
  const queue = new FakeQueue(clock, cluster);
  const pool = new FakePool(clock);
  const locality = new LocalityPlanner({ timeouts: { cacheTimeoutMs: 120_000, depsTimeoutMs: 60_000 }, endOdds: () => (t) => (t >= 30_000 ? 1 : 0) });
  const logger = createLogger({ stream: new LineCollector(), level: 'debug', clock });
  const sch = new Scheduler({ queue, pool, client: new FakeClient(), cluster, clock, logger, timeline, locality });
  const t1 = cluster.InstanceTypes.type1;
  queue.add({ uuid: 'zzzzz-dz642-000000000000001', state: 'Running' }, { uuid: 'zzzzz-dz642-000000000000002', state });
  for (const e of queue.map.values()) e.container.container_image = 'img-a';
  const warm = pool.addWorker(t1, 'running');
  pool.runOn(warm, 'zzzzz-dz642-000000000000001');
  const idle = pool.addWorker(t1, 'idle');
  return { clock, queue, pool, locality, sch, warm, idle, c: 'zzzzz-dz642-000000000000002' };
}

describe('locality in the scheduling pass', () => {
  it('holds a container for the warm VM through CacheTimeout and DepsTimeout, then starts it on the idle one', async () => {
    const events: Array<[string, Record<string, string | number>]> = [];
    const timeline = { vmRequested() {}, unlocking() {}, cancelling() {}, warmWait: (u: string, d: Record<string, string | number>) => events.push([u, d]) };
    const { clock, pool, locality, sch, warm, idle, c } = setup('Locked', timeline);

    sch.runQueue();
    assert.deepEqual(pool.starts, [], 'not started on the idle VM without its image');
    const b = sch.why()!.blockerOf(c)!;
    assert.equal(b.reason, 'waiting_warm_instance');
    assert.match(describeBlocker(b), new RegExp(`^waiting up to 2 min for instance ${warm}, which has its image and frees in ~30 s`));
    const start = clock.now();
    assert.deepEqual(events, [[c, { waiting_for: warm, has: 'image', frees_in_ms: 30_000, wait_until: new Date(start + 120_000).toISOString() }]]);
    // Workbench shows its scheduling_status: the cluster is not at capacity, it waits by choice.
    const status = () => sch.queueView().find((e) => e.entry.container.uuid === c)?.schedulingStatus;
    assert.equal(status(), "Waiting in queue at position 1.  Waiting for an instance that already has this container's image to become free.");

    await clock.advance(120_000);
    sch.runQueue();
    assert.deepEqual(pool.starts, [], 'CacheTimeout is over, but DepsTimeout is not: a VM with its image still counts');
    assert.equal(sch.why()!.blockerOf(c)?.reason, 'waiting_warm_instance');

    await clock.advance(60_000);
    sch.runQueue();
    assert.equal(pool.starts.length, 1, 'both timeouts over: it takes the idle VM');
    assert.deepEqual(pool.workers.get(idle)!.runningContainerUUIDs, [c]);
    assert.deepEqual(events.at(-1), [c, { ended: 'waited long enough', instance: idle, gave_up_on: warm }]);
    assert.deepEqual(locality.counts, { started: { image: 0, inputs: 0, none: 1 }, holds: 1 });
  });

  it("a container held for a VM that has some of its inputs says so in its scheduling_status", () => {
    const { queue, sch, c } = setup('Locked', { vmRequested() {}, unlocking() {}, cancelling() {} });
    // The queue keeps each container's input collections (its collection mounts' PDHs) on its entry.
    for (const e of queue.map.values()) Object.assign(e, { inputs: ['fa7aeb5140e2848d39b416daeef4ffc5+45'] });
    queue.map.get(c)!.container.container_image = 'img-b';
    sch.runQueue();
    const b = sch.why()!.blockerOf(c);
    assert.ok(b?.reason === 'waiting_warm_instance' && b.has === 'inputs', JSON.stringify(b));
    assert.equal(sch.queueView().find((e) => e.entry.container.uuid === c)?.schedulingStatus, "Waiting in queue at position 1.  Waiting for an instance that already has some of this container's inputs to become free.");
  });

  it('at quota, a Queued container held for a warm VM is locked and the pass goes on: the idle VM is neither shut down nor left to time out', async () => {
    const { clock, queue, pool, sch, idle, c } = setup('Queued', { vmRequested() {}, unlocking() {}, cancelling() {} });
    const kept: Array<[string[], string | undefined]> = [];
    const keepWarm = (ids: ReadonlySet<string>, by?: string) => kept.push([[...ids], by]);
    Object.assign(pool, { keepWarm });
    pool.quota = 2;

    sch.runQueue();
    await clock.advance(0);
    assert.deepEqual(pool.starts, []);
    assert.equal(sch.why()!.blockerOf(c)?.reason, 'waiting_warm_instance');
    assert.ok(queue.calls.includes(`lock ${c}`), 'locked, so it comes first when the warm VM frees');
    assert.deepEqual(pool.shutdowns, [], 'not over quota: the idle VM is kept for the containers behind it');
    assert.deepEqual(kept.at(-1), [[idle], 'locality'], 'and spared at TimeoutIdle while the hold lasts');
  });

  it("at the cloud's quota, the idle VM a hold left idle is not shut down for the head of the line, while the other unneeded VM is", async () => {
    const { clock, queue, pool, sch, idle, c } = setup('Locked', { vmRequested() {}, unlocking() {}, cancelling() {} });
    // An idle VM of a dearer type: the held container would have taken the type1 one.
    const other = pool.addWorker(testCluster().InstanceTypes.type2, 'idle');
    // Behind the held container, one that fits none of the VMs and needs an instance the quota has no room for.
    queue.add({ uuid: 'zzzzz-dz642-000000000000003', vcpus: 4, ram: 4, state: 'Locked' });
    pool.quota = 3;
    pool.limitsExtra.quotaError = { since: 0, until: 60_000, error: 'VcpuLimitExceeded (fake)' };

    sch.runQueue();
    await clock.advance(0);
    assert.deepEqual(pool.creates, [], 'at quota: nothing is created');
    assert.equal(sch.why()!.blockerOf('zzzzz-dz642-000000000000003')?.reason, 'quota', 'the container behind the hold is over quota');
    assert.equal(sch.why()!.blockerOf(c)?.reason, 'waiting_warm_instance');
    assert.deepEqual(pool.shutdowns, [other], `only the VM nothing wants is shut down; ${idle} is kept for the held container`);
  });

  it('says how many warm VMs a hold counts on when it pools several, naming the likeliest', () => {
    const timeline = { vmRequested() {}, unlocking() {}, cancelling() {} };
    const { queue, pool, sch, warm, c } = setup('Locked', timeline);
    queue.add({ uuid: 'zzzzz-dz642-000000000000003', state: 'Running' });
    queue.map.get('zzzzz-dz642-000000000000003')!.container.container_image = 'img-a';
    const warm2 = pool.addWorker(queue.map.get(c)!.instanceTypes[0], 'running');
    pool.runOn(warm2, 'zzzzz-dz642-000000000000003');

    sch.runQueue();
    assert.deepEqual(pool.starts, [], 'held, as with one warm VM');
    const b = sch.why()!.blockerOf(c)!;
    assert.equal(b.reason, 'waiting_warm_instance');
    assert.ok(b.reason === 'waiting_warm_instance' && b.pool === 2, `pooled two VMs: ${JSON.stringify(b)}`);
    assert.ok(b.reason === 'waiting_warm_instance' && [warm, warm2].includes(b.instance));
    assert.match(describeBlocker(b), /^waiting up to 2 min for one of 2 busy instances that have its image \(likeliest [^)]+\); one frees in ~30 s \(until /);
  });

  it("a held container's blocker is the hold alone, without what waits ahead for room: it waits for its warm VM, not for room", () => {
    const timeline = { vmRequested() {}, unlocking() {}, cancelling() {} };
    const { clock, sch, warm, c } = setup('Locked', timeline);
    sch.runQueue();
    assert.deepEqual(sch.why()!.blockerOf(c), {
      reason: 'waiting_warm_instance',
      position: 1,
      instance: warm,
      has: 'image',
      frees_in_ms: 30_000,
      wait_until: new Date(clock.now() + 120_000).toISOString(),
      timeout_ms: 120_000,
    });
  });
});
