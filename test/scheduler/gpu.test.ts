/**
 * GPU containers and packing, as the reference does it: the VRAM a
 * container asks for is taken from the instance's, so VRAM-asking GPU
 * containers do not share an instance (crunch-run would give each of them
 * device 0), while GPU containers that ask for no VRAM, and CPU-only
 * containers, pack by what is left.
 */
import assert from 'node:assert/strict';
import type { Container } from '../../src/arvados/types.js';
import { loadConfigText } from '../../src/config/index.js';
import { Interner } from '../../src/queue/interner.js';
import { chooseInstanceTypes, instanceResourcesNeeded } from '../../src/queue/instance-types.js';
import { fits, minus, plus, resourcesOfType } from '../../src/scheduler/resources.js';
import { GiB, harness, uuid, type Harness } from './harness.js';

/** One type: 16 VCPUs, 64 GiB, four 16 GiB CUDA devices. */
const CLUSTER = loadConfigText(`Clusters:
  zzzzz:
    Containers: {ReserveExtraRAM: 0, LocalKeepBlobBuffersPerVCPU: 0}
    InstanceTypes:
      gpu4: {VCPUs: 16, RAM: 64GiB, Price: 4, GPU: {Stack: cuda, DriverVersion: "12.0", HardwareTarget: "8.0", DeviceCount: 4, VRAM: 16GiB}}
`).cluster;

/** Adds Locked 1-VCPU/1-GiB containers asking for one CUDA device with `vramGiB` each, as the queue would list them. */
function addGPUContainers(h: Harness, vramGiB: number, ...ids: number[]): void {
  const interner = new Interner();
  for (const i of ids) {
    const container: Container = {
      uuid: uuid(i),
      state: 'Locked',
      priority: 10 - i,
      runtime_constraints: { vcpus: 1, ram: GiB, gpu: { stack: 'cuda', driver_version: '12.0', hardware_target: ['8.0'], device_count: 1, vram: vramGiB * GiB } },
      scheduling_parameters: {},
      container_image: 'd41d8cd98f00b204e9800998ecf8427e+0',
      created_at: '2026-01-01T00:00:00.000000000Z',
    };
    // Set before the first pass reads the queue: the fake takes its snapshot then.
    h.queue.map.set(container.uuid, {
      container,
      instanceTypes: interner.types(chooseInstanceTypes(CLUSTER, container)),
      instanceResources: interner.resources(instanceResourcesNeeded(CLUSTER, container)),
      firstSeenAt: i,
    });
  }
}

describe('scheduler: GPU instances', () => {
  it('a VRAM-requesting container consumes the instance\'s VRAM: a second one gets a new instance', () => {
    const h = harness(CLUSTER);
    addGPUContainers(h, 16, 1, 2);
    h.sch.runQueue();
    assert.deepEqual(h.pool.creates, ['gpu4', 'gpu4']);
  });

  it('fills an idle multi-GPU instance only up to its VRAM, whatever devices it has left', () => {
    const h = harness(CLUSTER);
    addGPUContainers(h, 8, 1, 2, 3);
    const idle = h.pool.addWorker(CLUSTER.InstanceTypes.gpu4);
    h.sch.runQueue();
    // 8 GiB each of the instance's 16: two fit, the third waits for another instance.
    assert.deepEqual(h.pool.workers.get(idle)!.runningContainerUUIDs, [uuid(1), uuid(2)]);
    assert.deepEqual(h.pool.creates, ['gpu4']);
  });

  it('GPU containers that ask for no VRAM share an instance while it has devices left', () => {
    const h = harness(CLUSTER);
    addGPUContainers(h, 0, 1, 2, 3, 4, 5);
    h.sch.runQueue();
    assert.deepEqual(h.pool.creates, ['gpu4', 'gpu4']);
  });

  it('takes VRAM away with each allocation, and checks it even for a charge without devices', () => {
    const free = resourcesOfType(CLUSTER.InstanceTypes.gpu4);
    const charge = { vcpus: 1, ram: GiB, scratch: 0, gpus: 1, gpuVRAM: 12 * GiB };
    const left = minus(free, charge);
    assert.deepEqual([left.gpus, left.gpuVRAM], [3, 4 * GiB]);
    assert.equal(fits(left, charge), false);
    assert.equal(fits(left, { ...charge, gpus: 0 }), false);
    assert.equal(fits(left, { ...charge, gpuVRAM: 4 * GiB }), true);
  });

  it('gives a charge back whole, VRAM and devices included', () => {
    const free = resourcesOfType(CLUSTER.InstanceTypes.gpu4);
    const charge = { vcpus: 1, ram: GiB, scratch: 3, gpus: 1, gpuVRAM: 12 * GiB };
    assert.deepEqual(plus(minus(free, charge), charge), free);
  });
});
