/**
 * Drain to save in the simulator, off and on, same seed: two large VMs
 * each keep one small container after the big job they were made for ends,
 * and a stream of small containers follows. Without drain the stream lands
 * on the VM whose own container ends soon (busier first, then by id), and
 * both VMs stay up; with drain that VM drains, empties and shuts down, and
 * the stream shares the other one, which stays up anyway.
 */
import assert from 'node:assert/strict';
import { defaultSettings } from '../../src/config/settings.js';
import { runSimulation } from '../../src/sim/engine.js';
import { buildReport, type SimReport } from '../../src/sim/report.js';
import { parseWorkload } from '../../src/sim/workload.js';
import { simConfig } from '../sim/helpers.js';

const stream = Array.from({ length: 12 }, (_, i) => ({ id: `s${i}`, at: `${6 + 3 * i}m`, vcpus: 1, ram: '1GiB', runtime: '10m' }));

const WORKLOAD = {
  name: 'drain-test',
  seed: 5,
  containers: [
    // big1 fills the first large VM with x1 (which ends early); big2 the second with x2 (which runs long).
    { id: 'big1', at: 0, vcpus: 15, ram: '40GiB', runtime: '3m' },
    { id: 'x1', at: '30s', vcpus: 1, ram: '1GiB', runtime: '15m' },
    { id: 'big2', at: '1m', vcpus: 15, ram: '40GiB', runtime: '3m' },
    { id: 'x2', at: '90s', vcpus: 1, ram: '1GiB', runtime: '70m' },
    ...stream,
  ],
};

async function run(drain: boolean): Promise<SimReport> {
  const settings = defaultSettings();
  settings.DrainToSave.Enable = drain;
  // Both large VMs are created in the first 2 minutes, the stream starts at 6: a quiet minute is enough.
  settings.DrainToSave.QuietPeriod = 60_000;
  // A small container may use a large VM (up to 10x its cheapest type's price): packing across sizes.
  const cluster = simConfig({}, '      MaximumPriceFactor: 10');
  return buildReport(await runSimulation({ cluster, workload: parseWorkload(WORKLOAD), settings }));
}

describe('drain to save in the simulator', function () {
  this.timeout(60_000);

  it('costs less with drain on: the VM whose work ends first empties, and no container waits for it', async () => {
    const off = await run(false);
    const on = await run(true);
    for (const r of [off, on]) assert.equal(r.containers.complete, WORKLOAD.containers.length);
    assert.equal(off.drain, undefined, 'no drain figures when it is off');
    assert.ok(on.drain && on.drain.emptied >= 1, JSON.stringify(on.drain));
    assert.equal(on.drain.waited, 0);
    assert.ok(on.cost.total < off.cost.total, `on ${on.cost.total} vs off ${off.cost.total}`);
    assert.ok(on.vms.vmHours < off.vms.vmHours);
    assert.ok(on.queueWait.maxMs <= off.queueWait.maxMs, 'no container waits longer');
  });
});
