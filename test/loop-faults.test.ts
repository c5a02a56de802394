/**
 * A bug that throws inside one of the dispatcher's loops (queue poll, pool
 * sync, probe round, scheduling pass, start-up stale-lock fix) is logged,
 * at most once a minute for the same failure, and the loop goes on: the
 * next iteration runs and the cluster keeps working. Each loop gets a
 * synchronous throw and an asynchronous one (a rejected promise, some not
 * even an Error).
 */
import assert from 'node:assert/strict';
import type { WorkerPoolImpl } from '../src/worker/pool.js';
import type { PoolCore } from '../src/worker/pool-core.js';
import type { Worker } from '../src/worker/worker.js';
import { ManualStack } from './fixtures/manual-stack.js';

/** Replaces `obj[name]` with `make(original)`; returns the function that restores it. */
function patch<T extends object, K extends keyof T>(obj: T, name: K, make: (original: T[K]) => T[K]): () => void {
  const original = obj[name];
  obj[name] = make(typeof original === 'function' ? (original.bind(obj) as T[K]) : original);
  return () => {
    obj[name] = original;
  };
}

function coreOf(pool: WorkerPoolImpl): PoolCore {
  return (pool as unknown as { core: PoolCore }).core;
}

describe('a throw in a dispatcher loop is logged and the loop goes on', function () {
  this.timeout(30_000);
  let s: ManualStack;

  afterEach(async () => {
    await s?.close();
  });

  /** Adds a container and runs until it is Running; 2 VCPUs take a whole small VM. */
  async function running(vcpus = 1): Promise<string> {
    const ctr = s.controller.addContainer({ priority: 1, runtime_constraints: { vcpus, ram: 1 << 20 } });
    await s.until(`${ctr.uuid} Running`, () => s.controller.get(ctr.uuid)?.state === 'Running', 60_000);
    return ctr.uuid;
  }

  it('queue poll: a sync throw and rejections (one not an Error) are logged once, and polls go on', async () => {
    s = new ManualStack();
    const d = await s.start();
    await s.run(2_000);
    const poller = (d.queue as unknown as { poller: { poll: (...a: unknown[]) => Promise<unknown> } }).poller;
    let calls = 0;
    const faults: Array<() => Promise<unknown>> = [
      () => {
        throw new Error('poll bug (sync)');
      },
      () => Promise.reject(new Error('poll bug (async)')),
      () => Promise.reject(undefined),
    ];
    patch(poller, 'poll', (orig) => (...args: unknown[]) => {
      calls++;
      const fault = faults.shift();
      return fault ? fault() : orig(...args);
    });
    await s.run(5_000);
    assert.ok(calls >= 5, `polls went on: ${calls}`);
    const logged = s.records('error updating queue');
    assert.equal(logged.length, 1, 'three failures in a minute: one log line');
    assert.match(String(logged[0].error), /poll bug \(sync\)/);
    // The queue still works: a new container is seen and run.
    await running();
  });

  it('pool sync: a sync throw in applying a listing and a listing that throws are logged, and listings go on', async () => {
    s = new ManualStack();
    const d = await s.start();
    await s.run(1_000);
    const core = coreOf(d.pool);
    const lists = () => s.cloud.callCounts().instances;
    const before = lists();
    const restoreApply = patch(core, 'addOrUpdateWorker', () => () => {
      throw new Error('sync bug (sync)');
    });
    const restoreList = patch(core.deps.instanceSet, 'instances', () => () => {
      throw new Error('listing bug (thrown, not rejected)');
    });
    await s.run(5_000);
    restoreList();
    s.cloud.createVM(d.cluster.InstanceTypes.small, 'img', { ArvadosInstanceSetID: d.instanceSetId, ArvadosInstanceType: 'small' }, '', '');
    await s.run(5_000);
    assert.equal(s.records('applying the cloud listing failed').length, 1);
    assert.ok(lists() > before, 'the cloud was listed again');
    restoreApply();
    await s.until('the VM is adopted', () => d.pool.instances().length === 1, 20_000);
    assert.ok(s.records('sync failed: cannot list cloud instances').length >= 1);
  });

  it('probe loop: an idle check that throws for one worker and a probe that crashes are logged, and probes go on', async () => {
    s = new ManualStack({ cloudVMs: '        MaxProbesPerSecond: 100' });
    const d = await s.start();
    await running(2);
    await running(2);
    const core = coreOf(d.pool);
    const [bad, good] = [...core.workers.values()] as Worker[];
    let goodProbes = 0;
    patch(good.executor, 'execute', (orig) => (cmd, opts) => {
      if (cmd.includes('--list')) goodProbes++;
      return orig(cmd, opts);
    });
    patch(bad, 'shutdownIfIdle', () => () => {
      throw new Error('idle check bug (sync)');
    });
    let crashes = 0;
    patch(bad, 'updateRunning', (orig) => (uuids) => {
      crashes++;
      if (crashes <= 3) throw new Error('probe bug (async)');
      return orig(uuids);
    });
    await s.run(10_000);
    assert.ok(goodProbes >= 5, `the other worker kept being probed: ${goodProbes}`);
    assert.ok(crashes > 3, `the worker with the bug was probed again: ${crashes}`);
    assert.equal(s.records('idle check failed').length, 1, 'logged once a minute');
    assert.equal(s.records('probe crashed').length, 1, 'logged once a minute');
    assert.equal(d.pool.detail(bad.id)?.probing, false, 'no probe left marked in flight');
  });

  it('scheduling pass: a throw in a pass and a lock call that throws are logged, and passes go on', async () => {
    s = new ManualStack();
    const d = await s.start();
    await s.run(2_000);
    let passFaults = 3;
    patch(d.pool, 'instances', (orig) => () => {
      if (passFaults-- > 0) throw new Error('pass bug (sync)');
      return orig();
    });
    const lockFaults: Array<() => Promise<void>> = [
      () => {
        throw new Error('lock bug (sync)');
      },
      () => Promise.reject(new Error('lock bug (async)')),
    ];
    patch(d.queue, 'lock', (orig) => (uuid) => {
      const fault = lockFaults.shift();
      return fault ? (fault() as ReturnType<typeof orig>) : orig(uuid);
    });
    const uuid = await running();
    assert.equal(passFaults < 0, true, 'the failing passes ran');
    assert.equal(lockFaults.length, 0, 'both failing locks ran');
    assert.equal(s.records('scheduling pass failed').length, 1, 'logged once a minute');
    assert.equal(s.records('error locking container').length, 2);
    assert.equal(s.controller.get(uuid)?.state, 'Running');
  });

  for (const when of ['at once', 'after waiting for a probe'] as const) {
    it(`stale-lock fix: a throw ${when} is logged and scheduling starts anyway`, async () => {
      s = new ManualStack();
      let d = await s.start();
      const first = await running();
      // A lock this dispatcher's token holds, for a container that runs nowhere.
      const stale = s.controller.addContainer({ priority: 1, runtime_constraints: { vcpus: 1, ram: 1 << 20 } });
      s.controller.setFields(stale.uuid, { state: 'Locked', locked_by_uuid: s.controller.rootTokenUuid });
      await s.stopDispatcher();
      let thrown = false;
      d = await s.start({
        beforeStart: (next) => {
          const core = coreOf(next.pool);
          const t0 = s.clock.now();
          // Slow probes keep the adopted worker unknown for a while, so the fix waits for it.
          patch(core.deps, 'newExecutor', (orig) => (inst) => {
            const ex = orig(inst);
            patch(ex, 'execute', (run) => async (cmd, o) => {
              await s.clock.sleep(3_000);
              return run(cmd, o);
            });
            return ex;
          });
          patch(next.pool, 'unlistedWorkers', (orig) => () => {
            const due = when === 'at once' || s.clock.now() > t0 + 500;
            if (due && !thrown) {
              thrown = true;
              throw new Error('stale-lock fix bug');
            }
            return orig();
          });
        },
      });
      await s.until('the stale-lock fix ran', () => s.records('fixing stale locks failed; starting scheduling anyway').length === 1, 30_000);
      // Scheduling runs: a new container is started, the adopted one still runs.
      await running();
      assert.equal(s.controller.get(first)?.state, 'Running');
      assert.ok(d.pool.running().has(first));
    });
  }
});
