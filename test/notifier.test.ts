import assert from 'node:assert/strict';
import { Notifier } from '../src/notifier.js';

describe('Notifier', () => {
  it('coalesces many notifications in one turn into one call per listener, a microtask later', async () => {
    const n = new Notifier(() => {});
    let a = 0;
    let b = 0;
    n.subscribe(() => a++);
    n.subscribe(() => b++);
    for (let i = 0; i < 10; i++) n.notify();
    assert.deepEqual([a, b], [0, 0], 'not called synchronously');
    await Promise.resolve();
    assert.deepEqual([a, b], [1, 1]);
    n.notify();
    await Promise.resolve();
    assert.deepEqual([a, b], [2, 2]);
  });

  it('keeps calling the other listeners when one throws, and reports the error', async () => {
    const errors: unknown[] = [];
    const n = new Notifier((e) => errors.push(e));
    let called = 0;
    n.subscribe(() => {
      throw new Error('bad listener');
    });
    n.subscribe(() => called++);
    n.notify();
    await Promise.resolve();
    assert.equal(called, 1);
    assert.match(String(errors[0]), /bad listener/);
  });

  it('unsubscribe stops the calls', async () => {
    const n = new Notifier(() => {});
    let called = 0;
    const off = n.subscribe(() => called++);
    off();
    n.notify();
    await Promise.resolve();
    assert.equal(called, 0);
  });

  it('the same function subscribed twice is called twice, and each subscription is removed on its own', async () => {
    const n = new Notifier(() => {});
    let called = 0;
    const f = (): void => {
      called++;
    };
    const offFirst = n.subscribe(f);
    n.subscribe(f);
    n.notify();
    await Promise.resolve();
    assert.equal(called, 2);
    offFirst();
    n.notify();
    await Promise.resolve();
    assert.equal(called, 3);
  });

  it('a notification made by a listener while it is called is not lost: every listener is called again', async () => {
    const n = new Notifier(() => {});
    const calls: string[] = [];
    n.subscribe(() => {
      calls.push('a');
      // A change made in reaction to the first call (the scheduler's wake-up call changing the pool).
      if (calls.length === 1) n.notify();
    });
    n.subscribe(() => calls.push('b'));
    n.notify();
    for (let i = 0; i < 5; i++) await Promise.resolve();
    assert.deepEqual(calls, ['a', 'b', 'a', 'b']);
  });

  it('clear() removes every listener', async () => {
    const n = new Notifier(() => {});
    let called = 0;
    n.subscribe(() => called++);
    n.subscribe(() => called++);
    n.clear();
    n.notify();
    await Promise.resolve();
    assert.equal(called, 0);
  });

  it('a listener subscribed while the others are being called waits for the next notification', async () => {
    const n = new Notifier(() => {});
    const calls: string[] = [];
    n.subscribe(() => {
      calls.push('a');
      if (calls.length === 1) n.subscribe(() => calls.push('late'));
    });
    n.notify();
    await Promise.resolve();
    assert.deepEqual(calls, ['a']);
    n.notify();
    await Promise.resolve();
    assert.deepEqual(calls, ['a', 'a', 'late']);
  });
});
