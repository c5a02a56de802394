/**
 * A container that moved from one VM to another (the first went
 * unreachable, the container was started again, or is listed, on the
 * second): when the first VM comes back and no longer lists it, the pool
 * must still know it runs on the second. Otherwise a kill is never sent,
 * and the "never two crunch-runs" guard lets a second one start.
 */
import assert from 'node:assert/strict';
import { FakeCloud, lockedContainer, ok } from './fake-cloud.js';

const MIN = 60_000;
const ctr = lockedContainer(1);

describe('worker pool: a container that moved to another VM', () => {
  it('stays known on its new VM when the old one reports it gone: a kill reaches the new VM, and no second crunch-run starts', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN, TimeoutProbe: 60 * MIN });
    const a = f.seed();
    const b = f.seed();
    await f.pool.syncNow();
    await f.probe();
    assert.equal(f.pool.detail(a)?.workerState, 'idle');
    assert.equal(f.pool.detail(b)?.workerState, 'idle');

    // Started on A, and listed there.
    await f.runListed(a, ctr);
    assert.deepEqual(f.pool.detail(a)?.runningContainerUUIDs, [ctr.uuid]);

    // A goes unreachable; the container turns up on B.
    f.script(a, { list: 'error' });
    f.script(b, { list: ok(`${ctr.uuid}\n`) });
    await f.tick(1000);
    await f.probe();
    assert.deepEqual(f.pool.detail(b)?.runningContainerUUIDs, [ctr.uuid]);

    // A comes back without it: its runner there is closed.
    f.script(a, { list: ok() });
    await f.tick(1000);
    await f.probe();
    assert.deepEqual(f.pool.detail(a)?.runningContainerUUIDs, [], 'gone from A');
    assert.equal(f.pool.detail(a)?.workerState, 'idle');
    assert.deepEqual(f.pool.detail(b)?.runningContainerUUIDs, [ctr.uuid], 'still on B');

    // The pool still finds it on B.
    assert.equal(f.pool.startContainer(a, ctr), false, 'never two crunch-runs for one container');
    const killsBefore = f.commands.filter((c) => c.command.includes('--kill')).length;
    assert.equal(f.pool.killContainer(ctr.uuid, 'test'), true, 'a kill is sent');
    await f.tick(0);
    const kills = f.commands.filter((c) => c.command.includes('--kill')).slice(killsBefore);
    assert.deepEqual(
      kills.map((c) => [c.instance, c.command]),
      [[b, `sudo crunch-run --kill 15 ${ctr.uuid}`]],
    );
    f.pool.stop();
  });

  it('can be started on another VM once the VM it ran on has left the cloud list, and a kill no longer names the gone one', async () => {
    const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN });
    const a = f.seed();
    const b = f.seed();
    await f.pool.syncNow();
    await f.probe();
    await f.runListed(a, ctr);
    assert.deepEqual(f.pool.detail(a)?.runningContainerUUIDs, [ctr.uuid]);

    // A vanishes from the cloud (reclaimed, deleted by hand): its crunch-run went with it.
    f.vms.delete(a);
    await f.pool.syncNow();
    assert.equal(f.pool.detail(a), undefined);
    assert.equal(f.pool.running().has(ctr.uuid), false, 'no longer running anywhere');
    assert.equal(f.pool.killContainer(ctr.uuid, 'test'), false, 'nothing left to kill');
    assert.equal(f.pool.startContainer(b, ctr), true, 'so the scheduler may start it again on B');
    await f.tick(0);
    assert.deepEqual(f.pool.detail(b)?.runningContainerUUIDs, [ctr.uuid]);
    f.pool.stop();
  });

  it('stays known on its first VM when a second one listed it too and then stops listing it or leaves the cloud: a kill reaches the first VM, and no other crunch-run starts', async () => {
    for (const how of ['unlisted', 'gone'] as const) {
      const f = new FakeCloud({ TimeoutIdle: 24 * 60 * MIN, TimeoutProbe: 60 * MIN });
      const a = f.seed();
      const b = f.seed();
      const c = f.seed();
      await f.pool.syncNow();
      await f.probe();
      await f.runListed(a, ctr);

      // B lists it for a while too (a shared host, a confused VM), then no more.
      f.script(b, { list: ok(`${ctr.uuid}\n`) });
      await f.tick(1000);
      await f.probe();
      assert.deepEqual(f.pool.detail(b)?.runningContainerUUIDs, [ctr.uuid], `${how}: listed on B`);
      if (how === 'unlisted') {
        f.script(b, { list: ok() });
        await f.tick(1000);
        await f.probe();
      } else {
        f.vms.delete(b);
        await f.pool.syncNow();
      }
      assert.deepEqual(f.pool.detail(a)?.runningContainerUUIDs, [ctr.uuid], `${how}: still on A`);

      assert.equal(f.pool.startContainer(c, ctr), false, `${how}: never two crunch-runs for one container`);
      const killsBefore = f.commands.filter((cmd) => cmd.command.includes('--kill')).length;
      assert.equal(f.pool.killContainer(ctr.uuid, 'test'), true, `${how}: a kill is sent`);
      await f.tick(0);
      const kills = f.commands.filter((cmd) => cmd.command.includes('--kill')).slice(killsBefore);
      assert.deepEqual(
        kills.map((cmd) => [cmd.instance, cmd.command]),
        [[a, `sudo crunch-run --kill 15 ${ctr.uuid}`]],
        how,
      );
      f.pool.stop();
    }
  });
});
