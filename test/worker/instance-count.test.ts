/**
 * How many instances the pool counts against MaxInstances and the quota:
 * each VM once. A create whose VM a listing already found (the create call
 * has not returned yet: GCE waits on its zone operation, EC2 retries) is
 * that VM, not a second one.
 */
import assert from 'node:assert/strict';
import type { InstanceSet } from '../../src/cloud/types.js';
import { FakeCloud } from './fake-cloud.js';

describe('worker pool: instance count', () => {
  it('a VM shut down counts until a listing drops it; shutDown() names its type and when, where instances() leaves it out', async () => {
    const f = new FakeCloud({ MaxInstances: 1 });
    const id = await f.idleWorker();
    assert.deepEqual(f.pool.shutDown(), [], 'nothing shut down yet');
    await f.tick(1000);
    const at = f.clock.now();
    assert.equal(f.pool.shutdown(id), true);
    assert.deepEqual(f.pool.shutDown(), [{ arvadosInstanceType: f.pool.detail(id)!.arvadosInstanceType, destroyedAt: at }]);
    assert.equal(f.pool.atQuota(), true, 'still counted against MaxInstances');
    assert.ok(!f.pool.instances().some((v) => v.instance === id), 'instances() leaves it out');
    f.vms.delete(id); // the destroy went through
    await f.pool.syncNow();
    assert.equal(f.pool.detail(id), undefined, 'the listing no longer has it');
    assert.deepEqual(f.pool.shutDown(), []);
  });

  it('a create whose VM is already listed counts once: at MaxInstances 2, one such VM leaves room for another', async () => {
    const f = new FakeCloud({ MaxInstances: 2 });
    const core = (f.pool as unknown as { core: { deps: { instanceSet: InstanceSet } } }).core;
    const set = core.deps.instanceSet;
    const create = set.create.bind(set);
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    set.create = async (...args) => {
      const inst = await create(...args);
      await gate;
      return inst;
    };
    assert.ok(f.pool.create(f.cluster.InstanceTypes.small));
    await f.tick(0);
    await f.pool.syncNow();
    assert.equal(f.pool.details().filter((d) => !d.instance.startsWith('pending-')).length, 1, 'the listing found the VM');
    assert.equal(f.pool.atQuota(), false, 'one VM of two');
    assert.ok(f.pool.create(f.cluster.InstanceTypes.small), 'room for a second VM');
    release();
    await f.tick(0);
  });
});
