/**
 * The estimator's TimeoutIdle is the one the worker pool runs with: for a
 * value of 0 or less (which the config keeps as given, as Arvados does) that
 * is the pool's default, 1m, so a forecast that waits for an instance to go
 * idle must not count a shorter (or negative) wait.
 */
import assert from 'node:assert/strict';
import { Estimator } from '../../src/estimate/estimator.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { ManualClock } from '../../src/clock/index.js';
import { FakeClient, FakePool, FakeQueue, testCluster, uuid } from '../scheduler/fakes.js';

const MIN = 60_000;

/**
 * At MaxInstances 1, with a small instance running container 1, container 2
 * (too big for it) waits for that instance to go idle and be replaced: its
 * typical estimated start, after one scheduling pass.
 */
async function typicalStart(timeoutIdle: string): Promise<number> {
  const cluster = testCluster({ cloudVMs: { MaxInstances: 1, TimeoutIdle: timeoutIdle } });
  const clock = new ManualClock();
  const queue = new FakeQueue(clock, cluster);
  const pool = new FakePool(clock);
  queue.add({ uuid: uuid(1), state: 'Running', vcpus: 1, ram: 1 }, { uuid: uuid(2), state: 'Locked', vcpus: 4, ram: 4 });
  pool.runOn(pool.addWorker(cluster.InstanceTypes.type1, 'running'), uuid(1));
  // The fake pool enforces no MaxInstances: its quota stands in.
  pool.quota = 1;
  const estimator = new Estimator({ queue, pool, cluster, clock });
  const logger = createLogger({ stream: new LineCollector(), clock });
  const sch = new Scheduler({ queue, pool, client: new FakeClient(), cluster, clock, logger, afterPass: estimator });
  sch.start();
  await clock.advance(0);
  await sch.stop();
  const estimate = estimator.estimate(uuid(2));
  assert.ok(estimate, 'container 2 has an estimate');
  return estimate.startTypical - clock.now();
}

describe('estimator: TimeoutIdle as the pool runs it', () => {
  it('forecasts a negative or zero TimeoutIdle as the pool default, 1m', async () => {
    const pooled = await typicalStart('1m');
    assert.equal(await typicalStart('-5m'), pooled);
    assert.equal(await typicalStart('0s'), pooled);
    assert.equal(await typicalStart('3m'), pooled + 2 * MIN, 'a longer TimeoutIdle is waited for');
  });
});
