/**
 * The simulator's printed summary (src/sim/summary.ts): durations as a
 * person reads them, money with its sign, and the cancel reasons cut at ten.
 */
import assert from 'node:assert/strict';
import { formatDuration } from '../../src/sim/summary.js';

describe('simulator summary', () => {
  it('writes durations as ms under a second, tenths of seconds under a minute, then m+s, and h+m from an hour', () => {
    const cases: Array<[number, string]> = [
      [0, '0ms'],
      [800, '800ms'],
      [999, '999ms'],
      [1000, '1s'],
      [12_500, '12.5s'],
      [59_940, '59.9s'],
      [60_000, '1m00s'],
      [190_000, '3m10s'],
      [3_599_000, '59m59s'],
      [3_600_000, '1h00m'],
      [3_720_000, '1h02m'],
      [7_200_000, '2h00m'],
      [90_000_000, '25h00m'],
    ];
    for (const [ms, text] of cases) assert.equal(formatDuration(ms), text, String(ms));
  });

});
