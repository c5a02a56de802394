/**
 * The chaos run's controller trouble (src/sim/controller-trouble.ts): the
 * schedule a seed draws, and what the hook answers while a window lasts. The
 * chaos run only checks that some requests were refused; these pin which.
 */
import assert from 'node:assert/strict';
import type { Clock } from '../../src/clock/index.js';
import { ControllerTrouble, planTrouble, type TroubleSpec, type TroubleWindow } from '../../src/sim/controller-trouble.js';
import type { TestController } from '../../src/testcontroller/index.js';

const START = Date.UTC(2026, 0, 1);

/** The trouble reads only the time: a clock set by hand. */
function handClock(): Clock & { set(ms: number): void } {
  let now = START;
  return { now: () => now, set: (ms: number) => (now = START + ms) } as unknown as Clock & { set(ms: number): void };
}

/** A controller that only keeps the hook installed, and a way to ask it about one request. */
function hooked(trouble: ControllerTrouble): () => number | undefined {
  let hook: ((req: never) => { status: number } | undefined) | undefined;
  trouble.install({ setHook: (fn: typeof hook) => (hook = fn) } as unknown as TestController);
  return () => hook!({} as never)?.status;
}

describe('simulated controller trouble', () => {
  const spec: TroubleSpec = { spanMs: 3_600_000, outages: 4, outageMs: [10_000, 20_000], overloads: 3, overloadMs: [60_000, 120_000], overloadShare: 0.3 };

  it('plans the windows a seed gives: sorted by start, each starting in the span and lasting within its kind\'s bounds', () => {
    const windows = planTrouble(7, spec);
    assert.deepEqual(planTrouble(7, spec), windows);
    assert.equal(windows.filter((w) => w.kind === 'outage').length, 4);
    assert.equal(windows.filter((w) => w.kind === 'overload').length, 3);
    for (const [i, w] of windows.entries()) {
      if (i > 0) assert.ok(windows[i - 1].from <= w.from, 'sorted by start');
      assert.ok(w.from >= 0 && w.from < spec.spanMs, JSON.stringify(w));
      const [min, max] = w.kind === 'outage' ? spec.outageMs : spec.overloadMs;
      assert.ok(w.until - w.from >= min && w.until - w.from <= max, JSON.stringify(w));
    }
  });

  it('is in force from the start of a window to just before its end, counted from the run start; an outage wins over an overload', () => {
    const clock = handClock();
    const windows: TroubleWindow[] = [
      { kind: 'overload', from: 1000, until: 5000 },
      { kind: 'outage', from: 2000, until: 3000 },
      { kind: 'overload', from: 2500, until: 4000 },
    ];
    const trouble = new ControllerTrouble(clock, START, windows, 1, 1);
    const at = (ms: number) => {
      clock.set(ms);
      return trouble.current();
    };
    assert.equal(at(999), undefined);
    assert.equal(at(1000), 'overload');
    assert.equal(at(2000), 'outage');
    assert.equal(at(2700), 'outage');
    assert.equal(at(3000), 'overload');
    assert.equal(at(4999), 'overload');
    assert.equal(at(5000), undefined);
  });

  it('answers every request 503 in an outage, and in an overload only its share, counting each by kind', () => {
    const clock = handClock();
    const trouble = new ControllerTrouble(
      clock,
      START,
      [
        { kind: 'outage', from: 0, until: 1000 },
        { kind: 'overload', from: 1000, until: 2000 },
      ],
      3,
      0.3,
    );
    const ask = hooked(trouble);
    for (let i = 0; i < 100; i++) assert.equal(ask(), 503);
    clock.set(1000);
    let refused = 0;
    for (let i = 0; i < 2000; i++) if (ask() === 503) refused++;
    assert.deepEqual(trouble.refused, { outage: 100, overload: refused });
    assert.ok(refused > 450 && refused < 750, `refused ${refused} of 2000 at a share of 0.3`);
    clock.set(2000);
    assert.equal(ask(), undefined);
    assert.deepEqual(trouble.refused, { outage: 100, overload: refused });
  });
});
