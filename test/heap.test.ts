/**
 * The one binary heap (src/heap.ts) behind the manual clock, the forecast
 * and the fair share: checked against a sorted list under any sequence of
 * pushes and pops.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BinaryHeap } from '../src/heap.js';

interface Item {
  key: number;
  seq: number;
}

/** A push (a key) or a pop (null). */
const ops = fc.array(fc.option(fc.integer({ min: 0, max: 20 }), { nil: null, freq: 3 }), { maxLength: 300 });

describe('BinaryHeap (src/heap.ts)', () => {
  it('with a total order, pops exactly what a sorted list would', () => {
    fc.assert(
      fc.property(ops, (list) => {
        const heap = new BinaryHeap<Item>((a, b) => a.key < b.key || (a.key === b.key && a.seq < b.seq));
        const model: Item[] = [];
        let seq = 0;
        for (const op of list) {
          if (op === null) {
            model.sort((a, b) => a.key - b.key || a.seq - b.seq);
            assert.deepEqual(heap.pop(), model.shift());
          } else {
            const item = { key: op, seq: seq++ };
            heap.push(item);
            model.push(item);
          }
          assert.equal(heap.size, model.length);
          assert.equal(heap.peek()?.key, model.length === 0 ? undefined : Math.min(...model.map((m) => m.key)));
        }
        assert.deepEqual([...heap.values()].sort((a, b) => a.seq - b.seq), [...model].sort((a, b) => a.seq - b.seq));
      }),
    );
  });

  it('with ties under `less`, still pops in key order, the same way each time for the same calls', () => {
    fc.assert(
      fc.property(ops, (list) => {
        const run = () => {
          const heap = new BinaryHeap<Item>((a, b) => a.key < b.key);
          const out: number[] = [];
          let seq = 0;
          for (const op of list) {
            if (op === null) out.push(heap.pop()?.seq ?? -1);
            else heap.push({ key: op, seq: seq++ });
          }
          let last = -Infinity;
          for (let it = heap.pop(); it; it = heap.pop()) {
            assert.ok(it.key >= last, 'key order');
            last = it.key;
          }
          return out;
        };
        assert.deepEqual(run(), run());
      }),
    );
  });
});
