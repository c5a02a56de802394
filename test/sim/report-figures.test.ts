/**
 * The simulator report's figures (src/sim/report.ts) from a hand-made run,
 * worked out by hand: cost and its parts, VMs, queue waits, containers by
 * fate, cancel reasons. The simulated runs of engine.test.ts check that the
 * parts add up; this checks each part on a case where a slip shows.
 */
import assert from 'node:assert/strict';
import type { VMLife } from '../../src/sim/cloud.js';
import { buildReport } from '../../src/sim/report.js';
import type { ContainerOutcome, SimResult } from '../../src/sim/result.js';
import { handMadeResult } from './helpers.js';

const MIN = 60_000;
const HOUR = 60 * MIN;

function result(vms: VMLife[], readyAt: Array<[string, number]>, containers: ContainerOutcome[], billingRules: SimResult['billingRules']): SimResult {
  return handMadeResult(vms, { endedAt: 10 * HOUR, containers, readyAt: new Map(readyAt), billingRules });
}

/**
 * v1 (small, $1/h) 0-4h, ready at 1h, runs a (1h-3h) and w/c0 inside it (1.5h-2h);
 * v2 (small) 4h-6h, never ready; v3 (large, $2/h) 6h-7h, ready after 5 min, idle;
 * v4 (large) 6h-8h, ready after 10 min, runs d from then until 9h (it outlived its VM);
 * v5 (hourly, $1/h, billed by the started hour) 8h-8h30, ready after 10 min, idle.
 * v2 never reported ready, though x ran on it (a VM adopted after a restart): all boot.
 */
const VMS: VMLife[] = [
  { id: 'v1', type: 'small', price: 1, createdAt: 0, destroyedAt: 4 * HOUR },
  { id: 'v2', type: 'small', price: 1, createdAt: 4 * HOUR, destroyedAt: 6 * HOUR },
  { id: 'v3', type: 'large', price: 2, createdAt: 6 * HOUR, destroyedAt: 7 * HOUR },
  { id: 'v4', type: 'large', price: 2, createdAt: 6 * HOUR, destroyedAt: 8 * HOUR },
  { id: 'v5', type: 'hourly', price: 1, createdAt: 8 * HOUR, destroyedAt: 8.5 * HOUR },
];
const READY: Array<[string, number]> = [
  ['v1', 1 * HOUR],
  ['v3', 6 * HOUR + 5 * MIN],
  ['v4', 6 * HOUR + 10 * MIN],
  ['v5', 8 * HOUR + 10 * MIN],
];
const CONTAINERS: ContainerOutcome[] = [
  { id: 'a', uuid: 'u-a', state: 'Complete', submittedAt: 30 * MIN, runningAt: HOUR, finalAt: 3 * HOUR, vm: 'v1', lowerBoundPrice: 0.5, idealMs: 1.5 * HOUR, exitCode: 0 },
  { id: 'w/c0', uuid: 'u-b', state: 'Complete', submittedAt: 75 * MIN, runningAt: 90 * MIN, finalAt: 2 * HOUR, vm: 'v1', lowerBoundPrice: 0.25, idealMs: 30 * MIN, exitCode: 1, stage: 'scatter' },
  { id: 'w/c1', uuid: 'u-c1', state: 'Complete', submittedAt: HOUR, runningAt: 65 * MIN, finalAt: 70 * MIN, idealMs: 0, exitCode: 0, stage: 'scatter' },
  { id: 'w/c2', uuid: 'u-c2', state: 'Complete', submittedAt: HOUR, runningAt: 85 * MIN, finalAt: 90 * MIN, idealMs: 0, exitCode: 0, stage: 'scatter' },
  { id: 'x', uuid: 'u-x', state: 'Complete', runningAt: 5 * HOUR, finalAt: 5.5 * HOUR, vm: 'v2', idealMs: 0, exitCode: 0 },
  { id: 'd', uuid: 'u-d', state: 'Cancelled', reason: 'aaa', submittedAt: 6 * HOUR, runningAt: 6 * HOUR + 10 * MIN, finalAt: 9 * HOUR, vm: 'v4', lowerBoundPrice: 1, idealMs: HOUR },
  { id: 'e', uuid: 'u-e', state: 'Cancelled', reason: 'zzz', submittedAt: 7 * HOUR, finalAt: 7.5 * HOUR, idealMs: 0 },
  { id: 'f', uuid: 'u-f', state: 'Cancelled', reason: 'zzz', submittedAt: 7 * HOUR, finalAt: 7.5 * HOUR, idealMs: 0 },
  { id: 'g', uuid: 'u-g', state: 'Locked', submittedAt: 8 * HOUR, idealMs: 0 },
  { id: 'w/c3', idealMs: 0 },
];

describe('simulator report figures', () => {
  const rep = buildReport(result(VMS, READY, CONTAINERS, new Map([['hourly', { incrementMs: HOUR, minimumMs: 0 }]])));

  it('splits the cost into the lower bound, boot, idle, packing and extra run time, each as worked out by hand', () => {
    // total: 4 + 2 + 2 + 4 + 1 (v5's 30 min billed as an hour). boot: v1 1h, v2 all its 2h, v3 5 min and v4 10 min at $2, v5 10 min.
    // idle: v1 4h - 1h boot - 2h busy (w/c0 runs inside a), v3 55 min at $2; v4 none (busy to its end); v5 20 min and the 30 min billed past its end.
    // packing: v1 2h busy at $1 against a at $0.5 for 2h and w/c0 at $0.25 for 30 min; v4 110 min at $2 against d at $1.
    // lower bound: a 1.5h at $0.5, w/c0 30 min at $0.25 (d was cancelled); extra run time: the rest of the cheapest run time.
    assert.deepEqual(rep.cost, {
      total: 13,
      lowerBound: 0.875,
      ratio: 14.8571,
      extra: { boot: 3.666667, idle: 3.666667, packing: 2.708333, extraRunTime: 2.083333 },
      byType: { hourly: { vms: 1, vmHours: 0.5, cost: 1 }, large: { vms: 2, vmHours: 3, cost: 6 }, small: { vms: 2, vmHours: 6, cost: 6 } },
    });
  });

  it('counts VMs: created, never ready, the peak at once (a create at the instant of a destroy does not add), VM-hours, median boot', () => {
    assert.deepEqual(rep.vms, { created: 5, neverReady: 1, peak: 2, vmHours: 9.5, bootMedianMs: 10 * MIN });
  });

  it("gives queue waits of every container that started, children's alone, and by stage", () => {
    assert.deepEqual(rep.queueWait, { count: 5, p50Ms: 15 * MIN, p95Ms: 30 * MIN, maxMs: 30 * MIN, meanMs: 17 * MIN });
    assert.deepEqual(rep.childrenQueueWait, { count: 3, p50Ms: 15 * MIN, p95Ms: 25 * MIN, maxMs: 25 * MIN, meanMs: 15 * MIN });
    assert.deepEqual(rep.childrenQueueWaitByStage, { scatter: { count: 3, p50Ms: 15 * MIN, p95Ms: 25 * MIN, maxMs: 25 * MIN, meanMs: 15 * MIN } });
  });

  it('gives the makespan from the first submission (30 min), not the start of the run, to the last container becoming final (9h)', () => {
    assert.equal(rep.makespanMs, 8.5 * HOUR);
    assert.equal(rep.simulatedMs, 10 * HOUR);
  });

  it('counts containers by fate, and lists cancel reasons most frequent first', () => {
    assert.deepEqual(rep.containers, { complete: 5, cancelled: 3, nonzeroExit: 1, neverSubmitted: 1, unfinished: { Locked: 1 } });
    assert.deepEqual(
      rep.cancelled.map((r) => [r.reason, r.count, r.examples.map((e) => e.id)]),
      [
        ['zzz', 2, ['e', 'f']],
        ['aaa', 1, ['d']],
      ],
    );
  });
});
