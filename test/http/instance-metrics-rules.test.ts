/**
 * Rules of the reference's instance and queue metrics that the end-to-end
 * metrics tests leave unpinned (found by mutation testing, round 5): which
 * category a VM counts in, and which series stay at 0 rather than vanish.
 */
import assert from 'node:assert/strict';
import { instanceCategory } from '../../src/http/metrics.js';
import type { WorkerDetail } from '../../src/worker/pool.js';


const worker = (w: Partial<WorkerDetail>): WorkerDetail =>
  ({ runningContainerUUIDs: [], idleBehavior: 'run', workerState: 'idle', arvadosInstanceType: 'small', price: 0.1, ...w }) as unknown as WorkerDetail;

describe('instance and queue metrics: the reference\'s rules', () => {
  it('counts a held VM that still runs a container as inuse, not hold, as the reference\'s precedence does', () => {
    assert.equal(instanceCategory(worker({ runningContainerUUIDs: ['zzzzz-dz642-000000000000001'], idleBehavior: 'hold', workerState: 'running' })), 'inuse');
    assert.equal(instanceCategory(worker({ idleBehavior: 'hold' })), 'hold');
  });
});
