/**
 * The simulator's printed summary (src/sim/summary.ts): durations as a
 * person reads them, money with its sign, and the cancel reasons cut at ten.
 */
import assert from 'node:assert/strict';
import { buildReport, type SimReport } from '../../src/sim/report.js';
import { formatDuration, formatSummary } from '../../src/sim/summary.js';
import { handMadeResult } from './helpers.js';

/** The report of a run with nothing in it. */
function emptyReport(): SimReport {
  return buildReport(handMadeResult([], { workload: 'empty' }));
}

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

  it('prints a negative cost part with its sign (packing several containers on one VM can save)', () => {
    const rep = emptyReport();
    rep.cost = { ...rep.cost, total: 10, extra: { boot: 1, idle: 2, packing: -1.5, extraRunTime: 0.25 } };
    assert.match(formatSummary(rep), /Extra: boot \$1\.00 \(10\.0%\), idle \$2\.00 \(20\.0%\), packing -\$1\.50 \(-15\.0%\), extra run time \$0\.25\./);
  });

  it('lists ten cancel reasons and says how many more there are', () => {
    const rep = emptyReport();
    const reason = (i: number) => ({ reason: `reason ${i}`, count: 1, examples: [{ id: `c${i}`, uuid: `u${i}` }] });
    rep.cancelled = Array.from({ length: 10 }, (_, i) => reason(i));
    const ten = formatSummary(rep);
    assert.equal(ten.match(/^Cancelled x1: /gm)?.length, 10);
    assert.doesNotMatch(ten, /more cancellation reasons/);
    rep.cancelled = Array.from({ length: 11 }, (_, i) => reason(i));
    const eleven = formatSummary(rep);
    assert.equal(eleven.match(/^Cancelled x1: /gm)?.length, 10);
    assert.doesNotMatch(eleven, /reason 10/);
    assert.match(eleven, /^\.\.\. and 1 more cancellation reasons \(see the report\)\.$/m);
  });
});
