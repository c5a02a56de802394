/**
 * The on-demand types a preemptible container would run on instead, as the
 * spot fallback and the reclaim rules both ask for them: by the container's
 * own size, even when the queue gave two sizes one shared spot type list.
 */
import assert from 'node:assert/strict';
import type { Container } from '../../src/arvados/types.js';
import { OnDemandTypes } from '../../src/placement/on-demand.js';
import { chooseInstanceTypes } from '../../src/queue/instance-types.js';
import type { QueueEntry } from '../../src/scheduler/interfaces.js';
import { spotTypesCluster } from './spot-types.js';

const GiB = 1 << 30;

const cluster = spotTypesCluster();

function entry(uuid: string, ramGiB: number, spotTypes?: QueueEntry['instanceTypes']): QueueEntry {
  const container = {
    uuid,
    state: 'Queued',
    priority: 1,
    created_at: '2026-01-01T00:00:00Z',
    container_image: 'img',
    runtime_constraints: { vcpus: 1, ram: ramGiB * GiB },
    scheduling_parameters: { preemptible: true },
    mounts: {},
  } as unknown as Container;
  const instanceTypes = spotTypes ?? chooseInstanceTypes(cluster, container);
  return { container, instanceTypes, instanceResources: { vcpus: 1, ram: ramGiB * GiB, scratch: 0, gpus: 0, gpuVRAM: 0 }, firstSeenAt: 0 };
}

describe('OnDemandTypes', () => {
  it('gives the on-demand types of the container\'s own size, cheapest first', () => {
    const types = new OnDemandTypes(cluster);
    assert.deepEqual(types.of(entry('a', 1)).map((t) => t.Name), ['c5.large', 'm5.large', 'r5.large']);
    assert.deepEqual(types.of(entry('b', 6)).map((t) => t.Name), ['m5.large', 'r5.large']);
  });

  it('answers two sizes that share one spot type list each by its own size', () => {
    const types = new OnDemandTypes(cluster);
    const small = entry('a', 1);
    const big = entry('b', 6, small.instanceTypes);
    assert.ok(types.of(small).some((t) => t.Name === 'c5.large'));
    assert.ok(!types.of(big).some((t) => t.Name === 'c5.large'), 'a 6 GiB container never gets a 4 GiB type');
  });

  it('is empty when no on-demand type fits', () => {
    assert.deepEqual(new OnDemandTypes(cluster).of(entry('huge', 64, [])), []);
  });
});
