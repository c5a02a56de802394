/**
 * The Estimator as the scheduler drives it: what it takes from the pass's
 * view, the pool and the learners into the forecast, and what it answers
 * per container. Each case runs one scheduling pass (the scheduler calls
 * the estimator after it) over fake queue and pool.
 */
import assert from 'node:assert/strict';
import { remainingAt } from '../../src/estimate/history.js';
import { Estimator, type EstimatorDeps } from '../../src/estimate/estimator.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { ManualClock } from '../../src/clock/index.js';
import { FakeClient, FakePool, FakeQueue, testCluster, uuid } from '../scheduler/fakes.js';

const MIN = 60_000;

interface Rig {
  clock: ManualClock;
  /** The clock's time when the rig was made. */
  t0: number;
  queue: FakeQueue;
  pool: FakePool;
  cluster: ReturnType<typeof testCluster>;
  estimator: Estimator;
  /** Runs scheduling passes until the clock has moved `ms` on. */
  pass(ms?: number): Promise<void>;
  stop(): Promise<void>;
  /** The typical estimated start of container `i`, ms from now; undefined when it has none. */
  startIn(i: number): number | undefined;
}

/** A cluster of the fake types, MaxInstances 10; the pool at quota once it has `quota` instances. */
function rig(quota: number, pool?: (p: FakePool, clock: ManualClock) => EstimatorDeps['pool'], exactLimit?: number): Rig {
  const cluster = testCluster({});
  const clock = new ManualClock();
  const queue = new FakeQueue(clock, cluster);
  const fake = new FakePool(clock);
  fake.quota = quota;
  fake.canCreate = 0;
  const estimator = new Estimator({ queue, pool: pool ? pool(fake, clock) : fake, cluster, clock, ...(exactLimit === undefined ? {} : { exactLimit }) });
  const logger = createLogger({ stream: new LineCollector(), clock });
  const sch = new Scheduler({ queue, pool: fake, client: new FakeClient(), cluster, clock, logger, afterPass: estimator });
  let started = false;
  return {
    clock,
    t0: clock.now(),
    queue,
    pool: fake,
    cluster,
    estimator,
    async pass(ms = 0) {
      if (!started) sch.start();
      started = true;
      await clock.advance(ms);
    },
    stop: () => sch.stop(),
    startIn(i) {
      const e = estimator.estimate(uuid(i));
      return e && e.startTypical - clock.now();
    },
  };
}

describe('Estimator', () => {
  it('forecasts no start for a container of priority 0', async () => {
    const r = rig(1);
    r.pool.runOn(r.pool.addWorker(r.cluster.InstanceTypes.type1, 'running'), uuid(9));
    r.queue.add({ uuid: uuid(9), state: 'Running' }, { uuid: uuid(1), priority: 0 }, { uuid: uuid(2), priority: 1 });
    await r.pass();
    await r.stop();
    assert.equal(r.startIn(1), undefined);
    assert.equal(r.startIn(2), 10 * MIN);
  });

  it('forecasts no start for a container the pass itself started', async () => {
    const r = rig(1);
    r.pool.addWorker(r.cluster.InstanceTypes.type1, 'idle');
    r.queue.add({ uuid: uuid(1), state: 'Locked' });
    await r.pass();
    await r.stop();
    assert.ok(r.pool.running().has(uuid(1)), 'the pass started it');
    assert.equal(r.startIn(1), undefined);
  });

  it('gives an instance on hold no work, and never counts on it being replaced', async () => {
    const r = rig(1);
    r.pool.addWorker(r.cluster.InstanceTypes.type1, 'idle', 'hold');
    r.queue.add({ uuid: uuid(1), state: 'Locked' });
    await r.pass();
    await r.stop();
    // Not on the held instance, and not in its place either: at quota, with the pool never
    // shutting a held instance down, nothing is known to free room for it.
    assert.equal(r.estimator.snapshot()?.size, 1, 'it was forecast');
    assert.equal(r.startIn(1), undefined);
  });

  it('counts on a drained instance being replaced when its last container ends, not TimeoutIdle after', async () => {
    const r = rig(1);
    r.pool.runOn(r.pool.addWorker(r.cluster.InstanceTypes.type1, 'running', 'drain'), uuid(9));
    r.queue.add({ uuid: uuid(9), state: 'Running' }, { uuid: uuid(1), state: 'Locked' });
    await r.pass();
    await r.stop();
    // 9's default 10 minutes, half a SyncInterval (1m) until a listing no longer has it, then
    // the default 3-minute boot of the replacement.
    assert.equal(r.startIn(1), 13 * MIN + MIN / 2);
  });

  it('takes an instance in state unknown as still booting', async () => {
    const r = rig(1);
    r.queue.add({ uuid: uuid(1), state: 'Locked' });
    await r.pass();
    // An instance the pool has listed but not yet probed (the scheduler waits for none after startup).
    await r.clock.advance(2000);
    r.pool.addWorker(r.cluster.InstanceTypes.type1, 'unknown');
    r.queue.set(uuid(1), { priority: 2 });
    await r.pass();
    await r.stop();
    assert.equal(r.estimator.snapshot()?.at, r.t0 + 2000);
    // The default boot time, 3 minutes, counted from now (the fake pool gives no create time).
    assert.equal(r.startIn(1), 3 * MIN);
  });

  it("counts a booting instance's boot from when it appeared", async () => {
    const r = rig(1, (p, clock) => ({
      running: () => p.running(),
      instances: () => p.instances(),
      atCapacity: (t) => p.atCapacity(t),
      atQuota: () => p.atQuota(),
      detail: () => ({ appearedAt: clock.now() - MIN }),
    }));
    r.pool.addWorker(r.cluster.InstanceTypes.type1, 'booting');
    r.queue.add({ uuid: uuid(1), state: 'Locked' });
    await r.pass();
    await r.stop();
    assert.equal(r.startIn(1), 2 * MIN);
  });

  it("takes a waiting container's earlier attempt as its runtime's lower bound, for those behind it", async () => {
    const r = rig(1);
    r.pool.runOn(r.pool.addWorker(r.cluster.InstanceTypes.type1, 'running'), uuid(9));
    r.queue.add({ uuid: uuid(9), state: 'Running' }, { uuid: uuid(1), state: 'Locked', priority: 2 }, { uuid: uuid(2), state: 'Locked', priority: 1 });
    r.estimator.runtimes.recordAttempt(uuid(1), 30 * MIN);
    await r.pass();
    await r.stop();
    // 1 waits for 9 (the default 10 minutes), 2 for 1, which ran 30 minutes before it was requeued.
    assert.equal(r.startIn(1), 10 * MIN);
    assert.equal(r.startIn(2), 40 * MIN);
  });

  it('counts what a running container has left from when its crunch-run started', async () => {
    const r = rig(1);
    r.pool.runOn(r.pool.addWorker(r.cluster.InstanceTypes.type1, 'running'), uuid(9));
    r.queue.add({ uuid: uuid(9), state: 'Running' }, { uuid: uuid(1), state: 'Locked' });
    await r.clock.advance(8 * MIN);
    await r.pass();
    await r.stop();
    // Default runtime 10 minutes (5 to 20), 8 of them run: waiting at the limit, the median of
    // what is left given that (a running container alone is played at its median).
    assert.equal(Math.round(r.startIn(1)!), Math.round(remainingAt({ typical: 10 * MIN, low: 5 * MIN, high: 20 * MIN }, 8 * MIN, 0.5)));
  });

  it('forecasts no start for a container nothing can run (no instance, none may be added)', async () => {
    const r = rig(0);
    r.queue.add({ uuid: uuid(1), state: 'Locked' });
    await r.pass();
    await r.stop();
    assert.ok(r.estimator.snapshot()?.size === 1, 'it was forecast');
    assert.equal(r.estimator.estimate(uuid(1)), undefined);
  });

  it('answers from the latest forecast, not the index of an earlier one', async () => {
    const r = rig(1);
    r.pool.runOn(r.pool.addWorker(r.cluster.InstanceTypes.type1, 'running'), uuid(9));
    r.queue.add({ uuid: uuid(9), state: 'Running' }, { uuid: uuid(1), state: 'Locked', priority: 2 }, { uuid: uuid(2), state: 'Locked', priority: 1 });
    await r.pass();
    assert.equal(r.startIn(1), 10 * MIN);
    assert.equal(r.startIn(2), 20 * MIN);
    // 1 is cancelled: 2 is first now.
    await r.clock.advance(2000);
    r.queue.set(uuid(1), { state: 'Cancelled', priority: 0 });
    await r.pass();
    await r.stop();
    assert.equal(r.estimator.snapshot()?.at, r.t0 + 2000);
    assert.equal(r.startIn(1), undefined);
    assert.equal(r.startIn(2), 10 * MIN - 2000);
  });

  it('updates at most once a second', async () => {
    const r = rig(1);
    r.pool.runOn(r.pool.addWorker(r.cluster.InstanceTypes.type1, 'running'), uuid(9));
    r.queue.add({ uuid: uuid(9), state: 'Running' }, { uuid: uuid(1), state: 'Locked', priority: 2 }, { uuid: uuid(2), state: 'Locked', priority: 1 });
    await r.pass();
    const updates: number[] = [];
    r.estimator.subscribe((s) => updates.push(s.at));
    await r.clock.advance(500);
    r.queue.set(uuid(2), { priority: 3 });
    await r.pass();
    assert.deepEqual(updates, [], 'a pass half a second after the last update');
    await r.clock.advance(1000);
    r.queue.set(uuid(2), { priority: 4 });
    await r.pass();
    await r.stop();
    assert.deepEqual(updates, [r.t0 + 1500]);
  });

  it("counts a running container's room as the size the queue worked out for it, not its bare constraints", async () => {
    const r = rig(2);
    r.pool.runOn(r.pool.addWorker(r.cluster.InstanceTypes.type2, 'running'), uuid(9));
    r.queue.add({ uuid: uuid(9), state: 'Running', vcpus: 1, ram: 0.25 }, { uuid: uuid(1), state: 'Locked', vcpus: 1, ram: 1.5 });
    // The queue sizes 9 at 1 GiB with its overheads (the fake queue adds none: set here).
    const e = r.queue.map.get(uuid(9))!;
    r.queue.map.set(uuid(9), { ...e, instanceResources: { ...e.instanceResources, ram: 2 ** 30 } });
    await r.pass();
    await r.stop();
    // 1 may only use type2 (2 GiB): 1 GiB is left beside 9, too little, so it gets a new one.
    assert.equal(r.startIn(1), 3 * MIN);
  });

  it('forecasts the backlog beyond the exact part per shape: each container by its own types and size', async () => {
    const r = rig(1, undefined, 1);
    r.pool.runOn(r.pool.addWorker(r.cluster.InstanceTypes.type1, 'running'), uuid(9));
    r.queue.add(
      { uuid: uuid(9), state: 'Running' },
      { uuid: uuid(1), state: 'Locked', priority: 5 },
      { uuid: uuid(2), state: 'Locked', priority: 4, vcpus: 4, ram: 4 },
      { uuid: uuid(3), state: 'Locked', priority: 3 },
      { uuid: uuid(4), state: 'Locked', priority: 2, vcpus: 4, ram: 4 },
      { uuid: uuid(5), state: 'Locked', priority: 1 },
    );
    await r.pass();
    await r.stop();
    assert.equal(r.estimator.snapshot()?.size, 5, 'every waiting container is forecast');
    // 1 exactly; 2 to 5 by the fluid, 2 and 4 as the big shape, 3 and 5 as the small one.
    assert.deepEqual(
      [1, 2, 3, 4, 5].map((i) => r.startIn(i)),
      [10 * MIN, 20 * MIN, 60 * MIN, 70 * MIN, 110 * MIN],
    );
  });

  it('counts an instance shut down but still counted against MaxInstances as leaving: a replacement boots once a listing drops it', async () => {
    // As the real pool: `instances()` leaves the shut-down one out, `shutDown()` has it, with when it was destroyed.
    const r = rig(1, (p, clock) => ({
      running: () => p.running(),
      instances: () => p.instances(),
      atCapacity: (t) => p.atCapacity(t),
      atQuota: () => p.atQuota(),
      shutDown: () => [...p.workers.values()].filter((v) => v.workerState === 'shutdown').map((v) => ({ arvadosInstanceType: v.arvadosInstanceType, destroyedAt: clock.now() - 10_000 })),
    }));
    r.pool.addWorker(r.cluster.InstanceTypes.type1, 'shutdown');
    r.queue.add({ uuid: uuid(1), state: 'Locked' });
    await r.pass();
    await r.stop();
    assert.ok(r.pool.atQuota(), 'the pool counts it');
    // Half a SyncInterval (1m) from its shutdown until a listing no longer has it, then the default 3-minute boot.
    assert.equal(r.startIn(1), MIN / 2 - 10_000 + 3 * MIN);
  });
});
