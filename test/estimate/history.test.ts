import assert from 'node:assert/strict';
import { ramBucket, remaining, RuntimeHistory } from '../../src/estimate/history.js';

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
    for (let m = 1; m <= 11; m++) h.record({ image: 'i', vcpus: 2, ram: 4 * GiB }, m * MIN);
    assert.deepEqual(h.estimate({ image: 'i', vcpus: 2, ram: 4 * GiB }), { typical: 6 * MIN, low: 2 * MIN, high: 10 * MIN });
  });

  it('falls back to the size, then to everything, when the image has too few runs', () => {
    const h = new RuntimeHistory({ minSamples: 2 });
    h.record({ image: 'a', vcpus: 2, ram: 4 * GiB }, 10 * MIN);
    h.record({ image: 'b', vcpus: 2, ram: 4 * GiB }, 20 * MIN);
    h.record({ image: 'c', vcpus: 8, ram: 32 * GiB }, 60 * MIN);
    // Image "a" has one run: its size has two (10 and 20 min).
    assert.equal(h.estimate({ image: 'a', vcpus: 2, ram: 4 * GiB }).typical, 15 * MIN);
    // A size never seen: everything (10, 20, 60).
    assert.equal(h.estimate({ image: 'z', vcpus: 4, ram: 8 * GiB }).typical, 20 * MIN);
    assert.equal(h.typicalOverall(), 20 * MIN);
  });

  it('does not trust a sample while more of its kind are running than have finished', () => {
    const h = new RuntimeHistory({ minSamples: 1, defaultRuntimeMs: 10 * MIN });
    const key = { image: 'i', vcpus: 1, ram: GiB };
    h.record(key, 2 * MIN);
    h.record(key, 3 * MIN);
    // A burst: the two shortest have finished, three are still going: the default stands.
    h.setRunning([key, key, key]);
    assert.equal(h.estimate(key).typical, 10 * MIN);
    // Once as many have finished as are running, the sample speaks, the running ones counted as longer:
    // half finished, so the median of all is the largest finished.
    h.setRunning([key, key]);
    assert.equal(h.estimate(key).typical, 3 * MIN);
    h.setRunning([]);
    assert.equal(h.estimate(key).typical, 2.5 * MIN);
  });

  it('shares a sample between nearby RAM sizes, not distant ones', () => {
    assert.equal(ramBucket(3 * GiB), ramBucket(3.5 * GiB));
    assert.notEqual(ramBucket(2 * GiB), ramBucket(16 * GiB));
  });

  it('keeps only the most recent runs of a key', () => {
    const h = new RuntimeHistory({ sampleSize: 3, minSamples: 1 });
    const key = { image: 'i', vcpus: 1, ram: GiB };
    for (const m of [100, 100, 100, 1, 1, 1]) h.record(key, m * MIN);
    assert.equal(h.estimate(key).typical, MIN);
  });

  it("takes a container's earlier attempt as a lower bound, until it is forgotten", () => {
    const h = new RuntimeHistory({ minSamples: 1 });
    const key = { image: 'i', vcpus: 1, ram: GiB };
    h.record(key, 5 * MIN);
    h.recordAttempt('u1', 8 * MIN);
    assert.deepEqual(h.estimate(key, 'u1'), { typical: 8 * MIN, low: 8 * MIN, high: 8 * MIN });
    assert.equal(h.estimate(key, 'u2').typical, 5 * MIN);
    h.forget('u1');
    assert.equal(h.estimate(key, 'u1').typical, 5 * MIN);
  });

  it('leaves a running container what is left of its runtime, at least a tenth of it', () => {
    assert.deepEqual(remaining({ typical: 10 * MIN, low: 5 * MIN, high: 20 * MIN }, 6 * MIN), { typical: 4 * MIN, low: 0.5 * MIN, high: 14 * MIN });
  });
});
