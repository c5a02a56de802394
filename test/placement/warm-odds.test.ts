/**
 * The odds that warm VMs free in time, on literals: a run's end given how
 * long it has run, a VM's room from its runs, and the m-th of several VMs.
 */
import assert from 'node:assert/strict';
import { atLeastOdds, pooledFreeInMs, runEndOdds, vmFreeOdds, WarmWaiters, type BusyVm } from '../../src/placement/warm-odds.js';

const plus = (a: number, b: number) => a + b;
const fits = (room: number, need: number) => room >= need;
const close = (a: number, b: number, eps = 1e-3) => assert.ok(Math.abs(a - b) < eps, `${a} is not ${b}`);
/** A run that ends within t with these odds whatever t (>0). */
const flat = (p: number) => () => p;

describe('warm odds', () => {
  it('a run ends by its median with even odds, by its p90 with 0.9, and later runs are conditioned on having lasted', () => {
    const spread = { low: 60_000, typical: 300_000, high: 1_500_000 };
    close(runEndOdds(spread, 0)(300_000), 0.5);
    close(runEndOdds(spread, 0)(1_500_000), 0.9);
    close(runEndOdds(spread, 0)(60_000), 0.1);
    // Having run to its median, the odds of ending by its p90 are (0.9 - 0.5) / 0.5.
    close(runEndOdds(spread, 300_000)(1_200_000), 0.8);
    assert.equal(runEndOdds(spread, 0)(0), 0);
    assert.equal(runEndOdds(spread, 1e15)(60_000), 0, 'far past every estimate: nothing known');
  });

  it("a VM has room at once, when any run that alone makes room ends, or when enough runs end", () => {
    const vm = (free: number, runs: Array<[number, number]>): BusyVm<number> => ({ free, runs: runs.map(([p, charge]) => ({ odds: flat(p), charge })) });
    assert.equal(vmFreeOdds(vm(2, [[0.1, 1]]), 1, plus, fits, 2), 1);
    close(vmFreeOdds(vm(0, [[0.5, 2], [0.5, 2], [0.9, 1]]), 1, plus, fits, 2), 0.75, 1e-12);
    // Needs 3: the likeliest runs until they make room, all of them ending.
    close(vmFreeOdds(vm(0, [[0.5, 2], [0.8, 1], [0.1, 1]]), 1, plus, fits, 3), 0.4, 1e-12);
    assert.equal(vmFreeOdds(vm(0, [[1, 1]]), 1, plus, fits, 2), 0, 'not even empty');
  });

  it('at least m of several: the first for one container, the second for the next', () => {
    close(atLeastOdds([0.5, 0.5, 0.5], 1), 0.875, 1e-12);
    close(atLeastOdds([0.5, 0.5, 0.5], 2), 0.5, 1e-12);
    close(atLeastOdds([0.5, 0.5, 0.5], 3), 0.125, 1e-12);
    assert.equal(atLeastOdds([0.5], 2), 0);
    assert.equal(atLeastOdds([], 0), 1);
  });

  it('pools VMs that each would not do: four VMs each with even odds by 60 s free the first by then at 0.94', () => {
    // Each VM frees uniformly over 0..120 s.
    const odds = (_i: number, t: number) => Math.min(1, t / 120_000);
    // To the step above: one VM at 108 s, four (1 - (1 - t/120)^4 = 0.9) at 52.5 s.
    const one = pooledFreeInMs(1, 1, odds, 0.9, 300_000);
    assert.ok(one >= 108_000 && one <= 109_000, `${one}`);
    const four = pooledFreeInMs(4, 1, odds, 0.9, 300_000);
    assert.ok(four >= 52_500 && four <= 53_500, `${four}`);
    assert.ok(pooledFreeInMs(4, 2, odds, 0.9, 300_000) > four, 'the second to free comes later');
    assert.equal(pooledFreeInMs(1, 1, odds, 0.9, 100_000), Infinity, 'not within the horizon');
    assert.equal(pooledFreeInMs(2, 1, () => 1, 0.9, 100_000), 0);
    assert.equal(pooledFreeInMs(0, 1, odds, 0.9, 100_000), Infinity);
  });

  it('containers waiting for a VM that boots stop counting ahead once it is expected ready; held ones count throughout', () => {
    const w = new WarmWaiters(3);
    w.add(Infinity);
    w.add(40_000);
    w.add(10_000);
    assert.deepEqual([w.at(0), w.at(10_000), w.at(39_999), w.at(40_000), w.at(1e12)], [3, 2, 2, 1, 1]);
    for (const t of [50_000, 60_000, 70_000]) w.add(t);
    assert.equal(w.at(0), 4, 'only the latest 3 of the booting kind are kept: enough to say no VM pool holds more');
    // Two VMs that free at 30 s (odds 1 from then): a container behind one that waits for a VM
    // ready at 20 s needs only the first of them; behind one held, the second.
    const odds = (_i: number, t: number) => (t >= 30_000 ? 1 : 0);
    const booting = new WarmWaiters(3);
    booting.add(20_000);
    assert.equal(pooledFreeInMs(1, (t) => 1 + booting.at(t), odds, 0.9, 60_000), 30_000);
    const held = new WarmWaiters(3);
    held.add(Infinity);
    assert.equal(pooledFreeInMs(1, (t) => 1 + held.at(t), odds, 0.9, 60_000), Infinity);
  });

  it('past its bound, keeps the containers whose VMs are expected ready latest: they count ahead longest', () => {
    const w = new WarmWaiters(3);
    for (const t of [10_000, 40_000, 50_000, 60_000, 70_000]) w.add(t);
    assert.deepEqual([w.at(0), w.at(45_000), w.at(55_000), w.at(65_000), w.at(70_000)], [3, 3, 2, 1, 0]);
  });
});
