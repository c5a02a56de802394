/**
 * The fence at each choke point: a closed fence stops the action before
 * anything is sent (the controller's container is untouched, the driver is
 * not called, the command does not reach the VM), while reads go on.
 */
import assert from 'node:assert/strict';
import { systemClock } from '../../src/clock/index.js';
import type { Instance, InstanceSet } from '../../src/cloud/types.js';
import { wrapInstanceSet } from '../../src/cloud/wrap.js';
import { DispatchLockLostError, type Fence, type FencedAction, isDispatchLockLostError } from '../../src/dblock/fence.js';
import { fencedExecutor } from '../../src/vm-access.js';
import { silentLogger } from '../../src/log.js';
import type { Executor } from '../../src/ssh/executor.js';
import { instanceType } from '../drivers/lame/helpers.js';
import { makeClient, startController } from '../arvados/helpers.js';

/** A fence that lets actions through while `open`, and remembers what it was asked. */
function testFence(): Fence & { open: boolean; asked: FencedAction[] } {
  const f = {
    open: true,
    asked: [] as FencedAction[],
    check(action: FencedAction): void {
      f.asked.push(action);
      if (!f.open) throw new DispatchLockLostError(`not acting (${action.Action})`);
    },
  };
  return f;
}

describe('fence at the choke points', () => {
  it('the controller client sends no lock, unlock or update while the fence is closed, and still reads', async () => {
    const ctl = await startController();
    const fence = testFence();
    const client = makeClient(ctl.url, { fence });
    try {
      const a = ctl.addContainer({ priority: 1 });
      await client.lockContainer(a.uuid);
      assert.equal(ctl.get(a.uuid)!.state, 'Locked');
      assert.deepEqual(fence.asked, [{ Action: 'lock', ContainerUUID: a.uuid }]);
      fence.open = false;
      const requestsBefore = ctl.requestLog().length;
      await assert.rejects(client.unlockContainer(a.uuid), isDispatchLockLostError);
      await assert.rejects(client.updateContainer(a.uuid, { state: 'Cancelled' }), isDispatchLockLostError);
      assert.equal(ctl.requestLog().length, requestsBefore, 'nothing reached the controller');
      assert.equal(ctl.get(a.uuid)!.state, 'Locked');
      const list = await client.listContainers({ filters: [['uuid', '=', a.uuid]] });
      assert.equal(list.items.length, 1, 'reads are not fenced');
    } finally {
      client.close();
      await ctl.stop();
    }
  });

  it('the cloud wrapper does not create, destroy or tag while the fence is closed, and still lists', async () => {
    const calls: string[] = [];
    const inst: Instance = {
      id: 'i-1',
      providerType: 'small',
      tags: { x: '1' },
      address: '127.0.0.1:22',
      remoteUser: 'root',
      setTags: async () => void calls.push('setTags'),
      destroy: async () => void calls.push('destroy'),
      verifyHostKey: async () => undefined,
    } as unknown as Instance;
    const driver: InstanceSet = {
      create: async () => {
        calls.push('create');
        return inst;
      },
      instances: async () => {
        calls.push('list');
        return [inst];
      },
      stop: () => undefined,
    };
    const fence = testFence();
    const set = wrapInstanceSet(driver, { clock: systemClock, logger: silentLogger(), maxCloudOpsPerSecond: 0, resourceTags: {}, fence });
    const created = await set.create(instanceType('small'), 'img', {}, '', '');
    assert.deepEqual(fence.asked, [{ Action: 'create', InstanceType: 'small' }]);
    fence.open = false;
    await assert.rejects(set.create(instanceType('small'), 'img', {}, '', ''), isDispatchLockLostError);
    await assert.rejects(created.destroy(), isDispatchLockLostError);
    await assert.rejects(created.setTags({ y: '2' }), isDispatchLockLostError);
    const listed = await set.instances({});
    assert.equal(listed.length, 1);
    assert.deepEqual(calls, ['create', 'list'], 'the driver saw only the first create and the list');
    assert.deepEqual(
      fence.asked.map((a) => a.Action),
      ['create', 'create', 'destroy', 'tag'],
    );
  });

  it('the executor does not start or kill crunch-run or install it while the fence is closed, and still probes', async () => {
    const ran: string[] = [];
    const inner: Executor = {
      execute: async (cmd) => {
        ran.push(cmd);
        return { stdout: Buffer.from(''), stderr: Buffer.from(''), exitCode: 0 };
      },
      setTarget: () => undefined,
      close: () => undefined,
    };
    const fence = testFence();
    const exec = fencedExecutor(inner, fence, 'i-1');
    await exec.execute('crunch-run --detach x', { action: { Action: 'start', ContainerUUID: 'zzzzz-dz642-000000000000001' } });
    assert.deepEqual(fence.asked, [{ Action: 'start', ContainerUUID: 'zzzzz-dz642-000000000000001', Instance: 'i-1' }]);
    fence.open = false;
    await assert.rejects(exec.execute('crunch-run --kill 15 x', { action: { Action: 'kill' } }), isDispatchLockLostError);
    await assert.rejects(exec.execute('install', { action: { Action: 'install' } }), isDispatchLockLostError);
    await exec.execute('crunch-run --list');
    assert.deepEqual(ran, ['crunch-run --detach x', 'crunch-run --list']);
  });

  it('the fenced executor passes the first SSH login time through (time to SSH), and has none when the inner one cannot tell', () => {
    const base: Executor = {
      execute: async () => ({ stdout: Buffer.alloc(0), stderr: Buffer.alloc(0), exitCode: 0 }),
      setTarget: () => undefined,
      close: () => undefined,
    };
    assert.equal(fencedExecutor({ ...base, firstLoginAt: () => 1234 }, testFence(), 'i-1').firstLoginAt?.(), 1234);
    assert.equal(fencedExecutor(base, testFence(), 'i-1').firstLoginAt?.(), undefined);
  });

  it('isDispatchLockLostError sees a refusal wrapped as the cause of another error (a failed lock call, a failed create), a few levels deep', () => {
    const refusal = new DispatchLockLostError('not acting (lock): the dispatch lock is no longer held (released)');
    assert.equal(isDispatchLockLostError(refusal), true);
    const once = new Error('locking zzzzz-dz642-000000000000000 failed', { cause: refusal });
    assert.equal(isDispatchLockLostError(once), true);
    assert.equal(isDispatchLockLostError(new Error('create failed', { cause: new Error('wrapped', { cause: once }) })), true);
    assert.equal(isDispatchLockLostError(new Error('create failed', { cause: new Error('InsufficientInstanceCapacity') })), false);
    assert.equal(isDispatchLockLostError('not acting'), false);
  });
});
