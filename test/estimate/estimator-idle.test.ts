/**
 * At MaxInstances a container that needs another instance type waits for
 * an instance to be shut down and for the pool to stop counting it (the
 * next cloud listing without it), then for a boot. The scheduler shuts an
 * instance down for it as soon as it has nothing to run, one at a time;
 * the pool shuts any other idle one down itself after TimeoutIdle, which for
 * a value of 0 or less (kept as given, as Arvados does) is its default, 1m.
 */
import assert from 'node:assert/strict';
import { Estimator, runtimeKey } from '../../src/estimate/estimator.js';
import { remainingAt } from '../../src/estimate/history.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { ManualClock } from '../../src/clock/index.js';
import { FakeClient, FakePool, FakeQueue, testCluster, uuid } from '../scheduler/fakes.js';

const MIN = 60_000;

/**
 * `running` small instances each run one container (10 minutes by default,
 * from now), and as many containers too big for them wait, at MaxInstances:
 * each waiter's typical estimated start from now, after one pass.
 */
async function typicalStarts(opts: { timeoutIdle: string; running: number; learnt?: number; alike?: boolean }): Promise<number[]> {
  const cluster = testCluster({ cloudVMs: { MaxInstances: opts.running, TimeoutIdle: opts.timeoutIdle } });
  const clock = new ManualClock();
  const queue = new FakeQueue(clock, cluster);
  const pool = new FakePool(clock);
  const waiting: string[] = [];
  for (let i = 0; i < opts.running; i++) {
    queue.add({ uuid: uuid(100 + i), state: 'Running', vcpus: 1, ram: 1 });
    pool.runOn(pool.addWorker(cluster.InstanceTypes.type1, 'running'), uuid(100 + i));
  }
  for (let i = 0; i < opts.running; i++) {
    queue.add({ uuid: uuid(i + 1), state: 'Locked', vcpus: 4, ram: 4 });
    waiting.push(uuid(i + 1));
  }
  // The fake pool enforces no MaxInstances: its quota stands in.
  pool.quota = opts.running;
  const estimator = new Estimator({ queue, pool, cluster, clock });
  // Runs that all took 10 minutes: the running ones end together, at the limit too.
  if (opts.alike) for (let i = 0; i < 20; i++) estimator.runtimes.record(runtimeKey(queue.get(uuid(100)))!, 10 * MIN, clock.now());
  if (opts.learnt !== undefined) estimator.leaving.observe({ type: 'shutdownToGone', instanceId: 'i-x', sinceShutdownMs: opts.learnt });
  const logger = createLogger({ stream: new LineCollector(), clock });
  const sch = new Scheduler({ queue, pool, client: new FakeClient(), cluster, clock, logger, afterPass: estimator });
  sch.start();
  await clock.advance(0);
  await sch.stop();
  return waiting.map((u) => {
    const estimate = estimator.estimate(u);
    assert.ok(estimate, `${u} has an estimate`);
    return estimate.startTypical - clock.now();
  });
}

describe('estimator: replacing an instance at MaxInstances', () => {
  it('waits for the instance to empty and leave the count, then a boot: not TimeoutIdle', async () => {
    // 10 min to run, half a SyncInterval (1m) for the listing before any is seen, a 3-minute boot.
    assert.deepEqual(await typicalStarts({ timeoutIdle: '1m', running: 1 }), [13 * MIN + MIN / 2]);
    assert.deepEqual(await typicalStarts({ timeoutIdle: '10m', running: 1 }), [13 * MIN + MIN / 2]);
  });

  it('counts the time from shutdown to gone it has seen', async () => {
    assert.deepEqual(await typicalStarts({ timeoutIdle: '1m', running: 1, learnt: 50_000 }), [13 * MIN + 50_000]);
  });

  it('shuts one down at a time, the next once the last has left, or at TimeoutIdle (0 or less: the default 1m) if sooner', async () => {
    // Both empty at 10 min; the second leaves once the first has (30 s), or TimeoutIdle after it emptied.
    const pooled = await typicalStarts({ timeoutIdle: '1m', running: 2, alike: true });
    assert.deepEqual(pooled, [13 * MIN + MIN / 2, 13 * MIN + MIN]);
    assert.deepEqual(await typicalStarts({ timeoutIdle: '0s', running: 2, alike: true }), pooled);
    assert.deepEqual(await typicalStarts({ timeoutIdle: '-5m', running: 2, alike: true }), pooled);
    assert.deepEqual(await typicalStarts({ timeoutIdle: '10s', running: 2, alike: true }), [13 * MIN + MIN / 2, 13 * MIN + 10_000 + MIN / 2]);
  });

  it('with runtimes that vary, counts on the running containers ending at spread times, not all at their median', async () => {
    // The default runtime (10 minutes, 5 to 20): one is played at its median, the other at a low quantile.
    const [first, second] = await typicalStarts({ timeoutIdle: '1m', running: 2 });
    const early = remainingAt({ typical: 10 * MIN, low: 5 * MIN, high: 20 * MIN }, 0, 0.118033988749895);
    assert.equal(Math.round(first), Math.round(early + MIN / 2 + 3 * MIN));
    assert.equal(second, 13 * MIN + MIN / 2);
  });
});
