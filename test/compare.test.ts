/**
 * Code-unit order (src/compare.ts), which the pool's, the management API's
 * and /metrics.json's lists are sorted in, as the reference's Go strings.
 */
import assert from 'node:assert/strict';
import { compareCodeUnits, sortFew } from '../src/compare.js';

describe('code-unit order', () => {
  it('puts upper case before lower case, and sorts by UTF-16 code unit, not by locale', () => {
    const words = ['b', 'a', 'B', 'é', 'z', '\u{1F600}', '\uFFFF', 'i-10', 'i-2', ''];
    assert.deepEqual([...words].sort(compareCodeUnits), ['', 'B', 'a', 'b', 'i-10', 'i-2', 'z', 'é', '\u{1F600}', '\uFFFF']);
    assert.equal(compareCodeUnits('x', 'x'), 0);
  });

  it('sortFew sorts in place as Array.prototype.sort does, for few strings and for many', () => {
    let seed = 7;
    const next = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let n = 0; n <= 40; n++) {
      for (let round = 0; round < 20; round++) {
        const a = Array.from({ length: n }, () => `zzzzz-dz642-${next() % 50}`);
        const want = [...a].sort();
        const same = a;
        sortFew(a);
        assert.equal(a, same, 'in place');
        assert.deepEqual(a, want, `n=${n}`);
      }
    }
  });
});
