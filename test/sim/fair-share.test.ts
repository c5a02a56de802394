/**
 * Fair share in the simulator: on a small cluster kept full by one owner,
 * two light owners who arrive later wait less with fair share on, and the
 * report gives the figures by owner.
 */
import assert from 'node:assert/strict';
import { defaultSettings } from '../../src/config/settings.js';
import { runSimulation } from '../../src/sim/engine.js';
import { buildReport, type SimReport } from '../../src/sim/report.js';
import { parseWorkload } from '../../src/sim/workload.js';
import { simConfig } from './helpers.js';

const shape = { vcpus: 2, ram: '6GiB', runtime: '5m' };
const WORKLOAD = {
  name: 'fair-share-test',
  seed: 5,
  groups: [
    { owner: 'heavy', count: 150, arrival: { burst: { at: 0 } }, ...shape },
    { owner: 'light-a', count: 3, arrival: { burst: { at: '2m' } }, ...shape },
    { owner: 'light-b', count: 3, arrival: { burst: { at: '2m' } }, ...shape },
  ],
};

async function run(enable: boolean): Promise<SimReport> {
  const settings = { ...defaultSettings(), FairShare: { ...defaultSettings().FairShare, Enable: enable } };
  return buildReport(await runSimulation({ cluster: simConfig(), workload: parseWorkload(WORKLOAD), settings }));
}

describe('simulator: fair share', function () {
  this.timeout(120_000);

  it("cuts the light owners' waits behind a heavy owner's backlog, and reports figures by owner", async () => {
    const off = await run(false);
    const on = await run(true);
    for (const r of [off, on]) {
      assert.equal(r.finished, true);
      assert.deepEqual(Object.keys(r.byOwner!), ['heavy', 'light-a', 'light-b']);
      assert.equal(r.byOwner!.heavy.containers, 150);
      assert.equal(r.byOwner!['light-a'].queueWait.count, 3);
    }
    // 50 instances: off, the light owners wait behind all 150 heavy containers (three rounds); on, for the first free instances.
    for (const light of ['light-a', 'light-b']) {
      assert.ok(on.byOwner![light].queueWait.p95Ms * 2 < off.byOwner![light].queueWait.p95Ms, `${light}: on ${on.byOwner![light].queueWait.p95Ms} off ${off.byOwner![light].queueWait.p95Ms}`);
    }
    // The same work on the same instances: everything ends as late either way (the heavy owner's last round is the one the light owners' ran in).
    assert.ok(on.makespanMs <= off.makespanMs * 1.05, `makespan on ${on.makespanMs} off ${off.makespanMs}`);
    assert.ok((on.controllerRequests['GET /arvados/v1/container_requests'] ?? 0) > 0);
    assert.equal(off.controllerRequests['GET /arvados/v1/container_requests'] ?? 0, 0, 'off: no container request is read');
  });
});
