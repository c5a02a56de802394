import assert from 'node:assert/strict';
import { DecayedSample, erfc, normalQuantile, normalSurvival, survivalSpread } from '../../src/estimate/survival.js';

const MIN = 60_000;

describe('survivalSpread', () => {
  it('is the plain p10, median and p90 when nothing runs', () => {
    const finished = Array.from({ length: 11 }, (_, i) => (i + 1) * MIN);
    assert.deepEqual(survivalSpread(finished, 1, []), { low: 2 * MIN, typical: 6 * MIN, high: 10 * MIN });
  });

  it('counts a run still going as at risk until its elapsed time, and no further', () => {
    // Finished 1, 2, 3, 4 min; two runs going for 1.5 min. Kaplan-Meier: at 1 min 6 at risk
    // (S = 5/6), the two young runs leave, at 2 min 3 at risk (S = 5/6 x 2/3 = 0.556), at 3 min
    // 2 at risk (S = 0.278): the median is 3 min. Ignoring the runs it would be 2 min; taking
    // them as longer than everything, 4 min.
    const s = survivalSpread([1, 2, 3, 4].map((m) => m * MIN), 1, [1.5 * MIN, 1.5 * MIN]);
    assert.equal(s?.typical, 3 * MIN);
  });

  it('weighs each sampled runtime as the many runs it stands for', () => {
    // Ten runs of 1 min standing for 100 each, against 500 runs going for 5 min: a thousand
    // finished, 500 going: a third is longer than 5 min, so the median is 1 min.
    const running = Array.from({ length: 500 }, () => 5 * MIN);
    assert.equal(survivalSpread(Array.from({ length: 10 }, () => MIN), 100, running)?.typical, MIN);
    // Standing for one each, the 10 are dwarfed: nothing can be told about the median.
    assert.equal(survivalSpread(Array.from({ length: 10 }, () => MIN), 1, running), undefined);
  });

  it('extends the curve as a log-normal once a fifth have finished, never below the last finish', () => {
    // 30 finished between 1 and 3 min (ten each of 1, 2, 3), 70 still going at 3.5 min: 30 %
    // done. p10 = 1 min, p30 = 3 min: the log-normal through them has its median near 5.4 min.
    const finished = [...Array(10).fill(MIN), ...Array(10).fill(2 * MIN), ...Array(10).fill(3 * MIN)];
    const s = survivalSpread(finished, 1, Array(70).fill(3.5 * MIN));
    assert.ok(s);
    assert.equal(s.low, MIN);
    const sigma = Math.log(3) / (normalQuantile(0.3) - normalQuantile(0.1));
    const median = Math.exp(Math.log(MIN) - normalQuantile(0.1) * sigma);
    assert.ok(Math.abs(s.typical - median) < 1, `${s.typical / MIN} against ${median / MIN}`);
    assert.ok(s.high > s.typical);
    // Under a fifth finished: no extension.
    assert.equal(survivalSpread(finished.slice(0, 15), 1, Array(85).fill(3.5 * MIN)), undefined);
  });

  it('keeps a run that has gone exactly as long as a finished one at risk at that time', () => {
    // Finished 1 and 2 min, one run going for exactly 1 min. Kaplan-Meier counts a run censored
    // at t as still at risk at t: at 1 min 3 at risk (S = 2/3), then the run leaves, at 2 min 1
    // at risk (S = 0): the median is 2 min. Dropping the run before 1 min would give 1 min.
    assert.deepEqual(survivalSpread([MIN, 2 * MIN], 1, [MIN]), { low: MIN, typical: 2 * MIN, high: 2 * MIN });
  });

  it('puts the p90 at least at the longest time seen, a run still going included', () => {
    // Finished 1..6 min, one run going for 30 min: the p10 and the median are read off (1 and
    // 4 min), the p90 is not, and six finished runs are too few to extend the curve: the p90 is
    // the longest time seen, the run still going.
    const finished = [1, 2, 3, 4, 5, 6].map((m) => m * MIN);
    assert.deepEqual(survivalSpread(finished, 1, [30 * MIN]), { low: MIN, typical: 4 * MIN, high: 30 * MIN });
  });

  it('extends the p90 as a log-normal when the median is known but the p90 is not', () => {
    // Finished 1..10 min, five runs going for 10.5 min: p10 = 2 min, median = 8 min, and by
    // 10 min two thirds are done. The log-normal through (2 min, 0.1) and (10 min, 2/3) puts the
    // p90 near 22 min, beyond the longest run seen (10.5 min).
    const finished = Array.from({ length: 10 }, (_, i) => (i + 1) * MIN);
    const s = survivalSpread(finished, 1, Array(5).fill(10.5 * MIN));
    assert.ok(s);
    assert.equal(s.low, 2 * MIN);
    assert.equal(s.typical, 8 * MIN);
    const sigma = Math.log(5) / (normalQuantile(2 / 3) - normalQuantile(0.1));
    const p90 = Math.exp(Math.log(2 * MIN) + (normalQuantile(0.9) - normalQuantile(0.1)) * sigma);
    assert.ok(Math.abs(s.high - p90) < 1, `${s.high / MIN} against ${p90 / MIN}`);
    assert.ok(s.high > 20 * MIN, `${s.high / MIN} min`);
  });

  it('has nothing to say when every finished run took the same time and most still go', () => {
    // Ten runs of 1 min, thirty going for 2 min: a quarter done, all at one time, so no curve
    // can be drawn through the p10 and the last finish, and the median is not 1 min.
    assert.equal(survivalSpread(Array(10).fill(MIN), 1, Array(30).fill(2 * MIN)), undefined);
  });

  it('has nothing to say without a finished run', () => {
    assert.equal(survivalSpread([], 1, [MIN]), undefined);
  });

  it('draws no curve through a p10 of 0 ms (runs that ended at once)', () => {
    // Ten finished, four of them at once, thirty going for 8 min: a quarter done, enough to
    // extend the curve, but no log-normal goes through 0.
    const finished = [0, 0, 0, 0, 1, 2, 3, 4, 5, 6].map((m) => m * MIN);
    assert.equal(survivalSpread(finished, 1, Array(30).fill(8 * MIN)), undefined);
  });

  it('puts an extended p90 at least at the longest run still going', () => {
    // Thirty finished between 1 and 3 min, seventy going, one of them for 100 min: the log-normal
    // through the p10 and the last finish has its p90 far below that.
    const finished = [...Array(10).fill(MIN), ...Array(10).fill(2 * MIN), ...Array(10).fill(3 * MIN)];
    const s = survivalSpread(finished, 1, [...Array(69).fill(3.5 * MIN), 100 * MIN]);
    assert.equal(s?.high, 100 * MIN);
  });
});

describe('DecayedSample', () => {
  it('keeps at most its size, the same values for the same input, and counts what it stands for', () => {
    const a = new DecayedSample(10);
    const b = new DecayedSample(10);
    for (let i = 0; i < 100; i++) {
      a.add(i, i * 1000);
      b.add(i, i * 1000);
    }
    assert.equal(a.count, 10);
    assert.equal(a.total, 100);
    assert.deepEqual(a.sortedValues(), b.sortedValues());
    // A hundred runs over 99 s barely decay.
    assert.ok(a.represents() > 97 && a.represents() <= 100, String(a.represents()));
    // Two hours later one more: the hundred count for e^-2 of what they did.
    a.add(5, 99_000 + 2 * 60 * MIN);
    assert.ok(Math.abs(a.represents() - (1 + 100 * Math.exp(-2))) < 1, String(a.represents()));
  });
});

describe('normalQuantile', () => {
  it('matches the standard normal table', () => {
    assert.equal(normalQuantile(0.5), 0);
    assert.ok(Math.abs(normalQuantile(0.975) - 1.959964) < 1e-6);
    assert.ok(Math.abs(normalQuantile(0.1) + 1.281552) < 1e-6);
    assert.ok(Math.abs(normalQuantile(0.01) + 2.326348) < 1e-6);
  });
});

describe('normalSurvival', () => {
  it('matches the standard normal table on both sides of the mean', () => {
    assert.ok(Math.abs(normalSurvival(0) - 0.5) < 1e-7, 'at the mean');
    assert.ok(Math.abs(normalSurvival(1.281552) - 0.1) < 1e-6, 'p90');
    assert.ok(Math.abs(normalSurvival(-1.959964) - 0.975) < 1e-6, 'p2.5');
    assert.ok(Math.abs(erfc(1) - 0.1572992) < 1e-6, 'erfc(1)');
  });

  it('erfc matches known values', () => {
    const close = (a: number, b: number, eps: number): void => assert.ok(Math.abs(a - b) < eps, `${a} is not ${b}`);
    close(erfc(0), 1, 1e-7);
    close(erfc(1), 0.157299207, 1e-7);
    close(erfc(-1), 1.842700793, 1e-7);
    close(erfc(3), 0.0000220905, 1e-8);
  });
});
