/**
 * Spot fallback in the simulator, off and on, same seed: spot capacity of
 * every type is out for the first hour, and ten preemptible containers
 * arrive in it. Off, they wait for the hour to end; on, they run on demand
 * five minutes after spot ran out, at a higher price, and the report says
 * how many fell back and what that cost.
 */
import assert from 'node:assert/strict';
import { defaultSettings } from '../../src/config/settings.js';
import { runSimulation } from '../../src/sim/engine.js';
import { buildReport, type SimReport } from '../../src/sim/report.js';
import { parseWorkload } from '../../src/sim/workload.js';
import { simConfig } from '../sim/helpers.js';

const WORKLOAD = {
  name: 'spot-fallback-test',
  seed: 9,
  containers: Array.from({ length: 10 }, (_, i) => ({ id: `p${i}`, at: `${2 + i}m`, vcpus: 2, ram: '4GiB', runtime: '20m', preemptible: true })),
};

const OUTAGES = ['small', 'medium', 'large', 'gpu'].map((t) => ({ ProviderType: t, From: '0s', Until: '1h' }));

async function run(fallback: boolean): Promise<SimReport & { firstWaitMs: number }> {
  const settings = defaultSettings();
  settings.SpotFallback.Enable = fallback;
  const cluster = simConfig({ SpotOutages: OUTAGES, Zones: ['a', 'b'] });
  const r = await runSimulation({ cluster, workload: parseWorkload(WORKLOAD), settings });
  const first = r.containers.find((c) => c.id === 'p0')!;
  return { ...buildReport(r), firstWaitMs: first.runningAt! - first.submittedAt! };
}

describe('spot fallback in the simulator', function () {
  this.timeout(60_000);

  it('with spot out for an hour, on runs the preemptible containers on demand after After: shorter waits, more cost, reported', async () => {
    const off = await run(false);
    const on = await run(true);
    for (const r of [off, on]) assert.equal(r.containers.complete, WORKLOAD.containers.length);
    assert.equal(off.fallback, undefined, 'no fallback figures when it is off');
    // Off: nobody runs before the hour is over (the first arrived at 2 min).
    assert.ok(off.spotOutageArrivals!.p50Ms > 50 * 60_000, JSON.stringify(off.spotOutageArrivals));
    assert.deepEqual(Object.keys(off.cost.byType), ['small.preemptible']);
    // On: every one fell back, within After (5 min) plus a boot (90 s at most) plus the passes' slack.
    assert.equal(on.fallback!.containers, WORKLOAD.containers.length);
    // Not before After: the first to arrive found spot out and waited the whole delay.
    assert.ok(on.firstWaitMs >= 5 * 60_000, String(on.firstWaitMs));
    assert.ok(on.spotOutageArrivals!.maxMs <= 5 * 60_000 + 90_000 + 60_000, JSON.stringify(on.spotOutageArrivals));
    assert.deepEqual(Object.keys(on.cost.byType), ['small']);
    // On demand costs 1/0.4 of spot: the extra is 60% of what the containers cost.
    assert.ok(on.fallback!.extraCostDollars > 0);
    assert.ok(on.cost.total > off.cost.total);
  });
});
