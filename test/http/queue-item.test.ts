/**
 * What the management API adds to a queue item beyond the reference's
 * fields: the blocker (with its summary), the estimate, and, with the
 * settings file's SchedulingStatus.AppendEstimate, the estimate as a
 * sentence after the reference's scheduling_status.
 */
import assert from 'node:assert/strict';
import { queueEntJSON } from '../../src/http/format.js';
import type { Blocker } from '../../src/scheduler/blocker.js';
import { FakeQueue, testCluster } from '../scheduler/fakes.js';
import { ManualClock } from '../../src/clock/index.js';

const NOW = Date.parse('2026-12-04T10:00:00Z');
const MIN = 60_000;

function entry() {
  const q = new FakeQueue(new ManualClock(NOW), testCluster());
  q.add({ uuid: 'zzzzz-dz642-000000000000001', priority: 5, state: 'Locked' });
  return q.map.get('zzzzz-dz642-000000000000001')!;
}

const STATUS = 'Waiting in queue at position 2.  Cluster is at capacity and cannot start any new instances right now.';
const waiting: Blocker = { reason: 'cluster_capacity', position: 2 };
const estimate = { startLow: NOW + 4 * MIN, startTypical: NOW + 6 * MIN, startHigh: NOW + 9 * MIN, at: NOW - 1000 };

describe('management API queue items: our fields', () => {
  it('the reference fields alone when there is nothing to add', () => {
    const j = queueEntJSON(entry(), STATUS);
    // In the order of the reference's QueueEnt.
    assert.deepEqual(Object.keys(j), ['container', 'instance_resources', 'instance_types', 'first_seen_at', 'scheduling_status']);
    assert.equal(j.scheduling_status, STATUS);
  });

  it('the blocker with its summary, and the estimate as times; the status text unchanged by default', () => {
    const j = queueEntJSON(entry(), STATUS, { blocker: waiting, estimate });
    assert.deepEqual(j.blocker, { reason: 'cluster_capacity', position: 2, summary: 'waiting for room on the cluster' });
    assert.deepEqual(j.estimate, {
      start_low: '2026-12-04T10:04:00Z',
      start_typical: '2026-12-04T10:06:00Z',
      start_high: '2026-12-04T10:09:00Z',
      as_of: '2026-12-04T09:59:59Z',
    });
    assert.equal(j.scheduling_status, STATUS, "the reference's text, exactly");
  });

  it('with AppendEstimate, the estimate follows the status as a sentence', () => {
    const j = queueEntJSON(entry(), STATUS, { blocker: waiting, estimate, appendEstimateAt: NOW });
    assert.equal(j.scheduling_status, `${STATUS}  Estimated start in 4-9 minutes.`);
  });

  it('no estimate for a container handed to crunch-run, or one that can never start', () => {
    const preparing = queueEntJSON(entry(), 'Container is allocated to an instance and preparing to run.', {
      blocker: { reason: 'preparing', instance: 'i-1' },
      estimate,
      appendEstimateAt: NOW,
    });
    assert.equal(preparing.estimate, undefined);
    assert.equal(preparing.scheduling_status, 'Container is allocated to an instance and preparing to run.');
    const never = queueEntJSON(entry(), STATUS, { blocker: waiting, estimate: { ...estimate, startHigh: Infinity }, appendEstimateAt: NOW });
    assert.equal(never.estimate, undefined);
    assert.equal(never.scheduling_status, STATUS);
  });

  it('the suggestions of a waiting container, none for one not waiting or with an empty list', () => {
    const suggestions = [{ change: 'MaxInstances 11 (+1)', effect: 'would start it in ~2 min instead of ~40 min' }];
    assert.deepEqual(queueEntJSON(entry(), STATUS, { blocker: waiting, suggestions }).suggestions, suggestions);
    assert.equal('suggestions' in queueEntJSON(entry(), STATUS, { suggestions }), false);
    assert.equal('suggestions' in queueEntJSON(entry(), STATUS, { blocker: waiting, suggestions: [] }), false);
  });

  it("instance_resources in the reference's field names, GPU memory per device included", () => {
    const e = entry();
    const j = queueEntJSON({ ...e, instanceResources: { vcpus: 4, ram: 2 ** 33, scratch: 2 ** 34, gpus: 2, gpuVRAM: 2 ** 34 } }, STATUS);
    assert.deepEqual(j.instance_resources, { VCPUs: 4, RAM: 2 ** 33, Scratch: 2 ** 34, GPUs: 2, GPUVRAM: 2 ** 34 });
  });

  it('the cost so far, to a hundredth of a cent; a cost of 0 is shown, none when unknown', () => {
    assert.equal(queueEntJSON(entry(), STATUS, { cost: 0.123456 }).cost, 0.1235);
    assert.equal(queueEntJSON(entry(), STATUS, { cost: 0 }).cost, 0);
    assert.equal('cost' in queueEntJSON(entry(), STATUS, { cost: undefined }), false);
  });
});
