/** GceInstance and `preempted`, from object-literal records (no Compute endpoint). */
import assert from 'node:assert/strict';
import { preempted } from '../../../drivers/gce/instance.js';

describe('gce instance records', () => {
  it('a Spot VM, or a legacy preemptible one, that is stopping, stopped or being torn down is preempted; a standard VM never is', () => {
    for (const status of ['STOPPING', 'TERMINATED', 'DEPROVISIONING']) {
      assert.equal(preempted({ status, scheduling: { provisioningModel: 'SPOT' } }), true, `SPOT ${status}`);
      assert.equal(preempted({ status, scheduling: { preemptible: true } }), true, `preemptible ${status}`);
      assert.equal(preempted({ status, scheduling: { provisioningModel: 'STANDARD' } }), false, `STANDARD ${status}`);
    }
    assert.equal(preempted({ status: 'RUNNING', scheduling: { preemptible: true } }), false);
  });
});
