/**
 * The pool's crunch-run records (`running()`), which every scheduling pass
 * reads two or three times: kept between calls while nothing changes, and
 * always what a fresh look at the workers gives, in its order (worker by
 * worker, each worker's starts before its running processes), since the
 * scheduler acts on the records in that order.
 */
import assert from 'node:assert/strict';
import type { ExecuteResult } from '../../src/ssh/executor.js';
import { FakeCloud, lockedContainer, ok } from './fake-cloud.js';

/** Worker `id`'s `--detach`es wait; `answer(i)` answers the i-th (exit 0). */
function heldDetaches(f: FakeCloud, id: string): { answer: (i: number) => void; count: () => number } {
  const held: Array<() => void> = [];
  f.script(id, {
    detach: () => new Promise<ExecuteResult>((resolve) => held.push(() => resolve({ exitCode: 0, stdout: Buffer.from('{}'), stderr: Buffer.alloc(0) }))),
  });
  return { answer: (i) => held[i](), count: () => held.length };
}

describe('worker pool: the crunch-run records', () => {
  const a = lockedContainer(1);
  const b = lockedContainer(2);

  it('is the same map while nothing changes, and a new one once a record comes or goes', async () => {
    const f = new FakeCloud({ MaxRunningContainersPerInstance: 0 });
    const id = await f.idleWorker();
    const empty = f.pool.running();
    assert.equal(f.pool.running(), empty, 'nothing changed: the map is kept');
    await f.probe();
    assert.equal(f.pool.running(), empty, 'a probe that changes nothing keeps it');

    await f.tick(0);
    const t0 = f.clock.now();
    assert.equal(f.pool.startContainer(id, a), true);
    const started = f.pool.running();
    assert.notEqual(started, empty);
    assert.deepEqual([...started], [[a.uuid, t0]]);
    assert.deepEqual([...empty], [], 'a map handed out earlier is not changed');

    await f.tick(1000);
    f.script(id, { list: ok('') });
    await f.probe();
    assert.deepEqual([...f.pool.running()], [], 'the process ended: its record is gone');
  });

  it('hands out one copy of the exit records until an exit is noted or forgotten', async () => {
    const f = new FakeCloud({ MaxRunningContainersPerInstance: 0 });
    const id = await f.idleWorker();
    await f.runListed(id, a);
    const none = f.pool.exited();
    assert.equal(f.pool.exited(), none, 'nothing changed: the same copy');

    f.script(id, { list: ok('') });
    await f.probe();
    const one = f.pool.exited();
    assert.deepEqual([...one.keys()], [a.uuid], 'the process ended: its exit is recorded');
    assert.deepEqual([...none.keys()], [], 'a copy handed out earlier is not changed');
    assert.equal(f.pool.exited(), one);

    f.pool.forgetContainer(a.uuid);
    assert.deepEqual([...f.pool.exited().keys()], [], 'forgotten');
  });

  it("lists a worker's starts before its running processes, also after a --detach answer moves one", async () => {
    const f = new FakeCloud({ MaxRunningContainersPerInstance: 0 });
    const id = await f.idleWorker();
    const detaches = heldDetaches(f, id);
    assert.equal(f.pool.startContainer(id, a), true);
    assert.equal(f.pool.startContainer(id, b), true);
    await f.tick(0);
    assert.equal(detaches.count(), 2, 'both --detach calls are in flight');
    assert.deepEqual([...f.pool.running().keys()], [a.uuid, b.uuid], 'both starting, in the order started');

    detaches.answer(0);
    await f.tick(0);
    assert.deepEqual([...f.pool.running().keys()], [b.uuid, a.uuid], 'a runs now: b, still starting, comes first');
    detaches.answer(1);
    await f.tick(0);
    assert.deepEqual([...f.pool.running().keys()], [a.uuid, b.uuid], 'both run, in the order they began to');
  });

  it('lists a start that a probe found running after the starts still in flight', async () => {
    const f = new FakeCloud({ MaxRunningContainersPerInstance: 0 });
    const id = await f.idleWorker();
    heldDetaches(f, id);
    assert.equal(f.pool.startContainer(id, a), true);
    assert.equal(f.pool.startContainer(id, b), true);
    await f.tick(0);
    assert.deepEqual([...f.pool.running().keys()], [a.uuid, b.uuid]);

    f.script(id, { list: ok(`${a.uuid}\n`) });
    await f.probe();
    assert.deepEqual([...f.pool.running().keys()], [b.uuid, a.uuid], '--list shows a running before its --detach answered');
  });
});
