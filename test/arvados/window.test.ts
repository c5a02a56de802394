/**
 * The client's window of requests in flight, one row of its table at a
 * time: waiting in order for room, cuts on overload spaced by the response
 * time, growth by 1 / window per answer up to the cap, and an abort while
 * waiting.
 */
import assert from 'node:assert/strict';
import { MIN_CUT_SPACING_MS, RequestWindow } from '../../src/arvados/window.js';

/** Turns the event loop so settled promises run their callbacks. */
const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('RequestWindow', () => {
  it('starts at the cap; requests past it wait, and go in order as others finish', async () => {
    const w = new RequestWindow(2);
    const order: number[] = [];
    await w.acquire();
    await w.acquire();
    const third = w.acquire().then(() => order.push(3));
    const fourth = w.acquire().then(() => order.push(4));
    await tick();
    assert.deepEqual([w.active, w.queued, order], [2, 2, []]);
    w.release();
    await third;
    assert.deepEqual(order, [3]);
    w.release();
    await fourth;
    assert.deepEqual([w.active, w.queued, order], [2, 0, [3, 4]]);
  });

  it('may start below its cap, and grows to the cap as answers come back', async () => {
    const w = new RequestWindow(16, 8);
    assert.deepEqual([w.cap, w.current], [16, 8]);
    for (let i = 0; i < 8; i++) await w.acquire();
    let ninth = false;
    void w.acquire().then(() => (ninth = true));
    await tick();
    assert.equal(ninth, false, 'the ninth waits for room');
    w.grow();
    assert.equal(w.current, 8, '8 + 1/8');
    for (let i = 0; i < 7; i++) w.grow();
    assert.equal(w.current, 8, 'about 8.97');
    w.grow();
    await tick();
    assert.deepEqual([w.current, ninth], [9, true], 'about a window of answers: one more');
    for (let i = 0; i < 200; i++) w.grow();
    assert.equal(w.current, 16);
    assert.equal(new RequestWindow(4, 8).current, 4, 'never above the cap');
  });

  it('cuts to half of min(window, in flight), not below 1, at most once per spacing', async () => {
    const w = new RequestWindow(16);
    for (let i = 0; i < 10; i++) await w.acquire();
    const t = 1_000_000;
    w.cut(t, 50);
    assert.equal(w.current, 5, 'half of the 10 in flight');
    w.cut(t + MIN_CUT_SPACING_MS - 1, 50);
    assert.equal(w.current, 5, 'the requests sent before the cut come back refused too: no second cut');
    w.cut(t + MIN_CUT_SPACING_MS, 50);
    assert.equal(w.current, 2);
    w.cut(t + MIN_CUT_SPACING_MS + 999, 500);
    assert.equal(w.current, 2, 'spacing is twice a 500 ms response time');
    w.cut(t + MIN_CUT_SPACING_MS + 1000, 500);
    w.cut(t + MIN_CUT_SPACING_MS + 2000, 500);
    assert.equal(w.current, 1, 'never below 1');
  });

  it('grows by 1 / window per answer up to the cap, letting waiting requests go', async () => {
    const w = new RequestWindow(3);
    await w.acquire();
    await w.acquire();
    w.cut(1_000_000, 0);
    assert.equal(w.current, 1);
    let waited = false;
    const next = w.acquire().then(() => (waited = true));
    w.grow();
    assert.equal(w.current, 2, '1 + 1/1');
    await tick();
    assert.equal(waited, false, 'still two in flight');
    w.release();
    await next;
    w.grow();
    w.grow();
    assert.equal(w.current, 2, '2 + 1/2 + 1/2.5: about one more per window of answers');
    w.grow();
    assert.equal(w.current, 3);
    for (let i = 0; i < 5; i++) w.grow();
    assert.equal(w.current, 3, 'the cap');
  });

  it('drops a waiting request whose signal aborts, and the next one gets its turn', async () => {
    const w = new RequestWindow(1);
    await w.acquire();
    const abort = new AbortController();
    const gone = w.acquire(abort.signal);
    let next = false;
    const after = w.acquire().then(() => (next = true));
    abort.abort();
    await assert.rejects(gone, (e: Error) => e.name === 'AbortError');
    assert.equal(w.queued, 1);
    w.release();
    await after;
    assert.equal(next, true);
    assert.equal(w.active, 1);
  });
});
