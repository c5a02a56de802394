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
