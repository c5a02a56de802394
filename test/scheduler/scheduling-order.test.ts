/**
 * The pass's scheduling order: the packed native sort must give exactly
 * what the plain comparator gives, ties and all.
 */
import assert from 'node:assert/strict';
import { schedulingOrder } from '../../src/scheduler/scheduling-order.js';

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
          group[k] = Math.floor(rnd() * 4);
          priority[k] = Math.floor(rnd() * spread) * (rnd() < 0.1 ? 0 : 1);
          t += rnd() < 0.3 ? 0 : Math.floor(rnd() * 1000);
          seen[k] = inSeenOrder ? t : Math.floor(rnd() * 50);
        }
        assert.deepEqual(Array.from(schedulingOrder(group, priority, seen)), reference(group, priority, seen), `round ${round}`);
      }
    });
  }

  // Arvados 2.7+ priorities (request priority x 2^50 less the request's
  // creation time in ms) are beyond 2^53 and nearly all distinct; before
  // that, small integers. Both, and what neither makes (fractions,
  // negatives, -0), must give the comparator's order, on either side of
  // the size where small integers stop being ranked by value.
  const draws: Array<[string, () => number]> = [
    ['2.7+ priorities', () => (1 + Math.floor(rnd() * 1000)) * 2 ** 50 - (1.7e12 + Math.floor(rnd() * 1e9))],
    ['2.7+ priorities, few requests', () => (1 + Math.floor(rnd() * 3)) * 2 ** 50 - (1.7e12 + 128 * Math.floor(rnd() * 4))],
    ['small integers up to 5000', () => Math.floor(rnd() * 5000)],
    ['fractions, negatives and -0', () => [0.5, -0, 0, -3, 2.25, 1e300, -1e-300][Math.floor(rnd() * 7)]],
    // Equal in all but the lowest bits of the mantissa, either sign: every byte of the value must count.
    ['values a few units apart at 2^52, either sign', () => (rnd() < 0.5 ? -1 : 1) * (2 ** 52 + Math.floor(rnd() * 600))],
    // Each of these alone, since one fraction among them sends all to the
    // radix sort: whole negatives, and fractions none of which is negative.
    ['negative integers only', () => -Math.floor(rnd() * 50)],
    ['fractions from 0 up only', () => Math.floor(rnd() * 400) / 4],
  ];
  for (const [name, draw] of draws) {
    it(`orders ${name} as the comparator does`, () => {
      for (const n of [1, 2, 50, 255, 256, 1000, 1300, 4000]) {
        const group = new Uint8Array(n);
        const priority = new Float64Array(n);
        const seen = new Float64Array(n);
        let t = 1_700_000_000_000;
        for (let k = 0; k < n; k++) {
          group[k] = Math.floor(rnd() * 4);
          priority[k] = rnd() < 0.05 ? 0 : draw();
          t += rnd() < 0.5 ? 0 : 1;
          seen[k] = t;
        }
        assert.deepEqual(Array.from(schedulingOrder(group, priority, seen)), reference(group, priority, seen), `${n} entries`);
      }
    });
  }

  it('keeps entries of one priority in position order, whatever their number', () => {
    // Every entry in one bucket: the counting sort must not reverse or shuffle them.
    const n = 3000;
    const order = schedulingOrder(new Uint8Array(n).fill(1), new Float64Array(n).fill(7 * 2 ** 50), new Float64Array(n).fill(5));
    assert.deepEqual(Array.from(order), Array.from({ length: n }, (_, k) => k));
  });

  it('orders groups above 3, which the packed sorts keep no buckets for, as the comparator does', () => {
    const draws = [() => Math.floor(rnd() * 5), () => (1 + Math.floor(rnd() * 3)) * 2 ** 50 - Math.floor(rnd() * 1e9)];
    for (const groups of [5, 256]) {
      for (const draw of draws) {
        const n = 500;
        const group = new Uint8Array(n);
        const priority = new Float64Array(n);
        const seen = new Float64Array(n);
        for (let k = 0; k < n; k++) {
          group[k] = Math.floor(rnd() * groups);
          priority[k] = draw();
          seen[k] = k;
        }
        assert.deepEqual(Array.from(schedulingOrder(group, priority, seen)), reference(group, priority, seen), `groups 0 to ${groups - 1}`);
      }
    }
  });

  it('handles no entries and one entry', () => {
    assert.deepEqual(Array.from(schedulingOrder(new Uint8Array(0), new Float64Array(0), new Float64Array(0))), []);
    assert.deepEqual(Array.from(schedulingOrder(new Uint8Array([2]), new Float64Array([5]), new Float64Array([1]))), [0]);
  });
});
