import assert from 'node:assert/strict';
import { ramBucket, remaining, remainingAt, RuntimeHistory } from '../../src/estimate/history.js';

const GiB = 2 ** 30;
const MIN = 60_000;

describe('RuntimeHistory', () => {
  it('answers the default (halved and doubled for the band) when nothing is known', () => {
    const h = new RuntimeHistory({ defaultRuntimeMs: 7 * MIN });
    assert.deepEqual(h.estimate({ image: 'i', vcpus: 1, ram: GiB }), { typical: 7 * MIN, low: 3.5 * MIN, high: 14 * MIN });
    assert.equal(new RuntimeHistory().defaultRuntimeMs, 10 * MIN);
  });

  it('gives the median, p10 and p90 of the same image and size', () => {
    const h = new RuntimeHistory({ minSamples: 3 });
    for (let m = 1; m <= 11; m++) h.record({ image: 'i', vcpus: 2, ram: 4 * GiB }, m * MIN, 0);
    assert.deepEqual(h.estimate({ image: 'i', vcpus: 2, ram: 4 * GiB }), { typical: 6 * MIN, low: 2 * MIN, high: 10 * MIN });
  });

  it('falls back to the size, then to everything, when the image has too few runs', () => {
    const h = new RuntimeHistory({ minSamples: 2 });
    h.record({ image: 'a', vcpus: 2, ram: 4 * GiB }, 10 * MIN, 0);
    h.record({ image: 'b', vcpus: 2, ram: 4 * GiB }, 20 * MIN, 0);
    h.record({ image: 'c', vcpus: 8, ram: 32 * GiB }, 60 * MIN, 0);
    // Image "a" has one run: its size has two (10 and 20 min); the median is read off the
    // survival curve, a step: the first value by which half have finished.
    assert.equal(h.estimate({ image: 'a', vcpus: 2, ram: 4 * GiB }).typical, 10 * MIN);
    // A size never seen: everything (10, 20, 60).
    assert.equal(h.estimate({ image: 'z', vcpus: 4, ram: 8 * GiB }).typical, 20 * MIN);
    assert.equal(h.typicalOverall(), 20 * MIN);
  });

  it('counts the runs still going as runs that take at least their elapsed time', () => {
    const h = new RuntimeHistory({ minSamples: 1, defaultRuntimeMs: 10 * MIN });
    const key = { image: 'i', vcpus: 1, ram: GiB };
    h.record(key, 2 * MIN, 0);
    h.record(key, 3 * MIN, 0);
    // A burst: the two shortest have finished, three have run 4 minutes and go on: the median
    // of the five is beyond 4 minutes, and too few have finished to extend the curve: the
    // default stands (it is above what is known).
    const running = (...mins: number[]) => mins.map((m) => ({ key, elapsedMs: m * MIN }));
    h.setRunning(running(4, 4, 4));
    assert.equal(h.estimate(key).typical, 10 * MIN);
    // What is known wins over the default once it is longer: the five have run at least 2, 3,
    // 12, 12, 12 minutes.
    h.setRunning(running(12, 12, 12));
    assert.equal(h.estimate(key).typical, 12 * MIN);
    // Young runs say little: three that started a minute ago leave the finished ones to speak.
    h.setRunning(running(1, 1, 1));
    assert.equal(h.estimate(key).typical, 2 * MIN);
  });

  it('shares a sample between nearby RAM sizes, not distant ones', () => {
    assert.equal(ramBucket(3 * GiB), ramBucket(3.5 * GiB));
    assert.notEqual(ramBucket(2 * GiB), ramBucket(16 * GiB));
  });

  it('samples recent runs over old ones, but at random among runs of the same hour', () => {
    const h = new RuntimeHistory({ sampleSize: 20, minSamples: 1 });
    const key = { image: 'i', vcpus: 1, ram: GiB };
    // A day ago the work took 100 minutes; this last hour, 1 minute.
    for (let i = 0; i < 50; i++) h.record(key, 100 * MIN, i * 1000);
    for (let i = 0; i < 50; i++) h.record(key, MIN, 24 * 60 * MIN + i * 1000);
    assert.equal(h.estimate(key).typical, MIN);
    // Within one burst, the last to finish (the longest) do not crowd out the rest.
    const b = new RuntimeHistory({ sampleSize: 20, minSamples: 1 });
    for (let m = 1; m <= 100; m++) b.record(key, m * 6000, m * 6000);
    const median = b.estimate(key).typical;
    assert.ok(median > 3 * MIN && median < 7 * MIN, `${median / MIN} min`);
  });

  it("takes a container's earlier attempt as a lower bound, until it is forgotten", () => {
    const h = new RuntimeHistory({ minSamples: 1 });
    const key = { image: 'i', vcpus: 1, ram: GiB };
    h.record(key, 5 * MIN, 0);
    h.recordAttempt('u1', 8 * MIN);
    assert.deepEqual(h.estimate(key, 'u1'), { typical: 8 * MIN, low: 8 * MIN, high: 8 * MIN });
    assert.equal(h.estimate(key, 'u2').typical, 5 * MIN);
    h.forget('u1');
    assert.equal(h.estimate(key, 'u1').typical, 5 * MIN);
  });

  it('leaves a running container what is left of its runtime, at least a tenth of it', () => {
    assert.deepEqual(remaining({ typical: 10 * MIN, low: 5 * MIN, high: 20 * MIN }, 6 * MIN), { typical: 4 * MIN, low: 0.5 * MIN, high: 14 * MIN });
  });

  it('uses the sample of everything from its first run, whatever minSamples asks of the narrower ones', () => {
    const h = new RuntimeHistory({ minSamples: 3, defaultRuntimeMs: 10 * MIN });
    h.record({ image: 'a', vcpus: 2, ram: 4 * GiB }, 5 * MIN, 0);
    h.record({ image: 'b', vcpus: 4, ram: 8 * GiB }, 30 * MIN, 0);
    // Another size and image: two runs in all are read as they are, not the default of 10 min.
    assert.deepEqual(h.estimate({ image: 'z', vcpus: 8, ram: 32 * GiB }), { typical: 5 * MIN, low: 5 * MIN, high: 30 * MIN });
  });

  it("takes the longest of a container's earlier attempts as its lower bound, not the last", () => {
    const h = new RuntimeHistory({ minSamples: 1 });
    const key = { image: 'i', vcpus: 1, ram: GiB };
    h.record(key, 2 * MIN, 0);
    h.recordAttempt('u1', 8 * MIN);
    h.recordAttempt('u1', 3 * MIN);
    assert.equal(h.estimate(key, 'u1').typical, 8 * MIN);
  });

  it('raises the default to the lower middle of what is known when the count is even', () => {
    const h = new RuntimeHistory({ minSamples: 1, defaultRuntimeMs: 10 * MIN });
    const key = { image: 'i', vcpus: 1, ram: GiB };
    // One run finished at 2 min, three going for 3, 12, 12 min: no median can be read off, so
    // the default stands, raised to the median of 2, 3, 12, 12 taken as the lower of the two
    // middle values (3 min), as the survival curve reads a median: the default is not raised.
    h.record(key, 2 * MIN, 0);
    h.setRunning([3, 12, 12].map((m) => ({ key, elapsedMs: m * MIN })));
    assert.deepEqual(h.estimate(key), { typical: 10 * MIN, low: 5 * MIN, high: 20 * MIN });
  });

  it('buckets RAM by powers of two of 256 MiB, a power of two with the sizes just under it', () => {
    // (2, 4] GiB is one bucket: 4 GiB shares with 3.5 GiB, not with 4.5 GiB.
    assert.equal(ramBucket(4 * GiB), ramBucket(3.5 * GiB));
    assert.notEqual(ramBucket(4 * GiB), ramBucket(4.5 * GiB));
    assert.equal(ramBucket(256 * 2 ** 20), 0);
    assert.equal(ramBucket(GiB), 2);
  });

  it('weighs a sample by the finished runs it stands for against the runs going on now', () => {
    const h = new RuntimeHistory({ sampleSize: 10, minSamples: 1, defaultRuntimeMs: 10 * MIN });
    const key = { image: 'i', vcpus: 1, ram: GiB };
    // A hundred runs of 1 min finished (the sample keeps 10 of them), fifty go on for 5 min:
    // two thirds of the runs took 1 min, so that is the median, not something past 5 min.
    for (let i = 0; i < 100; i++) h.record(key, MIN, i * 1000);
    h.setRunning(Array.from({ length: 50 }, () => ({ key, elapsedMs: 5 * MIN })));
    assert.equal(h.estimate(key).typical, MIN);
  });

  it('doubles what is known for the high band when it is above the default', () => {
    const h = new RuntimeHistory({ minSamples: 1, defaultRuntimeMs: 10 * MIN });
    const key = { image: 'i', vcpus: 1, ram: GiB };
    // Finished 2 and 3 min, three going for 12 min: no median can be read off, and what is known
    // (12 min) is above the default: 12 min typical, the default for the low band, 24 min high.
    h.record(key, 2 * MIN, 0);
    h.record(key, 3 * MIN, 0);
    h.setRunning([12, 12, 12].map((m) => ({ key, elapsedMs: m * MIN })));
    assert.deepEqual(h.estimate(key), { typical: 12 * MIN, low: 10 * MIN, high: 24 * MIN });
  });

  describe('remainingAt', () => {
    const total = { typical: 10 * MIN, low: 5 * MIN, high: 20 * MIN };
    const near = (a: number, b: number): void => assert.ok(Math.abs(a - b) < 1_000, `${a} is not near ${b}`);

    it('before it has run, is the log-normal through the median and p90 at that quantile', () => {
      near(remainingAt(total, 0, 0.5), 10 * MIN);
      near(remainingAt(total, 0, 0.9), 20 * MIN);
      near(remainingAt(total, 0, 0.1), 5 * MIN);
    });

    it('leaves one that has run past its median more to go than a tenth of it, the more the longer it has run', () => {
      const at15 = remainingAt(total, 15 * MIN, 0.5);
      const at30 = remainingAt(total, 30 * MIN, 0.5);
      assert.ok(at15 > remaining(total, 15 * MIN).typical * 3, `${at15}`);
      assert.ok(at30 > at15, `${at30} <= ${at15}`);
      // Given it has lasted 15 min, half of those end by 15 + at15: the median of what is left.
      assert.ok(remainingAt(total, 15 * MIN, 0.25) < at15 && at15 < remainingAt(total, 15 * MIN, 0.75), 'the median between the quartiles');
    });

    it('with no spread to go by, is what remaining says', () => {
      const flat = { typical: 10 * MIN, low: 10 * MIN, high: 10 * MIN };
      assert.equal(remainingAt(flat, 4 * MIN, 0.9), 6 * MIN);
      assert.equal(remainingAt(flat, 40 * MIN, 0.1), MIN);
    });

    it('with a typical runtime of 0 ms, is what remaining says, not NaN', () => {
      const instant = { typical: 0, low: 0, high: MIN };
      assert.equal(remainingAt(instant, 0, 0.5), 0);
      assert.equal(remainingAt(instant, 30_000, 0.5), 0);
    });

    it('stays finite for a run far past its p90', () => {
      const r = remainingAt(total, 24 * 60 * MIN, 0.5);
      assert.ok(Number.isFinite(r), `${r}`);
    });

    it('leaves a run far past its p90 more to go the longer it has run, never nothing', () => {
      let last = 0;
      for (const hours of [0.5, 2, 4, 4.5, 5, 24, 1000]) {
        const rest = remainingAt(total, hours * 60 * MIN, 0.5);
        assert.ok(rest >= last && rest > 0, `${rest / MIN} min at ${hours} h, ${last / MIN} min before`);
        last = rest;
      }
    });
  });

  it('answers from the runs recorded since it was last asked', () => {
    const h = new RuntimeHistory({ minSamples: 1 });
    const key = { image: 'i', vcpus: 1, ram: GiB };
    h.record(key, 2 * MIN, 0);
    assert.equal(h.estimate(key).typical, 2 * MIN);
    h.record(key, 8 * MIN, 1000);
    h.record(key, 9 * MIN, 2000);
    assert.equal(h.estimate(key).typical, 8 * MIN);
  });

  it('learns a runtime of 0 ms (a container that ended at once), not a negative or missing one', () => {
    const h = new RuntimeHistory({ minSamples: 1, defaultRuntimeMs: 10 * MIN });
    const key = { image: 'i', vcpus: 1, ram: GiB };
    h.record(key, -MIN, 0);
    h.record(key, NaN, 0);
    assert.equal(h.typicalOverall(), 10 * MIN);
    h.record(key, 0, 0);
    assert.deepEqual(h.estimate(key), { typical: 0, low: 0, high: 0 });
  });

  it('takes the default as the typical runtime overall before any run has finished', () => {
    assert.equal(new RuntimeHistory({ defaultRuntimeMs: 7 * MIN }).typicalOverall(), 7 * MIN);
  });

  it('weighs an image sample against the runs of that image going on, not those of other images of its size', () => {
    const h = new RuntimeHistory({ minSamples: 3, defaultRuntimeMs: 10 * MIN });
    const key = { image: 'i', vcpus: 1, ram: GiB };
    for (let i = 0; i < 3; i++) h.record(key, 2 * MIN, i * 1000);
    h.setRunning(Array.from({ length: 10 }, () => ({ key: { ...key, image: 'j' }, elapsedMs: 30 * MIN })));
    assert.equal(h.estimate(key).typical, 2 * MIN);
  });

  it('learns an image apart from the other images of its size', () => {
    const h = new RuntimeHistory({ minSamples: 3 });
    const a = { image: 'a', vcpus: 1, ram: GiB };
    for (let i = 0; i < 3; i++) h.record(a, MIN, i * 1000);
    for (let i = 0; i < 4; i++) h.record({ ...a, image: 'b' }, 9 * MIN, i * 1000);
    assert.equal(h.estimate(a).typical, MIN);
  });

  it('weighs finished runs of hours ago for less against the runs going on now', () => {
    const h = new RuntimeHistory({ sampleSize: 10, minSamples: 1, defaultRuntimeMs: 10 * MIN });
    const key = { image: 'i', vcpus: 1, ram: GiB };
    // A hundred runs of 1 min five hours ago, one just now; fifty go on for 5 min. The hundred
    // stand for e^-5 of what they did: too few finished to read a median, the default stands.
    for (let i = 0; i < 100; i++) h.record(key, MIN, i);
    h.record(key, MIN, 5 * 60 * MIN);
    h.setRunning(Array.from({ length: 50 }, () => ({ key, elapsedMs: 5 * MIN })));
    assert.equal(h.estimate(key).typical, 10 * MIN);
  });

  it('weighs a size sample against the runs of that size going on, not those of other sizes', () => {
    const h = new RuntimeHistory({ minSamples: 3, defaultRuntimeMs: 10 * MIN });
    // Three images of one size, one run each: the size's sample speaks.
    for (const image of ['a', 'b', 'c']) h.record({ image, vcpus: 1, ram: GiB }, 2 * MIN, 0);
    h.setRunning(Array.from({ length: 10 }, () => ({ key: { image: 'a', vcpus: 8, ram: 32 * GiB }, elapsedMs: 30 * MIN })));
    assert.equal(h.estimate({ image: 'z', vcpus: 1, ram: GiB }).typical, 2 * MIN);
  });
});
