import assert from 'node:assert/strict';
import { ManualClock, SystemClock, isAbortError, nowDate } from '../../src/clock/index.js';
import { collected } from '../gc.js';

describe('ManualClock', () => {
  it('starts at the given time and moves only when advanced', async () => {
    const clock = new ManualClock(1_000_000);
    assert.equal(clock.now(), 1_000_000);
    await clock.advance(250);
    assert.equal(clock.now(), 1_000_250);
    assert.equal(nowDate(clock).getTime(), 1_000_250);
  });

  it('fires timers in time order, ties in the order they were set, with now() at each due time', async () => {
    const clock = new ManualClock(0);
    const fired: Array<[string, number]> = [];
    clock.setTimer(30, () => fired.push(['c', clock.now()]));
    clock.setTimer(10, () => fired.push(['a', clock.now()]));
    clock.setTimer(10, () => fired.push(['b', clock.now()]));
    clock.setTimer(40, () => fired.push(['late', clock.now()]));
    await clock.advance(35);
    assert.deepEqual(fired, [
      ['a', 10],
      ['b', 10],
      ['c', 30],
    ]);
    assert.equal(clock.now(), 35);
    assert.equal(clock.pendingTimers(), 1);
  });

  it('does not fire cancelled timers', async () => {
    const clock = new ManualClock(0);
    let fired = false;
    const t = clock.setTimer(5, () => (fired = true));
    t.cancel();
    await clock.advance(10);
    assert.equal(fired, false);
    assert.equal(clock.pendingTimers(), 0);
  });

  it('lets promise continuations run between timers, so async loops step exactly', async () => {
    const clock = new ManualClock(0);
    const ticks: number[] = [];
    const controller = new AbortController();
    const loop = (async () => {
      try {
        for (;;) {
          await clock.sleep(100, controller.signal);
          // An extra await chain between sleeps, like a real loop body doing work.
          await Promise.resolve();
          await Promise.resolve();
          ticks.push(clock.now());
        }
      } catch (err) {
        if (!isAbortError(err)) throw err;
      }
    })();
    await clock.advance(350);
    assert.deepEqual(ticks, [100, 200, 300]);
    await clock.advance(50);
    assert.deepEqual(ticks, [100, 200, 300, 400]);
    controller.abort();
    await loop;
    assert.equal(clock.pendingTimers(), 0, 'aborting a sleep releases its timer');
  });

  it('rejects a sleep at once when its signal is already aborted, and with a custom reason when given one', async () => {
    const clock = new ManualClock(0);
    await assert.rejects(clock.sleep(10, AbortSignal.abort()), (err: unknown) => isAbortError(err));
    const c = new AbortController();
    const p = clock.sleep(1000, c.signal);
    c.abort(new Error('shutting down'));
    await assert.rejects(p, /shutting down/);
  });

  it('repeating timers fire once per period until cancelled', async () => {
    const clock = new ManualClock(0);
    const at: number[] = [];
    const t = clock.setRepeatingTimer(20, () => at.push(clock.now()));
    await clock.advance(70);
    assert.deepEqual(at, [20, 40, 60]);
    t.cancel();
    await clock.advance(100);
    assert.deepEqual(at, [20, 40, 60]);
  });

  it('timers set by a firing timer within the advanced span fire in the same advance', async () => {
    const clock = new ManualClock(0);
    const at: number[] = [];
    clock.setTimer(10, () => {
      at.push(clock.now());
      clock.setTimer(10, () => at.push(clock.now()));
    });
    await clock.advance(25);
    assert.deepEqual(at, [10, 20]);
  });

  it('runAll runs to quiescence and reports the time reached', async () => {
    const clock = new ManualClock(0);
    let n = 0;
    const step = (): void => {
      if (++n < 5) clock.setTimer(1000, step);
    };
    clock.setTimer(1000, step);
    assert.equal(await clock.runAll(), 5000);
    assert.equal(n, 5);
  });

  it('keeps order with many timers (heap)', async () => {
    const clock = new ManualClock(0);
    const order: number[] = [];
    const dues = Array.from({ length: 500 }, (_, i) => (i * 7919) % 1000);
    for (const d of dues) clock.setTimer(d, () => order.push(clock.now()));
    await clock.advance(1000);
    assert.equal(order.length, 500);
    for (let i = 1; i < order.length; i++) assert.ok(order[i - 1] <= order[i]);
  });

  it('lets go of a cancelled timer\'s callback before the timer comes due', async () => {
    const clock = new ManualClock(0);
    let held: WeakRef<object> | undefined;
    const timer = (() => {
      const big = { payload: new Array(1000).fill(1) };
      held = new WeakRef(big);
      return clock.setTimer(3_600_000, () => big.payload.push(2));
    })();
    timer.cancel();
    // Still in the heap (it is skipped when due), but what its callback held is gone.
    assert.ok(await collected(held!), 'a cancelled timer keeps its callback, and all it holds, until its due time');
    assert.equal(clock.pendingTimers(), 0);
  });

  describe('runTo (the simulator drive)', () => {
    it('fires due timers in order, same-instant ones together (a cancel by an earlier one still counts), and ends at the target', async () => {
      const clock = new ManualClock(0);
      const fired: Array<[string, number]> = [];
      const late = clock.setTimer(10, () => fired.push(['cancelled', clock.now()]));
      clock.setTimer(10, () => fired.push(['b', clock.now()]));
      clock.setTimer(5, () => {
        fired.push(['a', clock.now()]);
        late.cancel();
      });
      clock.setTimer(30, () => fired.push(['after', clock.now()]));
      const n = await clock.runTo(20);
      assert.deepEqual(fired, [
        ['a', 5],
        ['b', 10],
      ]);
      assert.equal(n, 2);
      assert.equal(clock.now(), 20);
      assert.equal(await clock.runTo(30), 1);
    });

    it('lets chains of awaits and setImmediate yields finish at the instant their timer fired', async () => {
      const clock = new ManualClock(0);
      const seen: number[] = [];
      const loop = async (): Promise<void> => {
        for (let i = 0; i < 3; i++) {
          await clock.sleep(1000);
          // Like the scheduler between back-to-back passes: several macrotask yields.
          for (let j = 0; j < 5; j++) await new Promise<void>((resolve) => setImmediate(resolve));
          seen.push(clock.now());
        }
      };
      const done = loop();
      clock.setTimer(1500, () => undefined);
      await clock.runTo(10_000);
      await done;
      assert.deepEqual(seen, [1000, 2000, 3000]);
    });
  });
  it('takes a negative delay as 0: the timer fires after those already due now', async () => {
    const clock = new ManualClock(0);
    const fired: string[] = [];
    clock.setTimer(0, () => fired.push('zero'));
    clock.setTimer(-5, () => fired.push('negative'));
    await clock.advance(0);
    assert.deepEqual(fired, ['zero', 'negative']);
  });
  it('fires many timers due at one instant in the order they were set', async () => {
    const clock = new ManualClock(0);
    const order: number[] = [];
    for (let i = 0; i < 50; i++) clock.setTimer(i % 2 === 0 ? 10 : 5, () => order.push(i));
    await clock.advance(10);
    const odd = Array.from({ length: 25 }, (_, k) => 2 * k + 1);
    assert.deepEqual(order, [...odd, ...odd.map((i) => i - 1)]);
  });
  it('takes a repeating period below 1 ms as 1 ms', async () => {
    const clock = new ManualClock(0);
    const at: number[] = [];
    const t = clock.setRepeatingTimer(0, () => {
      at.push(clock.now());
      if (at.length === 5) t.cancel();
    });
    await clock.advance(3);
    t.cancel();
    assert.deepEqual(at, [1, 2, 3]);
  });
  it('a repeating timer cancelled from its own callback leaves no timer behind', async () => {
    const clock = new ManualClock(0);
    let n = 0;
    const t = clock.setRepeatingTimer(10, () => {
      if (++n === 2) t.cancel();
    });
    await clock.advance(20);
    assert.equal(n, 2);
    assert.equal(clock.pendingTimers(), 0, 'the next round is not armed');
  });
  it('nextTimerAt and runAll skip cancelled timers', async () => {
    const clock = new ManualClock(0);
    clock.setTimer(10, () => undefined).cancel();
    clock.setTimer(20, () => undefined).cancel();
    assert.equal(await clock.runAll(), 0, 'only cancelled timers: time does not move');
    clock.setTimer(30, () => undefined);
    assert.equal(clock.nextTimerAt(), 30);
  });
  it('advanceTo and runTo never move time backwards', async () => {
    const clock = new ManualClock(1000);
    await clock.advanceTo(500);
    assert.equal(clock.now(), 1000);
    await clock.runTo(500);
    assert.equal(clock.now(), 1000);
  });
  it('advance first lets pending continuations set their timers, which then fire within it', async () => {
    const clock = new ManualClock(0);
    const at: number[] = [];
    void (async () => {
      await new Promise<void>((resolve) => setImmediate(resolve));
      await clock.sleep(10);
      at.push(clock.now());
    })();
    await clock.advance(10);
    assert.deepEqual(at, [10]);
  });
  it('runAll fires a timer due exactly at the limit, counted from now, and none after it', async () => {
    const clock = new ManualClock(1000);
    const at: number[] = [];
    clock.setTimer(500, () => at.push(clock.now()));
    clock.setTimer(501, () => at.push(clock.now()));
    assert.equal(await clock.runAll(500), 1500);
    assert.deepEqual(at, [1500]);
  });
  it('gives each timer four event-loop turns before the next one fires', async () => {
    const clock = new ManualClock(0);
    const seen: string[] = [];
    clock.setTimer(10, () => {
      void (async () => {
        for (let i = 0; i < 4; i++) await new Promise<void>((resolve) => setImmediate(resolve));
        seen.push('four turns');
      })();
    });
    clock.setTimer(10, () => seen.push('next timer'));
    await clock.advance(10);
    assert.deepEqual(seen, ['four turns', 'next timer']);
    it('skips a timer cancelled by an earlier one due at the same instant, and does not count it', async () => {
      const clock = new ManualClock(0);
      const fired: string[] = [];
      clock.setTimer(10, () => {
        fired.push('a');
        b.cancel();
      });
      const b = clock.setTimer(10, () => fired.push('b'));
      assert.equal(await clock.runTo(10), 1);
      assert.deepEqual(fired, ['a']);
    });
  });
});

describe('ManualClock and SystemClock: odd delays', () => {
  it('the manual clock takes a NaN delay as 0, as setTimeout does, and keeps time', async () => {
    const clock = new ManualClock(0);
    const at: number[] = [];
    clock.setTimer(10, () => at.push(clock.now()));
    clock.setTimer(NaN, () => at.push(clock.now()));
    await clock.advance(20);
    assert.deepEqual([at, clock.now()], [[0, 10], 20]);
  });

  it('the manual clock never fires an Infinity delay, and runAll still ends', async () => {
    const clock = new ManualClock(0);
    let fired = 0;
    clock.setTimer(Infinity, () => fired++);
    clock.setRepeatingTimer(Infinity, () => fired++);
    clock.setTimer(5, () => undefined);
    assert.equal(await clock.runAll(), 5);
    await clock.advance(1e15);
    assert.equal(fired, 0);
  });

  it('the real clock does not fire a delay past 2^31 - 1 ms (Node fires those after 1 ms), once or repeating', async () => {
    const clock = new SystemClock();
    let fired = 0;
    const month = 30 * 24 * 3600_000;
    const once = clock.setTimer(month, () => fired++);
    const every = clock.setRepeatingTimer(month, () => fired++);
    const never = clock.setTimer(Infinity, () => fired++);
    // Timers fire in the order they are due: a month taken as 1 ms would come before this.
    await clock.sleep(20);
    once.cancel();
    every.cancel();
    never.cancel();
    assert.equal(fired, 0);
  });

  it('the real clock takes a NaN delay as 0', async () => {
    const clock = new SystemClock();
    await new Promise<void>((resolve) => clock.setTimer(NaN, resolve));
  });
});

describe('SystemClock', () => {
  it('tells real time and sleeps for real', async () => {
    const clock = new SystemClock();
    const before = clock.now();
    await clock.sleep(5);
    assert.ok(clock.now() - before >= 4, 'slept at least 4 ms');
  });
});
