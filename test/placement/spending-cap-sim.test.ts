/**
 * The spending cap in the simulator, off and on, same seed: 20 low-priority
 * containers at once (one $0.10/h VM each), then 5 high-priority ones. Off,
 * the burn goes to $2.00/h and more; on, with a hard level of $0.50/h, it
 * never goes over it at any minute (nor at any instant), everything still
 * runs, and the high-priority containers wait less than the low-priority ones.
 */
import assert from 'node:assert/strict';
import { defaultSettings } from '../../src/config/settings.js';
import { runSimulation } from '../../src/sim/engine.js';
import { buildReport, type SimReport } from '../../src/sim/report.js';
import { parseWorkload } from '../../src/sim/workload.js';
import { simConfig } from '../sim/helpers.js';

const WORKLOAD = {
  name: 'spending-cap-test',
  seed: 9,
  containers: [
    ...Array.from({ length: 20 }, (_, i) => ({ id: `low${i}`, at: 0, vcpus: 2, ram: '4GiB', runtime: '20m', priority: 1 })),
    ...Array.from({ length: 5 }, (_, i) => ({ id: `high${i}`, at: '1m', vcpus: 2, ram: '4GiB', runtime: '10m', priority: 1000 })),
  ],
};

async function run(enable: boolean): Promise<SimReport> {
  const settings = defaultSettings();
  settings.SpendingCap = { ...settings.SpendingCap, Enable: enable, Hard: 0.5 };
  return buildReport(await runSimulation({ cluster: simConfig(), workload: parseWorkload(WORKLOAD), settings }));
}

describe('spending cap in the simulator', function () {
  this.timeout(120_000);

  it('on: the bill never goes over the hard level, all work still runs, and high priority waits least', async () => {
    const off = await run(false);
    const on = await run(true);
    for (const r of [off, on]) assert.equal(r.containers.complete, WORKLOAD.containers.length);
    const o = off.spendCap!;
    const c = on.spendCap!;
    assert.equal(o.enabled, false);
    assert.ok(o.maxBurn >= 2, `off: the natural burn ${o.maxBurn} is over the cap`);
    assert.ok(o.minutesOver > 0);
    assert.equal(c.enabled, true);
    assert.ok(c.maxBurn <= 0.5 + 1e-9, `on: max burn ${c.maxBurn}`);
    assert.equal(c.minutesOver, 0);
    assert.ok(c.minutes > 20, 'sampled every minute of the run');
    assert.ok(on.cost.total <= off.cost.total + 1e-9, `on ${on.cost.total} vs off ${off.cost.total}`);
    const band = (r: SimReport, label: string) => r.spendCap!.waitsByPriority.find((b) => b.priority === label)!;
    assert.deepEqual(
      c.waitsByPriority.map((b) => b.priority),
      ['1000-9999', '1-9'],
    );
    assert.ok(band(on, '1000-9999').p95Ms < band(on, '1-9').p95Ms, JSON.stringify(c.waitsByPriority));
  });
});
