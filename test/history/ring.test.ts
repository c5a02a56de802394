import assert from 'node:assert/strict';
import { Ring } from '../../src/history/ring.js';

describe('history ring', () => {
  it('keeps values oldest first until full', () => {
    const r = new Ring(4);
    assert.deepEqual(r.values(), []);
    r.push(1);
    r.push(2);
    assert.equal(r.length, 2);
    assert.deepEqual(r.values(), [1, 2]);
  });

  it('drops the oldest once full, however many are pushed', () => {
    const r = new Ring(3);
    for (let i = 1; i <= 10; i++) r.push(i);
    assert.equal(r.length, 3);
    assert.deepEqual(r.values(), [8, 9, 10]);
    r.push(11);
    assert.deepEqual(r.values(), [9, 10, 11]);
  });

  it('keeps gaps as null, a NaN pushed included, and real zeros as zeros', () => {
    const r = new Ring(4);
    r.push(0);
    r.push(null);
    r.push(Number.NaN);
    r.push(-2.5);
    assert.deepEqual(r.values(), [0, null, null, -2.5]);
  });

  it('refuses a capacity that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => new Ring(bad), RangeError);
  });
});
