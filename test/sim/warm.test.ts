/**
 * Warm pools and pre-warming in the simulator, same seed off and on: each
 * must shorten the waits it is for, and say what it created.
 */
import assert from 'node:assert/strict';
import { defaultSettings, type Settings } from '../../src/config/settings.js';
import { runSimulation } from '../../src/sim/engine.js';
import { buildReport, type SimReport } from '../../src/sim/report.js';
import { parseWorkload } from '../../src/sim/workload.js';
import { simConfig } from './helpers.js';

async function simulate(json: unknown, s: Partial<Settings> = {}): Promise<SimReport> {
  return buildReport(await runSimulation({ cluster: simConfig(), workload: parseWorkload(json), settings: { ...defaultSettings(), ...s } }));
}

describe('simulator: warm pools and pre-warming', function () {
  this.timeout(60_000);

  it('a warm pool starts a trickle of small containers without a boot, for the price of the idle VM', async () => {
    const trickle = { name: 'trickle', seed: 3, containers: Array.from({ length: 8 }, (_, i) => ({ at: `${i * 10}m`, vcpus: 1, ram: '2GiB', runtime: '4m' })) };
    const off = await simulate(trickle);
    const on = await simulate(trickle, { WarmPools: { Pools: [{ InstanceType: 'small', Min: 1, Schedule: { Days: ['Thu'], From: '00:00', Until: '02:00', TimeZone: 'UTC' } }], BusyFraction: 0 } });
    assert.equal(on.finished, true, 'the warm VM goes once the window closes');
    assert.ok(off.queueWait.p50Ms >= 30_000, `off: a boot each (${off.queueWait.p50Ms} ms)`);
    assert.ok(on.queueWait.p50Ms < off.queueWait.p50Ms / 2, `on: ${on.queueWait.p50Ms} ms`);
    assert.ok((on.capacity?.created.warm_pool ?? 0) > 0);
    assert.ok(on.cost.total > off.cost.total, 'the idle VM is paid for');
    assert.equal(off.capacity, undefined, 'nothing to say when off');
  });

  it('pre-warming learns runners\' children and has their VMs booting before they come', async () => {
    const runner = (i: number): unknown => ({
      at: `${i * 30}m`,
      vcpus: 1,
      ram: '1GiB',
      runtime: '1m',
      supervisor: true,
      children: Array.from({ length: 3 }, () => ({ at: '3m', vcpus: 2, ram: '6GiB', runtime: '5m' })),
    });
    const flows = { name: 'flows', seed: 5, containers: Array.from({ length: 6 }, (_, i) => runner(i)) };
    const off = await simulate(flows);
    const on = await simulate(flows, { PreWarm: { Enable: true, MaxSpeculativeSpend: 5, Lead: 30_000, MinConfidence: 0.5 } });
    assert.equal(on.childrenQueueWait.count, 18);
    assert.ok(on.childrenQueueWait.p50Ms < off.childrenQueueWait.p50Ms / 2, `children's median wait ${off.childrenQueueWait.p50Ms} -> ${on.childrenQueueWait.p50Ms} ms`);
    const cap = on.capacity!;
    assert.ok(cap.created.prewarm > 0 && cap.prewarmUsed > 0, JSON.stringify(cap));
  });
});
