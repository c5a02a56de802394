/**
 * The features that read container requests (fair share, the spending
 * cap's per-owner levels, pre-warming, reclaim escalation) share one
 * lookup in the running dispatcher: with all four on, the simulated
 * controller answers no more container-request list calls than with fair
 * share alone.
 */
import assert from 'node:assert/strict';
import { defaultSettings } from '../../src/config/settings.js';
import { runSimulation } from '../../src/sim/engine.js';
import { buildReport } from '../../src/sim/report.js';
import { parseWorkload } from '../../src/sim/workload.js';
import { simConfig } from './helpers.js';

const ROUTE = 'GET /arvados/v1/container_requests';

const WORKLOAD = {
  name: 'request-lookups',
  seed: 9,
  groups: [
    {
      count: 6,
      arrival: { uniform: { from: '0s', until: '20m' } },
      vcpus: 1,
      ram: '1GiB',
      runtime: '1m',
      owner: 'zzzzz-tpzed-000000000000001',
      supervisor: { children: [{ count: 20, arrival: { burst: { at: '30s' } }, vcpus: 1, ram: '1GiB', runtime: '3m', preemptible: true }] },
    },
    { arrival: { poisson: { perHour: 300, from: '0s', until: '30m' } }, vcpus: 2, ram: '2GiB', runtime: '5m', preemptible: true, owner: 'zzzzz-tpzed-000000000000002' },
  ],
};

describe('simulator: one container-request lookup for every feature', function () {
  this.timeout(60_000);

  it('all four features on ask no more than fair share alone', async () => {
    const cluster = simConfig();
    const workload = parseWorkload(WORKLOAD);
    const fair = defaultSettings();
    fair.FairShare.Enable = true;
    const all = defaultSettings();
    all.FairShare.Enable = true;
    all.PreWarm.Enable = true;
    all.Reclaims.OnDemandAfter = 1;
    all.SpendingCap.Enable = true;
    all.SpendingCap.PerOwnerHard = 1_000;
    const [one, four] = await Promise.all([runSimulation({ cluster, workload, settings: fair }), runSimulation({ cluster, workload, settings: all })]);
    const [a, b] = [buildReport(one), buildReport(four)];
    assert.equal(a.containers.complete, workload.containers.length + 6 * 20, 'every container and child ran');
    assert.equal(b.containers.complete, a.containers.complete);
    const calls = [a.controllerRequests[ROUTE], b.controllerRequests[ROUTE]];
    assert.ok(calls[0] > 0, 'fair share looked owners up');
    assert.ok(calls[1] <= calls[0] * 1.1 + 2, `container-request calls: fair share alone ${calls[0]}, all four ${calls[1]}`);
  });
});
