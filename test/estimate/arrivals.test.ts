import assert from 'node:assert/strict';
import { ArrivalHistory } from '../../src/estimate/arrivals.js';

const M = 60_000;
const H = 3_600_000;

describe('ArrivalHistory', () => {
  it('rates arrivals of containers that fit a type over the window, once per container, forgetting older ones', () => {
    const a = new ArrivalHistory(H);
    a.record('c1', 0, ['small', 'large']);
    a.record('c2', 10 * M, ['large']);
    a.record('c1', 20 * M, ['small', 'large']); // seen again (requeued): still one arrival
    assert.equal(a.rate('small', 30 * M), 1 / H);
    assert.equal(a.rate('large', 30 * M), 2 / H);
    assert.equal(a.rate('gpu', 30 * M), 0);
    assert.equal(a.rate('small', H + 1), 0, 'c1 left the window');
    assert.equal(a.rate('large', H + 1), 1 / H);
  });

  it('the chance of one arrival within t: 1 - exp(-rate t); none without arrivals', () => {
    const a = new ArrivalHistory(H);
    for (let i = 0; i < 6; i++) a.record(`c${i}`, i * 10 * M, ['small']);
    // Six an hour: within 10 min, 1 - e^-1.
    assert.ok(Math.abs(a.chance('small', 10 * M, 55 * M) - (1 - Math.exp(-1))) < 1e-12);
    assert.equal(a.chance('large', 10 * M, 55 * M), 0);
    assert.equal(a.chance('small', 0, 55 * M), 0);
  });

  it('counts a container seen again after it left the window as a new arrival (and forgets the old sighting)', () => {
    const a = new ArrivalHistory(H);
    a.record('c1', 0, ['small']);
    // Requeued two hours later: the first sighting is out of the window, so this one counts.
    a.record('c1', 2 * H, ['small']);
    assert.equal(a.rate('small', 2 * H + M), 1 / H);
  });

  it('keeps counting the arrivals still in the window after many older ones have left it', () => {
    const a = new ArrivalHistory(H);
    for (let i = 0; i < 2000; i++) a.record(`old${i}`, i, ['small']);
    for (let i = 0; i < 10; i++) a.record(`new${i}`, 2 * H + i, ['small']);
    assert.equal(a.rate('small', 2 * H + 10), 10 / H);
  });

  it('gives no chance, never a negative one, for a time already past', () => {
    const a = new ArrivalHistory(H);
    a.record('c1', 0, ['small']);
    assert.equal(a.chance('small', -10 * M, M), 0);
  });
});
