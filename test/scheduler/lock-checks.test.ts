/**
 * After a lock the controller accepted, the scheduler looks at what the
 * queue holds, as the reference does, and says so when it is not a Locked
 * container: gone is a bug, another state a race.
 */
import assert from 'node:assert/strict';
import { harness, logged, uuid } from './harness.js';

describe('scheduler: checks after a successful lock', () => {
  it('says nothing when the lock left the container Locked', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Queued' });
    h.pool.addWorker(h.type(1));
    h.sch.runQueue();
    await h.clock.advance(0);
    assert.equal(h.queue.state(uuid(1)), 'Locked');
    assert.deepEqual(logged(h, /after Lock succeeded/), []);
  });

  it('a container gone from the queue after its lock: an error, in the reference\'s words', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Queued' });
    h.pool.addWorker(h.type(1));
    h.queue.lock = async (u: string) => {
      h.queue.map.delete(u);
    };
    h.sch.runQueue();
    await h.clock.advance(0);
    assert.deepEqual(
      logged(h, /after Lock succeeded/).map((r) => [r.level, r.msg, r.ContainerUUID]),
      [['error', '(BUG?) container disappeared from queue after Lock succeeded', uuid(1)]],
    );
  });

  it('a container in another state after its lock: a warning naming the state', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Queued' });
    h.pool.addWorker(h.type(1));
    h.queue.lock = async () => undefined;
    h.sch.runQueue();
    await h.clock.advance(0);
    assert.deepEqual(
      logged(h, /after Lock succeeded/).map((r) => [r.level, r.msg]),
      [['warning', '(race?) container has state="Queued" after Lock succeeded']],
    );
  });

  it('a refused lock logs the error only, not the checks of a successful one', async () => {
    const h = harness();
    h.queue.add({ uuid: uuid(1), priority: 1, state: 'Queued' });
    h.pool.addWorker(h.type(1));
    h.queue.lock = async () => {
      throw new Error('422 Unprocessable Entity');
    };
    h.sch.runQueue();
    await h.clock.advance(0);
    assert.equal(logged(h, /^error locking container$/).length, 1);
    assert.deepEqual(logged(h, /after Lock succeeded/), [], 'the lock did not succeed: no "(race?)" warning');
  });
});
