import assert from 'node:assert/strict';
import { AccuracyRecorder, nearestRank, summariseAccuracy, waitSummary } from '../../src/sim/accuracy.js';
import { runSimulation } from '../../src/sim/engine.js';
import { buildReport } from '../../src/sim/report.js';
import { formatSummary } from '../../src/sim/summary.js';
import { parseWorkload } from '../../src/sim/workload.js';
import { simConfig, TRACE } from './helpers.js';

const MIN = 60_000;

/** The estimates of one container ("u") at `at`: every band `typical`, and the naive estimate. */
function snap(at: number, typical: number, naive: number) {
  return { at, size: 1, uuid: () => 'u', low: Float64Array.of(typical), typical: Float64Array.of(typical), high: Float64Array.of(typical), naive: Float64Array.of(naive) };
}

describe('start-estimate accuracy', () => {
  it('records a first estimate and then one a minute, up to the limit', () => {
    const rec = new AccuracyRecorder(MIN, 2);
    for (let t = 0; t <= 10 * MIN; t += 20_000) rec.record(snap(t, 5 * MIN, t));
    assert.deepEqual(
      rec.samples.map((s) => [s.at, s.first]),
      [
        [0, true],
        [MIN, false],
        [2 * MIN, false],
      ],
    );
  });

  it('scores |estimate - actual| / max(wait, 1 min), the naive one beside it, and the band', () => {
    const s = (at: number, typical: number, naive: number, first: boolean) => ({ uuid: 'u', at, low: typical - MIN, typical, high: typical + MIN, naive, first });
    // Started at 10 min. First estimate at 0 said 8 min (error 2/10), naive 0 (10/10);
    // at 9.5 min it said 10 min (error 0, wait under a minute), naive 9.5 (0.5/1).
    const acc = summariseAccuracy([s(0, 8 * MIN, 0, true), s(9.5 * MIN, 10 * MIN, 9.5 * MIN, false)], new Map([['u', 10 * MIN]]));
    assert.equal(acc.containers, 1);
    assert.deepEqual(acc.firstSeen, { count: 1, median: 0.2, p90: 0.2, naiveMedian: 1, naiveP90: 1, withinBand: 0 });
    assert.deepEqual(acc.all, { count: 2, median: 0, p90: 0.2, naiveMedian: 0.5, naiveP90: 1, withinBand: 0.5 });
  });

  it('records no estimate while a container has none (an infinite start), so its first finite one counts as its first', () => {
    const rec = new AccuracyRecorder(MIN, 10);
    rec.record(snap(0, Infinity, Infinity));
    rec.record(snap(10_000, 5 * MIN, 5 * MIN));
    assert.deepEqual(
      rec.samples.map((s) => [s.at, s.first]),
      [[10_000, true]],
    );
  });

  it('counts a start at the band edges as within it, and scores an estimate made at the very instant of the start', () => {
    const s = (at: number, low: number, high: number) => ({ uuid: 'u', at, low, typical: low, high, naive: low, first: at === 0 });
    const start = new Map([['u', 10 * MIN]]);
    const acc = summariseAccuracy([s(0, 9 * MIN, 10 * MIN), s(MIN, 10 * MIN, 11 * MIN), s(10 * MIN, 10 * MIN, 10 * MIN)], start);
    assert.equal(acc.all.count, 3);
    assert.equal(acc.all.withinBand, 1);
  });

  it('takes percentiles by nearest rank: the smallest value with at least q of them at or below it', () => {
    const upTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
    assert.equal(nearestRank(upTo(11), 0.95), 11);
    assert.equal(nearestRank(upTo(13), 0.95), 13);
    assert.equal(nearestRank(upTo(11), 0.5), 6);
    assert.equal(nearestRank(upTo(20), 0.95), 19);
    assert.equal(nearestRank(upTo(10), 0.5), 5);
    assert.equal(nearestRank([], 0.5), 0);
  });

  it('summarises sorted waits: count, p50, p95, max, and the mean rounded', () => {
    assert.deepEqual(waitSummary([1, 2, 3, 10]), { count: 4, p50Ms: 2, p95Ms: 10, maxMs: 10, meanMs: 4 });
    assert.deepEqual(waitSummary([]), { count: 0, p50Ms: 0, p95Ms: 0, maxMs: 0, meanMs: 0 });
  });

  it('leaves out containers that never started', () => {
    const acc = summariseAccuracy([{ uuid: 'x', at: 0, low: 0, typical: 0, high: 0, naive: 0, first: true }], new Map());
    assert.equal(acc.containers, 0);
    assert.equal(acc.firstSeen.count, 0);
  });

  it('is in the report and the summary of a small simulated workload', async function () {
    this.timeout(30_000);
    const report = buildReport(await runSimulation({ cluster: simConfig(), workload: parseWorkload(TRACE) }));
    const e = report.estimates;
    assert.ok(e.containers > 0, `estimated ${e.containers} containers`);
    assert.ok(e.all.count >= e.firstSeen.count && e.firstSeen.count === e.containers);
    for (const x of [e.firstSeen.median, e.firstSeen.p90, e.all.naiveMedian]) assert.ok(Number.isFinite(x) && x >= 0);
    assert.match(formatSummary(report), /Start estimates \(\d+ containers\): error when first seen median [\d.]+%, p90 [\d.]+% \(naive /);
  });
});
