/**
 * A cloud listing must not throw away a probe in flight. When probes are
 * slow (a loaded CPU, a slow VM) and SyncInterval is short, every probe of a
 * booted VM overlaps a listing; if the listing counted as a change to the
 * worker, every probe's result would be dropped as stale and the VM would
 * stay booting for good.
 */
import assert from 'node:assert/strict';
import type { Instance, InstanceSet } from '../../src/cloud/types.js';
import { systemClock } from '../../src/clock/index.js';
import { LineCollector, createLogger } from '../../src/log.js';
import type { ExecuteResult, Executor } from '../../src/ssh/executor.js';
import { WorkerPoolImpl } from '../../src/worker/pool.js';
import { makeCluster } from '../drivers/lame/helpers.js';
import { FakeCloud } from './fake-cloud.js';

const SYNC = 2_000;

describe('worker pool: probe/sync race', function () {
  this.timeout(20_000);

  it('a booted VM becomes ready although every probe spans several listings', async () => {
    const fc = new FakeCloud({ SyncInterval: SYNC, ProbeInterval: 1_000 });
    const listings = () => listed;
    let listed = 0;
    const pool = fc.pool;
    // Count the listings the pool makes, to show each probe really spans some.
    const core = (pool as unknown as { core: { deps: { instanceSet: InstanceSet } } }).core;
    const list = core.deps.instanceSet.instances.bind(core.deps.instanceSet);
    core.deps.instanceSet.instances = async (filter) => {
      listed++;
      return list(filter);
    };
    const spans: number[] = [];
    fc.defaultScript = {
      ...fc.defaultScript,
      list: async () => {
        const before = listings();
        await fc.clock.sleep(3 * SYNC + 500);
        spans.push(listings() - before);
        return { exitCode: 0, stdout: Buffer.from(''), stderr: Buffer.from('') };
      },
    };
    pool.start();
    await fc.tick(0);
    const view = pool.create(fc.cluster.InstanceTypes.small);
    assert.ok(view);
    await fc.tick(0);
    const id = pool.details()[0].instance;
    assert.equal(pool.detail(id)?.workerState, 'booting');
    for (let t = 0; t < 30_000 && pool.detail(id)?.workerState !== 'idle'; t += 500) await fc.tick(500);
    pool.stop();
    assert.ok(spans.length > 0 && spans.every((n) => n >= 3), `each probe spanned 3 listings or more: ${spans}`);
    assert.equal(pool.detail(id)?.workerState, 'idle', 'ready after its first probe that got through');
  });

  it('with the event loop saturated for longer than SyncInterval at each probe, a VM becomes ready (real time)', async () => {
    const cluster = makeCluster();
    Object.assign(cluster.Containers.CloudVMs, { SyncInterval: SYNC, ProbeInterval: 500, MaxProbesPerSecond: 100 });
    const inst: Instance = {
      id: 'i-busy',
      providerType: 'lame.small',
      tags: { ArvadosInstanceSetID: 'busy-set', ArvadosInstanceType: 'small', ArvadosIdleBehavior: 'run' },
      address: '192.0.2.1',
      remoteUser: 'crunch',
      setTags: async () => {},
      destroy: async () => {},
      verifyHostKey: async () => {},
    };
    const set: InstanceSet = { create: () => Promise.reject(new Error('no creates here')), instances: async () => [inst], stop: () => undefined };
    const answer = (stdout = ''): ExecuteResult => ({ exitCode: 0, stdout: Buffer.from(stdout), stderr: Buffer.from('') });
    let busyProbes = 0;
    const executor: Executor = {
      execute: (cmd) => {
        if (!cmd.includes('--list')) return Promise.resolve(answer());
        // The CPU is taken for longer than SyncInterval; the sync timer is
        // due when the loop gets its turn again, before this answer.
        busyProbes++;
        const until = performance.now() + SYNC + 300;
        while (performance.now() < until);
        return new Promise((resolve) => globalThis.setTimeout(() => resolve(answer()), 1));
      },
      setTarget: () => undefined,
      close: () => undefined,
    };
    const logs = new LineCollector();
    const pool = new WorkerPoolImpl({
      cluster,
      instanceSet: set,
      newExecutor: () => executor,
      clock: systemClock,
      logger: createLogger({ stream: logs, level: 'debug' }),
      instanceSetId: 'busy-set',
      publicKey: '',
    });
    try {
      pool.start();
      const deadline = performance.now() + 12_000;
      while (pool.detail('i-busy')?.workerState !== 'idle' && performance.now() < deadline) {
        await new Promise((r) => globalThis.setTimeout(r, 50));
      }
      const skipped = logs.records().filter((r) => r.msg === 'skipping worker state update due to probe/sync race').length;
      assert.equal(pool.detail('i-busy')?.workerState, 'idle', `still ${pool.detail('i-busy')?.workerState} after ${busyProbes} probes, ${skipped} dropped`);
      assert.equal(busyProbes, 1, 'the first probe was enough');
    } finally {
      pool.stop();
    }
  });
});

