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
  it('prints each optional section only when the report has it, with its figures', () => {
    const bare = formatSummary(emptyReport());
    for (const part of ['unfinished', "Workflow children's", 'Spending cap', 'Created ahead', 'Image pulls', 'Idle stretch', 'Drain to save', 'Reclaims:', 'Spot fallback', 'while spot was out', 'Note:', 'NOT FINISHED']) {
      assert.ok(!bare.includes(part), `a bare report prints no "${part}"`);
    }
    // Nothing spent: the parts' shares are '-', not NaN.
    assert.match(bare, /Extra: boot \$0\.00 \(-\), idle \$0\.00 \(-\), packing \$0\.00 \(-\)/);
    const rep = emptyReport();
    rep.containers = { ...rep.containers, unfinished: { Running: 2, Queued: 1 } };
    rep.childrenQueueWait = { count: 3, p50Ms: 1_000, p95Ms: 2_000, maxMs: 3_000, meanMs: 2_000 };
    rep.spendCap = { enabled: false, cap: 10, soft: 8, maxBurn: 12, maxBurnAtMs: 0, minutes: 60, minutesOver: 5, minutesOverSoft: 9, meanBurn: 6.5, waitsByPriority: [] };
    rep.capacity = { created: { warm_pool: 2, prewarm: 3 }, prewarmUsed: 1, prewarmWasted: 2, prewarmWastedCost: 0.5 };
    rep.warmUp = { imagePulls: 4, imagePullMs: 120_000, coldInputs: 2, coldInputMs: 30_000 };
    rep.idleStretch = { kept: 3, reused: 1 };
    rep.drain = { emptied: 2, tookDraining: 1, waited: 4 };
    rep.reclaims = { vms: 1, containers: 2, containerHoursLost: 0.5, escalations: 1, longRuntimeOnDemand: 0 };
    rep.fallback = { containers: 3, extraCostDollars: 1.25 };
    rep.spotOutageArrivals = { count: 2, p50Ms: 60_000, p95Ms: 120_000, maxMs: 120_000, meanMs: 90_000 };
    rep.cloudCalls = { create: { calls: 5, errors: { QuotaError: 2, CapacityError: 1 } }, list: { calls: 3, errors: {} } };
    rep.host = { ...rep.host, cpuUserMs: 1_000, cpuSystemMs: 500 };
    rep.finished = false;
    rep.notes = ['first note', 'second note'];
    const lines = formatSummary(rep).split('\n');
    const has = (line: string) => assert.ok(lines.includes(line), `missing: ${line}\n${lines.join('\n')}`);
    assert.match(lines[0], /\(CPU 1\.5 s, /);
    has('NOT FINISHED: the simulated-time limit came first.');
    has('Containers: 0 complete (0 with a nonzero exit), 0 cancelled, 0 never submitted, unfinished: 2 Running, 1 Queued.');
    has("Workflow children's queue wait (3): p50 1s, p95 2s, max 3s.");
    has('Spending cap off (hard $10.00/h, soft $8.00/h): burn max $12.00/h, mean $6.50/h; 5 of 60 minutes over the hard level, 9 over the soft one.');
    has('Created ahead of work: 2 by warm pools, 3 pre-warmed (1 used, 2 wasted, costing $0.50).');
    has('Cloud API calls: create 5 (2 QuotaError, 1 CapacityError), list 3.');
    has('Image pulls: 4 taking 2m00s in all; cold input reads: 2 taking 30s.');
    has('Idle stretch: 3 idle VMs kept to the end of their paid period, 1 of them got a container meanwhile.');
    has('Drain to save: 2 VMs emptied; 1 containers started on a draining VM (nothing else ready); 4 waited for a new VM because of drain.');
    has('Reclaims: 1 VMs taken back with 2 containers on them, 0.5 container-hours lost; 1 containers sent on demand after reclaims, 0 for their expected runtime.');
    has('Spot fallback: 3 containers ran on demand, costing $1.25 more than at their spot types\' prices.');
    has('Preemptible containers submitted while spot was out: 2, queue wait p50 1m00s, p95 2m00s, max 2m00s.');
    has('Note: first note');
    has('Note: second note');
    rep.spendCap = { ...rep.spendCap, enabled: true };
    assert.match(formatSummary(rep), /^Spending cap on \(hard/m);
  });
});
