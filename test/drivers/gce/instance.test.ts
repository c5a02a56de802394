/** GceInstance and `preempted`, and the billing rule the instance set declares, from object-literal records (no Compute endpoint). */
import assert from 'node:assert/strict';
import type { GceClients } from '../../../drivers/gce/client.js';
import { GceInstanceSet } from '../../../drivers/gce/driver.js';
import { preempted } from '../../../drivers/gce/instance.js';
import { parseGceParams } from '../../../drivers/gce/params.js';
import { wrapInstanceSet } from '../../../src/cloud/wrap.js';
import { systemClock } from '../../../src/clock/index.js';
import { billedMs } from '../../../src/cost/billing.js';
import { silentLogger } from '../../../src/log.js';
import { gceCluster, N2 } from './helpers.js';

describe('gce instance records', () => {
  it('a Spot VM, or a legacy preemptible one, that is stopping, stopped or being torn down is preempted; a standard VM never is', () => {
    for (const status of ['STOPPING', 'TERMINATED', 'DEPROVISIONING']) {
      assert.equal(preempted({ status, scheduling: { provisioningModel: 'SPOT' } }), true, `SPOT ${status}`);
      assert.equal(preempted({ status, scheduling: { preemptible: true } }), true, `preemptible ${status}`);
      assert.equal(preempted({ status, scheduling: { provisioningModel: 'STANDARD' } }), false, `STANDARD ${status}`);
    }
    assert.equal(preempted({ status: 'RUNNING', scheduling: { preemptible: true } }), false);
  });

  it('a get whose answer is not the record of the instance asked for (a proxy\'s page, another resource) fails', async () => {
    const answers: unknown[] = [{ kind: 'compute#operation', name: 'operation-1' }, {}, { name: 'arvados-1', status: 'RUNNING' }];
    const clients = { instances: { get: async () => [answers.shift()] }, operations: {} } as unknown as GceClients;
    const { params } = parseGceParams({ Project: 'p', Zone: 'us-central1-a' });
    const driver = new GceInstanceSet(params, { instanceSetId: 'set-1', cluster: gceCluster(), logger: silentLogger(), clock: systemClock }, { clients });
    await assert.rejects(driver.fetch('us-central1-a', 'arvados-1'), /not that instance's record/);
    await assert.rejects(driver.fetch('us-central1-a', 'arvados-1'), /not that instance's record/);
    assert.equal((await driver.fetch('us-central1-a', 'arvados-1')).status, 'RUNNING');
  });

  it('the instance set declares Compute Engine billing, per second with a one-minute minimum, and the dispatcher\'s wrapper passes it on', () => {
    const clients = { instances: {}, operations: {} } as unknown as GceClients;
    const { params } = parseGceParams({ Project: 'p', Zone: 'us-central1-a' });
    const driver = new GceInstanceSet(params, { instanceSetId: 'set-1', cluster: gceCluster(), logger: silentLogger(), clock: systemClock }, { clients });
    const wrapped = wrapInstanceSet(driver, { clock: systemClock, logger: silentLogger(), maxCloudOpsPerSecond: 0, resourceTags: {} });
    assert.deepEqual(wrapped.billingRule?.(N2), { incrementMs: 1000, minimumMs: 60_000 });
    // What those figures mean: 61.5 s is billed as 62 s, 10 s as a minute.
    assert.equal(billedMs(wrapped.billingRule!(N2)!, 61_500), 62_000);
    assert.equal(billedMs(wrapped.billingRule!(N2)!, 10_000), 60_000);
  });
});
