/**
 * Billing granularity in the simulator, same seed: the report bills VMs by
 * their type's rule, and stretching TimeoutIdle to the end of a paid hour
 * reuses VMs across bursts, for less money and shorter waits.
 */
import assert from 'node:assert/strict';
import { defaultSettings, type Settings } from '../../src/config/settings.js';
import { runSimulation } from '../../src/sim/engine.js';
import { buildReport, type SimReport } from '../../src/sim/report.js';
import { parseWorkload } from '../../src/sim/workload.js';
import { simConfig } from './helpers.js';

const H = 3_600_000;

async function simulate(json: unknown, billing: Partial<Settings['Billing']> = {}, driverParameters: Record<string, unknown> = {}): Promise<SimReport> {
  const settings = defaultSettings();
  return buildReport(
    await runSimulation({ cluster: simConfig(driverParameters), workload: parseWorkload(json), settings: { ...settings, Billing: { ...settings.Billing, ...billing } } }),
  );
}

/** Bursts of three small containers, 30 minutes apart: each burst's VMs are idle with half their hour paid when the next comes. */
const BURSTS = {
  name: 'bursts',
  seed: 7,
  containers: Array.from({ length: 12 }, (_, i) => ({ at: `${Math.floor(i / 3) * 30}m`, vcpus: 2, ram: '4GiB', runtime: '5m' })),
};

describe('simulator: billing granularity', function () {
  this.timeout(60_000);

  it('bills by the rule: per hour, each VM is charged whole hours (the lame cloud declares it through DriverParameters too)', async () => {
    const exact = await simulate(BURSTS);
    const hourly = await simulate(BURSTS, { InstanceTypes: { '*': { incrementMs: H, minimumMs: H } } });
    const byDriver = await simulate(BURSTS, {}, { BillingIncrement: '1h', BillingMinimum: '1h' });
    assert.equal(hourly.vms.created, exact.vms.created, 'the same run: billing alone changes no decision');
    assert.equal(hourly.cost.total, Math.round(hourly.vms.created * 0.1 * 1e6) / 1e6, 'every VM lived under an hour: one hour each at $0.10');
    assert.ok(exact.cost.total < hourly.cost.total / 3, `exact ${exact.cost.total}`);
    assert.equal(byDriver.cost.total, hourly.cost.total);
    assert.equal(hourly.idleStretch, undefined, 'nothing to say when StretchIdle is off');
  });

  it('StretchIdle on, per hour: VMs kept to the end of their paid hour take the next burst: fewer VMs, less money, no boot wait', async () => {
    const hourly = { InstanceTypes: { '*': { incrementMs: H, minimumMs: H } } };
    const off = await simulate(BURSTS, hourly);
    const on = await simulate(BURSTS, { ...hourly, StretchIdle: true, MaxStretch: H });
    assert.equal(on.finished, true);
    assert.ok(on.vms.created < off.vms.created, `VMs created ${off.vms.created} -> ${on.vms.created}`);
    assert.ok(on.cost.total < off.cost.total, `cost ${off.cost.total} -> ${on.cost.total}`);
    assert.ok(on.queueWait.p50Ms < off.queueWait.p50Ms, `wait p50 ${off.queueWait.p50Ms} -> ${on.queueWait.p50Ms}`);
    assert.ok(on.idleStretch!.kept > 0 && on.idleStretch!.reused > 0, JSON.stringify(on.idleStretch));
  });

  it('StretchIdle on, billed per second: nothing is kept, the run is the same', async () => {
    const ec2 = { InstanceTypes: { '*': { incrementMs: 1000, minimumMs: 60_000 } } };
    const off = await simulate(BURSTS, ec2);
    const on = await simulate(BURSTS, { ...ec2, StretchIdle: true, MaxStretch: H });
    assert.deepEqual(on.idleStretch, { kept: 0, reused: 0 });
    assert.deepEqual({ ...on.cost, w: on.queueWait, v: on.vms }, { ...off.cost, w: off.queueWait, v: off.vms });
  });
});
