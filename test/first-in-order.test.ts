/**
 * Picking the first k of many in order: the same answer as sorting them all.
 */
import assert from 'node:assert/strict';
import { firstInOrder } from '../src/first-in-order.js';

describe('firstInOrder', () => {
  it('gives the first k in order, as a full sort would, for every k', () => {
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const items = Array.from({ length: 500 }, (_, i) => ({ key: next() % 50, id: i }));
    const cmp = (a: { key: number; id: number }, b: { key: number; id: number }): number => a.key - b.key || a.id - b.id;
    const sorted = [...items].sort(cmp);
    for (const k of [0, 1, 2, 3, 10, 99, 124, 125, 126, 499, 500, 800]) {
      assert.deepEqual(firstInOrder(items, k, cmp), sorted.slice(0, k), `k = ${k}`);
    }
    assert.equal(items.length, 500, 'the input is left alone');
  });
});
