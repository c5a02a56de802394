/**
 * The pass's scheduling order: the packed native sort must give exactly
 * what the plain comparator gives, ties and all.
 */
import assert from 'node:assert/strict';
import { schedulingOrder } from '../../src/scheduler/pass-view.js';

function reference(group: Uint8Array, priority: Float64Array, seen: Float64Array): number[] {
  return Array.from({ length: group.length }, (_, k) => k).sort(
    (a, b) => group[a] - group[b] || priority[b] - priority[a] || seen[a] - seen[b] || a - b,
  );
}

describe('scheduler pass view: scheduling order', () => {
  let seed = 11;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };

  for (const inSeenOrder of [true, false]) {
    it(`orders by group, priority (highest first), first seen, position: ${inSeenOrder ? 'packed sort' : 'comparator'}`, () => {
      for (let round = 0; round < 50; round++) {
        const n = 1 + Math.floor(rnd() * 300);
        const group = new Uint8Array(n);
        const priority = new Float64Array(n);
        const seen = new Float64Array(n);
        const spread = [1, 3, 1000, 2 ** 40][round % 4];
        let t = 1_700_000_000_000;
        for (let k = 0; k < n; k++) {
          group[k] = Math.floor(rnd() * 3);
          priority[k] = Math.floor(rnd() * spread) * (rnd() < 0.1 ? 0 : 1);
          t += rnd() < 0.3 ? 0 : Math.floor(rnd() * 1000);
          seen[k] = inSeenOrder ? t : Math.floor(rnd() * 50);
        }
        assert.deepEqual(Array.from(schedulingOrder(group, priority, seen)), reference(group, priority, seen), `round ${round}`);
      }
    });
  }

  it('handles no entries and one entry', () => {
    assert.deepEqual(Array.from(schedulingOrder(new Uint8Array(0), new Float64Array(0), new Float64Array(0))), []);
    assert.deepEqual(Array.from(schedulingOrder(new Uint8Array([2]), new Float64Array([5]), new Float64Array([1]))), [0]);
  });
});
