/**
 * Spot reclaims in the simulator: the controller's retry of a cancelled
 * container (workload containerCountMax), the report's reclaims section,
 * and the Reclaims rules off and on with the same seed: reclaim-aware
 * choice and escalation lose less work.
 */
import assert from 'node:assert/strict';
import { defaultSettings, type Settings } from '../../src/config/settings.js';
import { runSimulation } from '../../src/sim/engine.js';
import { buildReport, type SimReport } from '../../src/sim/report.js';
import { parseWorkload } from '../../src/sim/workload.js';
import type { TestController } from '../../src/testcontroller/index.js';
import { simConfig } from './helpers.js';

/** Spot VMs of type small are reclaimed often; medium ones never (and cost twice as much). */
const cluster = () => simConfig({ Zones: ['a', 'b'], ReclaimRates: { small: 0.9 } }, '      MaximumPriceFactor: 2.5');

function workload(containerCountMax?: number) {
  return parseWorkload({
    name: 'reclaim-test',
    seed: 3,
    ...(containerCountMax === undefined ? {} : { containerCountMax }),
    containers: Array.from({ length: 24 }, (_, i) => ({ id: `p${i}`, at: `${5 * i}m`, vcpus: 1, ram: '2GiB', runtime: '50m', preemptible: true })),
  });
}

async function run(over: Partial<Settings['Reclaims']>, containerCountMax?: number): Promise<SimReport> {
  const settings = defaultSettings();
  settings.Reclaims = { ...settings.Reclaims, ...over };
  return buildReport(await runSimulation({ cluster: cluster(), workload: workload(containerCountMax), settings }));
}

describe('spot reclaims in the simulator', function () {
  this.timeout(120_000);

  it('without containerCountMax a reclaimed container is cancelled for good; with it the controller retries it as a new container', async () => {
    const once = await run({});
    let controller: TestController | undefined;
    const res = await runSimulation({ cluster: cluster(), workload: workload(3), settings: defaultSettings(), setup: (env) => (controller = env.controller) });
    const retried = buildReport(res);
    // A VM the provider took back is paid for no longer: none is left live, and the run finishes.
    assert.equal(res.ledger.liveCount, 0);
    assert.equal(res.finished, true);
    // A retried request's wait runs to its first start, not to the start of the container that finally ran it.
    const again = res.containers.filter((c) => (c.attempts ?? 1) > 1);
    let ranAgain = 0;
    for (const c of again) {
      const lastStart = controller!.history(c.uuid!).find((h) => h.state === 'Running')?.at;
      if (lastStart === undefined) continue;
      ranAgain++;
      assert.ok(c.runningAt! < lastStart, `${c.id}: running at ${c.runningAt}, its last container at ${lastStart}`);
    }
    assert.ok(ranAgain > 0, `${again.length} retried, none ran again`);
    assert.ok(once.reclaims && once.reclaims.containers > 0, JSON.stringify(once.reclaims));
    assert.equal(once.containers.cancelled, once.reclaims.containers, 'each lost container stays cancelled');
    assert.ok(retried.reclaims && retried.reclaims.containers > 0);
    assert.ok(retried.containers.cancelled < retried.reclaims.containers, `retried: ${retried.containers.cancelled} cancelled of ${retried.reclaims.containers} lost`);
    assert.equal(retried.containers.complete + retried.containers.cancelled, 24);
  });

  it('reclaim-aware choice and escalation lose less work than today on the same seed', async () => {
    const off = await run({}, 3);
    const on = await run({ AvoidReclaimedTypes: true, OnDemandAfter: 1 }, 3);
    assert.ok(off.reclaims && on.reclaims);
    assert.deepEqual([off.reclaims.escalations, off.reclaims.longRuntimeOnDemand], [0, 0]);
    assert.ok(on.reclaims.containerHoursLost < off.reclaims.containerHoursLost / 2, `lost on ${on.reclaims.containerHoursLost} h, off ${off.reclaims.containerHoursLost} h`);
    assert.ok(on.containers.complete >= off.containers.complete);
  });
});
