/**
 * The concurrency limit on its own: start value, quota clamp, supervisor cap.
 */
import assert from 'node:assert/strict';
import { ConcurrencyLimit } from '../../src/scheduler/limits.js';
import { testCluster } from './fakes.js';

const T0 = Date.UTC(2026, 0, 1);

function limit(cfg: { InitialQuotaEstimate?: number; MaxInstances?: number; SupervisorFraction?: number } = {}): ConcurrencyLimit {
  return new ConcurrencyLimit({ InitialQuotaEstimate: 0, MaxInstances: 64, SupervisorFraction: 0.5, ...cfg });
}

describe('scheduler ConcurrencyLimit', () => {
  it('starts at InitialQuotaEstimate, or MaxInstances when that is 0', () => {
    assert.equal(limit({ InitialQuotaEstimate: 5 }).maxContainers, 5);
    assert.equal(limit().maxContainers, 64);
    assert.equal(limit({ MaxInstances: 0 }).maxContainers, 0, 'no limit');
  });

  it('InitialQuotaEstimate seeds the limit, not the known-good level', () => {
    const l = limit({ InitialQuotaEstimate: 5 });
    assert.equal(l.withinQuota, 0, 'no quota error seen yet');
    // No 503, no quota error: the limit regrows with the workload, ~10% past it.
    l.observe({ now: T0, last503: 0, running: 20, totalInstances: 20, atQuota: false });
    assert.equal(l.maxContainers, 23, 'floor(20 x 1.1) + 1, not held to the estimate + 1');
    l.observe({ now: T0, last503: 0, running: 23, totalInstances: 23, atQuota: true });
    assert.equal(l.withinQuota, 23, 'the first quota error sets the known-good level');
    assert.equal(l.maxContainers, 23);
  });

  it('clamps to the workload at quota, and regrows no further than one past the known-good level', () => {
    const l = limit();
    l.observe({ now: T0, last503: 0, running: 3, totalInstances: 4, atQuota: true });
    assert.equal(l.maxContainers, 4);
    l.observe({ now: T0, last503: 0, running: 8, totalInstances: 4, atQuota: false });
    assert.equal(l.maxContainers, 9, 'regrowth to floor(8 x 1.1) + 1 = 9 is within known-good 8, plus one');
    l.observe({ now: T0, last503: 0, running: 3, totalInstances: 3, atQuota: true });
    assert.equal(l.maxContainers, 3);
    l.observe({ now: T0, last503: 0, running: 30, totalInstances: 3, atQuota: false });
    assert.equal(l.maxContainers, 31, 'regrowth to 34 held to known-good 30, plus one');
  });

  it('a quota hit at a lower workload than the last one lowers the known-good level: regrowth creeps from there', () => {
    const l = limit({ MaxInstances: 0 });
    l.observe({ now: T0, last503: 0, running: 100, totalInstances: 100, atQuota: true });
    assert.equal(l.maxContainers, 100);
    l.observe({ now: T0, last503: 0, running: 60, totalInstances: 60, atQuota: true });
    assert.equal(l.maxContainers, 60, 'the cloud now takes 60');
    l.observe({ now: T0, last503: 0, running: 60, totalInstances: 60, atQuota: false });
    assert.equal(l.maxContainers, 61, 'regrowth to floor(60 x 1.1) + 1 = 67 is held to 60, plus one: 100 no longer fits');
  });

  it('counts packed containers in the workload, so a quota hit does not freeze a packed cluster', () => {
    const l = limit();
    l.observe({ now: T0, last503: 0, running: 20, totalInstances: 5, atQuota: true });
    assert.equal(l.maxContainers, 20, 'the reference would say 5, and start nothing until under 6 run');
    l.observe({ now: T0, last503: 0, running: 20, totalInstances: 5, atQuota: false });
    assert.equal(l.maxContainers, 21);
  });

  it('is 1 at quota with no instance at all', () => {
    const l = limit();
    l.observe({ now: T0, last503: 0, running: 0, totalInstances: 0, atQuota: true });
    assert.equal(l.maxContainers, 1);
  });

  it('takes a negative MaxInstances as 0 (no limit), so overload cuts and the quota clamp apply to it as to 0', () => {
    const l = new ConcurrencyLimit(testCluster({ cloudVMs: { MaxInstances: -1 } }).Containers.CloudVMs);
    assert.equal(l.maxContainers, 0);
    l.observe({ now: T0, last503: 0, running: 3, totalInstances: 4, atQuota: true });
    assert.equal(l.maxContainers, 4, 'clamped at quota');
    const cut = new ConcurrencyLimit(testCluster({ cloudVMs: { MaxInstances: -1 } }).Containers.CloudVMs);
    cut.observe({ now: T0, last503: T0 - 1, running: 8, totalInstances: 8, atQuota: false });
    assert.equal(cut.maxContainers, 6, 'cut to floor(8 x 0.75) by a 503');
  });

  it('sets no supervisor cap when SupervisorFraction is negative', () => {
    const l = new ConcurrencyLimit(testCluster({ cloudVMs: { SupervisorFraction: -0.5, MaxInstances: 64 } }).Containers.CloudVMs);
    assert.equal(l.maxSupervisors(), 0);
  });

  it('caps supervisors at floor(limit x SupervisorFraction), at least 1', () => {
    assert.equal(limit({ MaxInstances: 10, SupervisorFraction: 0.2 }).maxSupervisors(), 2);
    assert.equal(limit({ MaxInstances: 3, SupervisorFraction: 0.2 }).maxSupervisors(), 1);
    assert.equal(limit({ MaxInstances: 10, SupervisorFraction: 0.25 }).maxSupervisors(), 2, 'rounded down, as the reference: 2.5 supervisors is 2');
    assert.equal(limit({ MaxInstances: 3, SupervisorFraction: 0 }).maxSupervisors(), 0, 'no cap');
    assert.equal(limit({ MaxInstances: 0 }).maxSupervisors(), 0, 'no limit, no cap');
  });
});
