/**
 * The pool's instance list, which every scheduling pass and the management
 * API read: sorted by id whatever order the cloud lists the VMs in, kept so
 * as VMs come and go, and each VM's containers sorted (as the reference's
 * `running_containers`), the ones still starting among the running ones.
 */
import assert from 'node:assert/strict';
import { FakeCloud, lockedContainer, ok } from './fake-cloud.js';

const byCodeUnits = (ids: string[]): string[] => [...ids].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));

describe('worker pool: the instance list', () => {
  it('is sorted by id, and stays so as instances appear and leave the cloud', async () => {
    const f = new FakeCloud();
    // i-1 ... i-12: the cloud lists them in that order, which is not the ids' order (i-10 < i-2).
    const ids = Array.from({ length: 12 }, () => f.seed());
    await f.pool.syncNow();
    const listed = (): string[] => f.pool.instances().map((v) => v.instance);
    assert.deepEqual(listed(), byCodeUnits(ids));
    assert.notDeepEqual(listed(), ids, 'the test needs a cloud order that is not the id order');

    // One appears (its id sorts among the others), then one leaves, each seen alone.
    const added = f.seed();
    await f.pool.syncNow();
    assert.deepEqual(listed(), byCodeUnits([...ids, added]), 'after an instance appeared');
    f.vms.delete(ids[4]);
    await f.pool.syncNow();
    const now = [...ids.filter((id) => id !== ids[4]), added];
    assert.deepEqual(listed(), byCodeUnits(now), 'after an instance left');
    assert.deepEqual(
      f.pool.details().map((d) => d.instance),
      byCodeUnits(now),
      'details() in the same order',
    );
  });

  it('gives the provider type the cloud lists, and the configured one for a VM listed without one', async () => {
    const f = new FakeCloud();
    const listed = f.seed();
    const blank = f.seed();
    f.vms.get(listed)!.providerType = 'lame.resized';
    f.vms.get(blank)!.providerType = '';
    await f.pool.syncNow();
    assert.deepEqual(
      f.pool.instances().map((v) => [v.instance, v.arvadosInstanceType, v.providerInstanceType]),
      [
        [listed, 'small', 'lame.resized'],
        [blank, 'small', f.cluster.InstanceTypes.small.ProviderType],
      ],
    );
    assert.notEqual(f.cluster.InstanceTypes.small.ProviderType, '', 'the test needs a configured provider type');
  });

  it("gives each instance's containers sorted, starting and running together", async () => {
    const f = new FakeCloud({ MaxRunningContainersPerInstance: 0 });
    const id = f.seed();
    const uuid = (n: number): string => lockedContainer(n).uuid;
    // crunch-run lists them in its own order.
    f.script(id, { list: ok(`${uuid(7)}\n${uuid(3)}\n${uuid(5)}\n`) });
    await f.pool.syncNow();
    await f.probe();
    assert.deepEqual(f.pool.instances()[0].runningContainerUUIDs, [uuid(3), uuid(5), uuid(7)]);

    // A start in flight (--detach not answered yet) sorts among them.
    let answer: (() => void) | undefined;
    f.script(id, {
      detach: () =>
        new Promise((resolve) => {
          answer = () => resolve({ exitCode: 0, stdout: Buffer.from('{}'), stderr: Buffer.alloc(0) });
        }),
    });
    assert.equal(f.pool.startContainer(id, lockedContainer(4)), true);
    await f.tick(0);
    assert.ok(answer, 'the --detach is in flight');
    const view = f.pool.instances()[0];
    assert.deepEqual(view.runningContainerUUIDs, [uuid(3), uuid(4), uuid(5), uuid(7)]);
    // The view is the caller's: changing it changes nothing in the pool.
    view.runningContainerUUIDs.push('x');
    assert.deepEqual(f.pool.instances()[0].runningContainerUUIDs, [uuid(3), uuid(4), uuid(5), uuid(7)]);
    answer();
    await f.tick(0);
    assert.deepEqual(f.pool.instances()[0].runningContainerUUIDs, [uuid(3), uuid(4), uuid(5), uuid(7)]);
  });
});
